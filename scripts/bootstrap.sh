#!/usr/bin/env bash
# Installs the pinned pnpm (from package.json's packageManager) when missing, then the workspace's
# dependencies from the lockfile. Safe to run repeatedly: a warm run takes about a second.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

want="$(node -p "require('./package.json').packageManager.split('@')[1]")"
if ! command -v pnpm >/dev/null || [ "$(pnpm --version)" != "$want" ]; then
  echo "[bootstrap] installing pnpm $want"
  npm install -g --silent "pnpm@$want" >/dev/null
fi

stamp=node_modules/.sluice-lock.sha
current="$(cat pnpm-lock.yaml package.json apps/*/package.json packages/*/package.json | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$current" ]; then exit 0; fi
echo "[bootstrap] installing workspace dependencies"
if [ "${CI:-}" = "true" ]; then pnpm install --frozen-lockfile --reporter=append-only; else pnpm install --reporter=append-only; fi
echo "$current" >"$stamp"
