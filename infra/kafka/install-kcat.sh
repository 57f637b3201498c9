#!/usr/bin/env bash
# Install kcat (librdkafka's command-line producer/consumer, Debian's `kcat` package) if it is
# not on PATH yet: the delivery tests produce with it, as users do. Idempotent; needs root (or
# sudo) for apt-get.
set -euo pipefail

if command -v kcat >/dev/null 2>&1; then
  echo "kcat: $(kcat -V 2>&1 | head -n 1)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-kcat: need root or sudo for apt-get" >&2; exit 1; }
  SUDO="sudo"
fi
command -v apt-get >/dev/null 2>&1 || { echo "install-kcat: no apt-get here; install kcat by hand" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends kcat >/dev/null
command -v kcat >/dev/null 2>&1 || { echo "install-kcat: kcat still missing" >&2; exit 1; }
echo "kcat: $(kcat -V 2>&1 | head -n 1) (installed from Debian's kcat package)"
