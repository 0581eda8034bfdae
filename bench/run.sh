#!/usr/bin/env bash
# Benchmarks mws against the official Modal CLI (modal==1.6.4 in .venv), on
# one machine, against the same emulator data. One command:
#   bench/run.sh            # a few minutes; writes bench/results/<date>-<commit>.{md,json}
# Knobs: BENCH_QUICK=1 (fewer repetitions). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/modal ]; then
  python3 -m venv .venv && .venv/bin/pip install -q modal==1.6.4
fi
cargo build --release -q -p mws -p mwsd -p mws-emulator -p mws-bench
exec python3 bench/bench.py "$@"
