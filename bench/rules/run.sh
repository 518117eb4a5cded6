#!/usr/bin/env bash
# bench/rules: 10,000 alerting rules over 100,000 series, one evaluation round on 2 threads
# (the issue's target: within a 15 s interval on 2 cores). Builds the bench target, runs it
# under `taskset -c 0,1` when available so it really gets 2 cores, prints the figures.
#   bench/rules/run.sh [--rules N] [--series N] [--threads N] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
cmake --build "$BUILD" -j2 --target kansoku_rules_bench >/dev/null
pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin=(taskset -c 0,1); fi
"${pin[@]}" "$BUILD/bench/rules/kansoku_rules_bench" "$@"
