#!/usr/bin/env bash
# Prints the path of a k6 binary: `k6` from PATH, else .local/bin/k6, else builds the pinned version
# from its Go module into .local/bin once (about two minutes cold). Build output goes to stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=v1.8.1
BIN="$ROOT/.local/bin/k6"

if command -v k6 >/dev/null 2>&1; then command -v k6; exit 0; fi
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
command -v go >/dev/null || { echo "[k6] k6 is not on PATH and go is not installed to build it" >&2; exit 1; }
echo "[k6] building k6 $VERSION into .local/bin (first run only)" >&2
mkdir -p "$ROOT/.local/bin"
# Build into a temporary folder so an interrupted build never leaves a half-written binary behind.
TMP="$(mktemp -d "$ROOT/.local/k6-build.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
GOBIN="$TMP" go install "go.k6.io/k6@$VERSION" >&2
mv "$TMP/k6" "$BIN"
echo "$BIN"
