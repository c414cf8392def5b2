#!/usr/bin/env bash
# Benchmark B6 drives the API with Debian's wrk: load from outside Python, never the bottleneck.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then exit 0; fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq wrk >/dev/null
