#!/usr/bin/env bash
# Installs Debian packages without recommends (through sudo when not root): the ensure-* scripts' one way
# of fetching a tool that is missing on a fresh machine.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
