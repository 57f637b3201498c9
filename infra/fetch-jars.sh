#!/usr/bin/env bash
# Resolve the jars listed in infra/pom.xml from Maven Central into infra/target/jars/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v mvn >/dev/null || { echo "fetch-jars: mvn not found (apt-get install maven)"; exit 1; }
mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$here/target/jars/flink" -DincludeScope=runtime
ls "$here/target/jars/flink"
