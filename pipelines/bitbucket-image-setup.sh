#!/usr/bin/env bash
# Bitbucket steps run in python:3.13-slim-trixie; this adds what the make targets need besides
# Python: make and git, Java for DynamoDB Local, Node.js and npm for the local npm tools.
# A team with its own build image can bake these in and drop this line from the steps.
set -euo pipefail

missing=()
command -v make >/dev/null 2>&1 || missing+=(make)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v java >/dev/null 2>&1 || missing+=(openjdk-21-jre-headless)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "python $(python3 --version 2>&1 | cut -d' ' -f2), $(java -version 2>&1 | head -n1), node $(node --version), make $(make --version | head -n1 | cut -d' ' -f3)"
