#!/usr/bin/env bash
# The editor's unit tests (Vitest): the connection rule, undo/redo, paste, layout, the store.
set -euo pipefail
cd "$(dirname "$0")/../editor"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npx --no-install vitest run
