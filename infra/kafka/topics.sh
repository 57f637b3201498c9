#!/usr/bin/env bash
# Create the pulse topics that do not exist yet (idempotent; see infra/kafka/TOPICS.md).
#   infra/kafka/topics.sh [--bootstrap H:P] [--partitions 2] [--results-partitions 1]
# Default bootstrap: the running local broker, else PULSE_KAFKA__BOOTSTRAP, else 127.0.0.1:9092.
set -euo pipefail
source "$(dirname "$0")/_common.sh"
need_python
cd "$root"
exec "$py" -m pipelines kafka topics "$@"
