#!/usr/bin/env bash
# Installs what Sandkasse needs beside the Rust toolchain: ONNX Runtime 1.31.1, from the PyPI
# wheel `onnxruntime==1.31.1`, into the project's own Python environment `.venv`. Sandkasse
# finds `libonnxruntime.so.1.31.1` there by itself (or wherever ORT_DYLIB_PATH points).
# Idempotent and quick when already done. The test command and CI call this too, so what
# they prove is what a user gets.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/python ]]; then python3 -m venv .venv; fi
if ! .venv/bin/python -c 'import onnxruntime, sys; sys.exit(onnxruntime.__version__ != "1.31.1")' 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check "onnxruntime==1.31.1"
fi
lib=$(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1 2>/dev/null | head -1)
if [[ -z "$lib" ]]; then
  echo "setup: onnxruntime 1.31.1 installed, but libonnxruntime.so.1.31.1 is missing from the wheel" >&2
  exit 1
fi
echo "setup: ONNX Runtime 1.31.1 at $lib"
