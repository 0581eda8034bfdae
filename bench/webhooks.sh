#!/usr/bin/env bash
# Webhook delivery figures (bench/webhooks.py): event-to-receiver latency and
# how fast a backlog drains, release build. Not part of CI.
#   bench/webhooks.sh      # about a minute
# Knobs: BENCH_WEBHOOK_EVENTS (50), BENCH_WEBHOOK_BACKLOG (200),
# BENCH_WEBHOOK_STUCK (100000; 0 skips that scenario).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv && .venv/bin/pip install -q modal==1.6.4
fi
cargo build --release -q -p mws -p mwsd -p mws-emulator -p mws-plugin-webhook -p mws-plugin-csv
exec python3 bench/webhooks.py "$@"
