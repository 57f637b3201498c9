#!/usr/bin/env bash
# Start the local single-node Kafka broker (KRaft) in the background; wait until it is ready.
# Safe to repeat. Port from PULSE_KAFKA__BOOTSTRAP (default 127.0.0.1:9092) or --random-port;
# data in PULSE_KAFKA__DATA_DIR (default .pulse/kafka). Extra args: see `start --help`.
set -euo pipefail
source "$(dirname "$0")/_common.sh"
need_python
need_jars
cd "$root"
exec "$py" -m pipelines kafka start "$@"
