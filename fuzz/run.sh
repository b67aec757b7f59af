#!/usr/bin/env bash
# Runs the cargo-fuzz targets one after the other, each for a time limit.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     # default: 300 s, every target
#   fuzz/run.sh 60 cseg_decode_u32                   # one target for a minute
#
# The stable toolchain runs cargo fuzz's nightly flags (-Zsanitizer=address) with
# RUSTC_BOOTSTRAP=1. Each target reads the committed seeds in fuzz/corpus/<target>/ and grows its
# own corpus in fuzz/work/<target>/ (ignored by git), so the committed corpus stays small. A crash
# leaves its input in fuzz/artifacts/<target>/; replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -O <target> fuzz/artifacts/<target>/<file>
# then turn it into a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(raw_decode cseg_decode_u32 cseg_decode_u64 round_trip shard_index gzip_decompress
        jpeg_decode png_decode compresso_decode)
fi

export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

failed=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/work/$target"
    echo "== $target: ${seconds}s"
    # -timeout: an input that takes 10 s is a hang (decode must be linear in its output).
    # -rss_limit_mb: the targets allocate at most a 2^18-value output per input.
    cargo fuzz run -O "$target" "fuzz/work/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ||
        failed+=("$target")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
