#!/usr/bin/env bash
# Gate steps only: adds what their make targets need besides the image's Python, make and git,
# from Debian's archive (apt checks every package against the archive's signed index):
#   java  Java for DynamoDB Local (make pytest, make check-infra)
#   node  Node.js and npm for the local npm tools and npm audit
# Steps that build the artifact or get cloud credentials never run this (their image has what
# they need; tools/security/check_pipelines.py enforces it). A team with its own build image can
# bake these in and drop this line from the steps.
set -euo pipefail

missing=()
for need in "$@"; do
  case "$need" in
    java) command -v java >/dev/null 2>&1 || missing+=(openjdk-21-jre-headless) ;;
    node) command -v node >/dev/null 2>&1 || missing+=(nodejs npm) ;;
    *) echo "error: unknown need '$need' (java, node)" >&2; exit 2 ;;
  esac
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "python $(python3 --version 2>&1 | cut -d' ' -f2), make $(make --version | head -n1 | cut -d' ' -f3)" \
  "$(command -v java >/dev/null && java -version 2>&1 | head -n1)" "$(command -v node >/dev/null && echo "node $(node --version)")"
