#!/bin/sh
# Entry point of the pulse/faust-jobs image: which job this container runs.
set -eu
job="${1:-}"
[ "$#" -gt 0 ] && shift
case "$job" in
  ingest) exec python -m jobs.faust_ingest worker --without-web -l info "$@" ;;
  loader) exec python -m jobs.faust_loader worker --without-web -l info "$@" ;;
  migrate) exec python -m pipelines migrate "$@" ;;
  *)
    echo "usage: pulse-job ingest|loader|migrate [ARGS...] (got '${job}')" >&2
    exit 64
    ;;
esac
