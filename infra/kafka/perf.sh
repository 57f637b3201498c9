#!/usr/bin/env bash
# Baseline producer throughput of the local broker with Kafka's own perf tool
# (org.apache.kafka.tools.ProducerPerformance): RECORDS records of SIZE bytes, as fast as possible.
#   infra/kafka/perf.sh                 # 1,000,000 x 200 B into topic bench.producer-perf (2 partitions)
#   RECORDS=100000 SIZE=500 PARTITIONS=1 infra/kafka/perf.sh [--bootstrap H:P] [linger.ms=20 ...]
# Extra args are producer properties (after acks=all, which they may override).
# The topic is created if missing (and kept: delete it with TopicCommand --delete if wanted).
set -euo pipefail
source "$(dirname "$0")/_common.sh"
need_jars
bs="$(bootstrap)"
if [[ "${1:-}" == "--bootstrap" ]]; then bs="$2"; shift 2; fi
case "$bs" in 127.0.0.1:*|localhost:*) ;; *) echo "perf: loopback brokers only, not $bs" >&2; exit 2 ;; esac
topic="${TOPIC:-bench.producer-perf}"
"$kafka_dir/run-class.sh" org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" \
    --create --if-not-exists --topic "$topic" --partitions "${PARTITIONS:-2}" --replication-factor 1 >/dev/null
set -x
KAFKA_HEAP="${KAFKA_HEAP:-1g}" "$kafka_dir/run-class.sh" org.apache.kafka.tools.ProducerPerformance \
    --bootstrap-server "$bs" --topic "$topic" \
    --num-records "${RECORDS:-1000000}" --record-size "${SIZE:-200}" --throughput -1 \
    --command-property acks=all "$@"
