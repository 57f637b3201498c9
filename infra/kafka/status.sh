#!/usr/bin/env bash
# Print whether the local Kafka broker runs (exit 0) or not (exit 1).
set -euo pipefail
source "$(dirname "$0")/_common.sh"
need_python
cd "$root"
exec "$py" -m pipelines kafka status "$@"
