# Sourced by infra/kafka/*.sh: repo root, python of the venv, Kafka jar folder.
# shellcheck shell=bash
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
kafka_dir="$root/infra/kafka"
py="${PYTHON:-$root/.venv/bin/python}"
jars="${PULSE_JARS_DIR:-$root/infra/target/jars}/kafka"

need_python() {
    [[ -x "$py" ]] || { echo "kafka: $py not found: run \`make setup\`" >&2; exit 1; }
}
need_jars() {
    compgen -G "$jars/kafka_2.13-*.jar" >/dev/null || {
        echo "kafka: broker jars not found in $jars: run \`make setup\` (infra/fetch-jars.sh)" >&2
        exit 1
    }
}
# host:port of the running local broker (broker.json), else PULSE_KAFKA__BOOTSTRAP, else default.
bootstrap() {
    local state="${PULSE_KAFKA__DATA_DIR:-$root/.pulse/kafka}/broker.json"
    if [[ -z "${PULSE_KAFKA__BOOTSTRAP:-}" && -f "$state" ]]; then
        sed -n 's/.*"bootstrap": "\([^"]*\)".*/\1/p' "$state"
    else
        echo "${PULSE_KAFKA__BOOTSTRAP:-127.0.0.1:9092}"
    fi
}
