#!/usr/bin/env bash
# Build the canvas editor into static/editor/, doing only the work that is out of date so that
# repeated `make dev` stays fast: `npm ci` when the lockfile changed, `vite build` when a source
# file is newer than the last build's manifest.
set -euo pipefail
cd "$(dirname "$0")/../editor"

manifest=../static/editor/.vite/manifest.json
installed=node_modules/.package-lock.json

if ! command -v npm >/dev/null; then
  echo "build-editor: npm is not installed (Node 20+ is needed to build the editor)" >&2
  exit 1
fi

if [ ! -f "$installed" ] || [ package-lock.json -nt "$installed" ]; then
  echo "build-editor: installing editor dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

newer_sources() {
  find src package.json package-lock.json tsconfig.json vite.config.ts -newer "$manifest" \
    -print -quit 2>/dev/null
}

if [ ! -f "$manifest" ] || [ -n "$(newer_sources)" ]; then
  echo "build-editor: building the editor"
  npm run build --silent
else
  echo "build-editor: the editor is up to date"
fi
