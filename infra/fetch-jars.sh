#!/usr/bin/env bash
# Resolve the jars listed in infra/pom.xml from Maven Central into
#   infra/target/jars/flink/  (Flink SQL Kafka connector)
#   infra/target/jars/kafka/  (local KRaft broker + Kafka CLI tools + log4j2)
# Idempotent and quick: skipped when the jars of the current pom.xml are already there
# (stamp = sha256 of pom.xml). FORCE=1 re-resolves.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
jars="$here/target/jars"
stamp="$jars/.pom.sha256"
want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"

have_jars() { compgen -G "$jars/flink/*.jar" >/dev/null && compgen -G "$jars/kafka/kafka_2.13-*.jar" >/dev/null; }

if [[ "${FORCE:-0}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && have_jars; then
    echo "fetch-jars: up to date ($(du -sh "$jars" | cut -f1) in $jars)"
    exit 0
fi

command -v mvn >/dev/null || { echo "fetch-jars: mvn not found (apt-get install maven)" >&2; exit 1; }
command -v java >/dev/null || { echo "fetch-jars: java not found (Java 17+ is required)" >&2; exit 1; }

start=$(date +%s)
# A pom change may change versions: drop the old jars so two versions never share a classpath.
rm -rf "$jars/flink" "$jars/kafka" "$stamp"
mvn -q -B -f "$here/pom.xml" \
    dependency:copy-dependencies@flink-jars \
    dependency:copy-dependencies@kafka-jars
have_jars || { echo "fetch-jars: maven finished but jars are missing under $jars" >&2; exit 1; }
echo "$want" >"$stamp"
echo "fetch-jars: flink $(du -sh "$jars/flink" | cut -f1) ($(ls "$jars/flink" | wc -l) jars)," \
     "kafka $(du -sh "$jars/kafka" | cut -f1) ($(ls "$jars/kafka" | wc -l) jars) in $(( $(date +%s) - start ))s"
