"""Bytes at keys: where a dataset's files live. Knows nothing of volumes."""
