#!/usr/bin/env bash
# Run one of Kafka's Java tools from the fetched jars (what bin/kafka-run-class.sh does in a
# Kafka distribution), logging WARN+ to stderr. Examples:
#   infra/kafka/run-class.sh org.apache.kafka.tools.ConsoleProducer --bootstrap-server 127.0.0.1:9092 --topic raw.views
#   infra/kafka/run-class.sh org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server 127.0.0.1:9092 --topic clean.views --from-beginning
#   infra/kafka/run-class.sh org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:9092 --describe
#   infra/kafka/run-class.sh org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server 127.0.0.1:9092 --describe --all-groups
# KAFKA_HEAP (default 256m) and KAFKA_JVM_OPTS are honoured.
set -euo pipefail
source "$(dirname "$0")/_common.sh"
need_jars
[[ $# -ge 1 ]] || { echo "usage: $0 MAIN_CLASS [ARGS...]" >&2; exit 2; }
java_bin="java"
[[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]] && java_bin="$JAVA_HOME/bin/java"
# shellcheck disable=SC2086  # KAFKA_JVM_OPTS is a list of options
exec "$java_bin" "-Xmx${KAFKA_HEAP:-256m}" -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$kafka_dir/tools-log4j2.properties" ${KAFKA_JVM_OPTS:-} \
    -cp "$jars/*" "$@"
