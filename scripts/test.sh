#!/usr/bin/env bash
# The README's test command: formatting, lints and every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
# ONNX Runtime 1.31.1 from its PyPI wheel, for the worker tests (idempotent).
bash scripts/setup.sh
# PostgreSQL for the store's second backend (its tests start their own cluster).
bash scripts/postgres.sh
# Headless Chromium and chromedriver for the browser test of the pages.
bash scripts/browser.sh
# schemathesis and openapi-python-client for the API conformance test (tests/openapi_conformance.rs).
bash scripts/apitools.sh
# scikit-learn, skl2onnx, XGBoost, LightGBM and onnxmltools for the vendor's-path test (tests/exporters.rs).
bash scripts/exporters.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
