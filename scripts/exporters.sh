#!/usr/bin/env bash
# Installs the exporters vendors use (scikit-learn with skl2onnx, XGBoost and LightGBM with
# onnxmltools, onnx) into their own environment `.venv-exporters`, at the exact versions of
# tests/exporters/requirements.txt, for tests/exporters.rs. Their own environment, because their
# pins (pandas 3, pyarrow 26) are not the API tools' (.venv). Idempotent and quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."
req=tests/exporters/requirements.txt
venv=.venv-exporters
if [[ ! -x $venv/bin/python ]]; then python3 -m venv "$venv"; fi
pinned_ok() { "$venv/bin/python" scripts/pinned.py "$req"; }
if ! pinned_ok; then
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  pinned_ok || { echo "exporters: installed, but a version still differs from $req" >&2; exit 1; }
fi
echo "exporters: $("$venv/bin/python" -c 'import sklearn, skl2onnx, xgboost, lightgbm, onnxmltools; print(f"scikit-learn {sklearn.__version__}, skl2onnx {skl2onnx.__version__}, xgboost {xgboost.__version__}, lightgbm {lightgbm.__version__}, onnxmltools {onnxmltools.__version__}")')"
