#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's headless browser test when /usr/bin/chromium is
# missing (a fresh machine or CI). Idempotent: does nothing when chromium is already there.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then exit 0; fi
echo "[chromium] $CHROMIUM missing; installing Debian's chromium"
"$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" chromium
[ -x "$CHROMIUM" ] || { echo "[chromium] install finished but $CHROMIUM is still missing" >&2; exit 1; }
echo "[chromium] $("$CHROMIUM" --version 2>/dev/null || echo installed)"
