#!/usr/bin/env bash
# Builds web/ into web/dist when its sources changed: npm ci from the lock file when
# node_modules is missing or older than the lock, then the Vite build.
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v npm >/dev/null 2>&1; then
  echo "npm is needed to build the web page: apt-get install -y nodejs npm" >&2
  exit 1
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
stamp=dist/.build-stamp
if [ -f "$stamp" ] && [ -z "$(find src e2e index.html playground.html vite.config.ts tsconfig.json package-lock.json ../schema.graphql -newer "$stamp" 2>/dev/null | head -1)" ]; then
  echo "web/dist is up to date"
  exit 0
fi
npm run build
touch "$stamp"
