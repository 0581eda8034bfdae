#!/usr/bin/env bash
# Runs every test of mws on this machine: installs what the tests need (Debian
# packages, the official Modal client in .venv), then runs cargo's tests.
# Usage: scripts/test.sh [extra args for `cargo test`]
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dbus-daemon >/dev/null || need_apt+=(dbus)
command -v dbus-run-session >/dev/null || need_apt+=(dbus)
command -v gnome-keyring-daemon >/dev/null || need_apt+=(gnome-keyring)
command -v secret-tool >/dev/null || need_apt+=(libsecret-tools)
command -v keyctl >/dev/null || need_apt+=(keyutils)
command -v systemd-socket-activate >/dev/null || need_apt+=(systemd)
[ -d /usr/share/zoneinfo/Asia ] || need_apt+=(tzdata)
# examples/watch.mjs, the Node.js client, runs against a real daemon.
command -v node >/dev/null || need_apt+=(nodejs)
/usr/bin/python3 -c 'import dbusmock' 2>/dev/null || need_apt+=(python3-dbusmock)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing ${need_apt[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "test.sh: missing Debian packages: ${need_apt[*]} (install them as root)" >&2
    exit 1
  fi
fi

# The official Modal client, as a real peer of the emulator and of mws.
if [ ! -x .venv/bin/modal ]; then
  echo "test.sh: installing modal==1.6.4 into .venv" >&2
  python3 -m venv .venv
  .venv/bin/pip install -q modal==1.6.4
fi
# A real Prometheus text-format parser, for the metrics tests.
.venv/bin/python -c 'import prometheus_client' 2>/dev/null ||
  .venv/bin/pip install -q 'prometheus_client>=0.20'
# A real JSON Schema validator, for docs/ipc.schema.json (tests/tests/ipc_schema.rs).
.venv/bin/python -c 'import jsonschema' 2>/dev/null ||
  .venv/bin/pip install -q 'jsonschema>=4.18'
export MWS_MODAL_CLI="$PWD/.venv/bin/modal"
export MWS_MODAL_PYTHON="$PWD/.venv/bin/python"

# The end-to-end tests run the real binaries; build them all first.
cargo build --workspace
cargo test --workspace "$@"
