#!/usr/bin/env bash
# Makes `docker compose config` available without a Docker engine: uses the Docker CLI's compose
# plugin when present, else builds Compose v2 from its Go module once into .local/bin.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=v2.29.7
BIN="$ROOT/.local/bin/docker-compose"

if docker compose version >/dev/null 2>&1; then exit 0; fi
if [ -x "$BIN" ] && "$BIN" version 2>/dev/null | grep -q "${VERSION#v}\|dev"; then exit 0; fi
command -v go >/dev/null || { echo "[compose] neither docker compose nor go is available" >&2; exit 1; }
echo "[compose] building docker compose $VERSION into .local/bin (first run only)"
mkdir -p "$ROOT/.local/bin"
GOBIN="$ROOT/.local/bin.tmp" go install "github.com/docker/compose/v2/cmd@$VERSION"
mv "$ROOT/.local/bin.tmp/cmd" "$BIN"
rmdir "$ROOT/.local/bin.tmp"
