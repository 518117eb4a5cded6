#!/usr/bin/env bash
# bench/logs: kansoku vs ripgrep vs ClickHouse in one run (see run.py for what is measured).
# Usage: bench/logs/run.sh [--events 7200000] [--reps 5] [--only kansoku,rg,clickhouse]
# Smoke: bench/logs/run.sh --events 200000 --reps 3
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps --bench
[[ -x build/release/kansoku ]] || { echo "build first: cmake --build build/release --target kansoku" >&2; exit 1; }
exec /usr/bin/python3 bench/logs/run.py "$@"
