#!/usr/bin/env bash
# `make up`: broker + topics + ingest (if present) + Flink job + loader, in the background.
# Pid files and logs in .pulse/stack/ (PULSE_STACK__DIR). Safe to repeat.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
exec "${PYTHON:-$root/.venv/bin/python}" -m pipelines.streaming.stack up "$@"
