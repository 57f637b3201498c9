#!/usr/bin/env bash
# Install promtool (Prometheus' rule and config checker) if it is not on PATH yet.
# Debian's `prometheus` package ships it; --no-install-recommends keeps node-exporter out, and
# in containers policy-rc.d keeps the server from starting (nothing is started here either).
# Idempotent: a no-op when promtool is already installed. Needs root (or sudo) for apt-get.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  echo "promtool: $(promtool --version 2>&1 | head -n 1)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-promtool: need root or sudo for apt-get" >&2; exit 1; }
  SUDO="sudo"
fi
command -v apt-get >/dev/null 2>&1 || {
  echo "install-promtool: no apt-get here; install promtool (Prometheus 2.x) by hand" >&2
  exit 1
}

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v promtool >/dev/null 2>&1 || { echo "install-promtool: promtool still missing" >&2; exit 1; }
echo "promtool: $(promtool --version 2>&1 | head -n 1) (installed from Debian's prometheus package)"
