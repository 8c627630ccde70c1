#!/usr/bin/env bash
# Runs the cargo-fuzz targets of intake (issue 14) for a bounded time each;
# not part of CI. Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and
# a nightly toolchain; without one it uses the stable toolchain with
# RUSTC_BOOTSTRAP=1 (libFuzzer needs `-Z sanitizer` flags; that is how the
# recorded runs in the README were made, on rustc 1.95).
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
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    # NOTE: -entropic=0: with libFuzzer's default entropic schedule the
    # inspect target (123k coverage counters) spent 45 % of its time in
    # AddRareFeature and ran 23 execs/s; without it, 110 execs/s (perf
    # record, 2026-11-30, rustc 1.95 with RUSTC_BOOTSTRAP=1).
    "${fuzz[@]}" run -O "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -entropic=0 -print_final_stats=1
done
