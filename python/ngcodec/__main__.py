"""``python -m ngcodec``: the ``ngcodec`` command."""

import sys

from ngcodec.cli import main

sys.exit(main())
