#!/bin/sh
# Server-side speed of mws-emulator's two big listings:
# WorkspaceMembersList over 5,000 members and WebhookTokenList over 2,000 tokens.
# Release build; takes a few seconds once built. Sizes: BENCH_MEMBERS,
# BENCH_TOKENS, BENCH_CALLS. See emulator/benches/server.rs.
set -eu
cd "$(dirname "$0")/.."
exec cargo bench -p mws-emulator --bench server "$@"
