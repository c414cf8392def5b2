#!/usr/bin/env bash
# The editor's checks: ESLint (with the rules of hooks), Prettier's formatting, then the unit
# tests (Vitest): the connection rule, undo/redo, paste, layout, the store.
set -euo pipefail
cd "$(dirname "$0")/../editor"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# The TypeScript API types must be generated from the checked-in OpenAPI document (pytest checks
# that the document itself is current).
if ! npm run --silent check:api >/dev/null 2>&1; then
  echo "test-editor: editor/src/api/openapi.ts is stale: run make api-snapshot and commit it" >&2
  exit 1
fi
npx --no-install eslint --max-warnings 0 .
npx --no-install prettier --check . >/dev/null || {
  echo "test-editor: formatting differs from Prettier's: run (cd editor && npm run format)" >&2
  exit 1
}
npx --no-install vitest run
