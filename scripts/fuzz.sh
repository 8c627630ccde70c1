#!/usr/bin/env bash
# Runs the cargo-fuzz targets of intake (issue 14) for a bounded time each;
# not part of CI. Needs a nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo +nightly install cargo-fuzz --locked
# The corpus each target grows is kept in fuzz/corpus/TARGET (commit what is
# new); a crash lands in fuzz/artifacts/TARGET and must become a regression
# test (src/intake/*_tests or tests/intake_fuzz.rs) before it is fixed.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default: 60, all)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(inspect sanitize authres)
# Seed the parser's corpus with the hand-written one the first time.
if [ ! -d fuzz/corpus/inspect ]; then
    mkdir -p fuzz/corpus/inspect
    cp tests/corpus/*.eml fuzz/corpus/inspect/
fi
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536
done
