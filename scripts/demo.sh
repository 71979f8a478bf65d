#!/usr/bin/env bash
# Set up a virtualenv and start the demo: ccserver with its embedded defaults
# (SQLite under var/) and the built-in Asterisk simulator. Extra arguments go
# to `ccserver demo` (e.g. --duration 30, --http 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
exec .venv/bin/ccserver demo "$@"
