#!/usr/bin/env bash
# The benchmarks drive the API with Debian's wrk (B6) and hey (B3): load from outside Python,
# never the bottleneck.
set -euo pipefail
missing=()
for tool in wrk hey; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ "${#missing[@]}" = 0 ]; then exit 0; fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
