#!/usr/bin/env bash
# The recipe of this folder on loopback, without root or system services: N app servers
# (default 2) on a fresh schema of one PostgreSQL, the mail and webhook workers, and HAProxy
# with deploy/haproxy.cfg in front on a free port; it prints the address and the demo
# accounts, and stops everything (dropping the schema) on Ctrl-C. Options: --help.
#   deploy/run-local.sh [--servers 3] [--tls] [--postgres URL | --database-url URL]
# The same runner is tests/support/cluster.py's run_cluster, for the tests and benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-haproxy
PYTHON="${PYTHON:-.venv/bin/python}"
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" -m tests.support.cluster "$@"
