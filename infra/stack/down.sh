#!/usr/bin/env bash
# `make down`: stop ingest, Flink (checkpoint kept), then the loader (warehouse closed), then
# the broker. Safe to repeat.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
exec "${PYTHON:-$root/.venv/bin/python}" -m pipelines.streaming.stack down "$@"
