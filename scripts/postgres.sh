#!/usr/bin/env bash
# Installs PostgreSQL (Debian's package) for the store's PostgreSQL tests, which start and stop
# their own throwaway cluster. Idempotent and quick when already installed.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null; then
  exit 0
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq postgresql > /dev/null
compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null || { echo "postgres.sh: initdb missing after install" >&2; exit 1; }
echo "postgres.sh: $(ls -d /usr/lib/postgresql/*/bin | tail -1)"
