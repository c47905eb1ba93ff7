#!/usr/bin/env bash
# Installs the API conformance tools of tests/openapi_conformance.rs into the project's `.venv`
# (made by scripts/setup.sh): schemathesis and openapi-python-client, at the exact versions of
# tests/api/requirements.txt (dependencies included). Idempotent and quick when already done:
# pip runs only when an installed version differs from its pin.
set -euo pipefail
cd "$(dirname "$0")/.."
req=tests/api/requirements.txt
if [[ ! -x .venv/bin/python ]]; then
  echo "apitools: .venv is missing; run scripts/setup.sh first" >&2
  exit 1
fi
# Exit 0 when every pin of $req is installed at exactly its version.
pinned_ok() { .venv/bin/python scripts/pinned.py "$req"; }
if ! pinned_ok; then
  .venv/bin/pip install -q --disable-pip-version-check -r "$req"
  pinned_ok || { echo "apitools: installed, but a version still differs from $req" >&2; exit 1; }
fi
echo "apitools: $(.venv/bin/schemathesis --version 2>/dev/null | head -1), openapi-python-client $(.venv/bin/python -c 'from importlib.metadata import version; print(version("openapi-python-client"))')"
