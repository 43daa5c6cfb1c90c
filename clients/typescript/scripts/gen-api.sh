#!/bin/sh
# Regenerates src/schema.ts from the OpenAPI document the ingest serves (ingest.openapi, the builtin models):
# the one generated source of the API's types, for this package and the console that uses it.
# tests/console/test_frontend.py runs this and fails when the committed file differs.
set -eu
cd "$(dirname "$0")/.."
root="$(cd ../.. && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
doc="$(mktemp --suffix=.json)"
trap 'rm -f "$doc"' EXIT
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" "$python" -c \
  'import json, sys; from ingest.openapi import openapi_document; json.dump(openapi_document(), sys.stdout)' > "$doc"
npx --no-install openapi-typescript "$doc" --default-non-nullable=false -o "${1:-src/schema.ts}" >/dev/null
