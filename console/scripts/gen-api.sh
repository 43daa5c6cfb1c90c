#!/bin/sh
# Regenerates src/api/schema.d.ts from the OpenAPI document the ingest serves (ingest.openapi, the builtin
# models). tests/console/test_api_types.py runs this and fails when the committed file differs.
set -eu
cd "$(dirname "$0")/.."
python="${PYTHON:-../.venv/bin/python}"
doc="$(mktemp --suffix=.json)"
trap 'rm -f "$doc"' EXIT
PYTHONPATH="$(cd .. && pwd)${PYTHONPATH:+:$PYTHONPATH}" "$python" -c \
  'import json, sys; from ingest.openapi import openapi_document; json.dump(openapi_document(), sys.stdout)' > "$doc"
npx --no-install openapi-typescript "$doc" --default-non-nullable=false -o "${1:-src/api/schema.d.ts}" >/dev/null
