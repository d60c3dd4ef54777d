#!/usr/bin/env bash
# Installs Debian's wrk, bench-ingest's load generator, when it is not on PATH (a fresh machine).
# Idempotent: does nothing when wrk is already there.
set -euo pipefail
if command -v wrk >/dev/null; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "[wrk] missing, and this is not a Debian machine: install wrk (e.g. brew install wrk) and run again" >&2
  exit 1
fi
echo "[wrk] missing; installing Debian's wrk"
"$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" wrk
command -v wrk >/dev/null || { echo "[wrk] install finished but wrk is still not on PATH" >&2; exit 1; }
