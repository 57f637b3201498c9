#!/usr/bin/env bash
# Stop the local Kafka broker: SIGTERM, wait (--timeout, default 30 s), then SIGKILL. Safe to repeat.
set -euo pipefail
source "$(dirname "$0")/_common.sh"
need_python
cd "$root"
exec "$py" -m pipelines kafka stop "$@"
