#!/usr/bin/env bash
# Installs Debian's wrk, bench-ingest's load generator, when it is not on PATH (a fresh machine).
# Idempotent: does nothing when wrk is already there.
set -euo pipefail
if command -v wrk >/dev/null; then exit 0; fi
echo "[wrk] missing; installing Debian's wrk"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
command -v wrk >/dev/null || { echo "[wrk] install finished but wrk is still not on PATH" >&2; exit 1; }
