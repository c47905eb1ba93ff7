"""tritonclient.http against a running `sandkasse serve`, as a vendor's client would use it, with
its answers compared to ONNX Runtime's Python API on the same rows.

Driven by tests/kserve.rs (tritonclient_speaks_to_the_server_and_agrees_with_onnxruntime), which
starts the server, uploads the sample model and generates the rows:

    .venv/bin/python tests/api/tritonclient_roundtrip.py --url 127.0.0.1:PORT --token TOKEN \
        --model MODEL_ID --stem unemployment-logreg --rows rows.parquet

What it checks, each through tritonclient's own calls (no hand-made HTTP):
  * the server is live and ready, and its metadata lists the `binary_tensor_data` extension;
  * the model's metadata names the manifest's columns;
  * JSON inputs and JSON outputs; binary inputs and binary outputs; binary with gzip and with
    deflate request compression and compressed answers: every answer's labels equal ONNX
    Runtime's, its probabilities within 1e-6;
  * refusals arrive as tritonclient's InferenceServerException carrying the server's message
    (a missing input, an unknown model, the model repository extension the server lacks).

Prints one JSON line of figures; exits non-zero with the first difference otherwise.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.parquet as pq
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "models"))
import common  # noqa: E402  (models/common.py: tensors from a manifest, as the references are made)

TOLERANCE = 1e-6


def fail(message):
    print(f"tritonclient_roundtrip: {message}", file=sys.stderr)
    sys.exit(1)


def column(table, name, datatype):
    """A scenario column as the protocol tensor the server's metadata asks for: strings for
    BYTES, else float64 numbers (booleans 0/1), sent as FP64 so no digit is lost on the way."""
    col = table.column(name)
    if datatype == "BYTES":
        if pa.types.is_dictionary(col.type):
            col = col.cast(pa.string())
        return np.array(col.to_pylist(), dtype=object), "BYTES"
    if pa.types.is_boolean(col.type):
        return np.array(col.to_pylist(), dtype=bool).astype(np.float64), "FP64"
    return col.to_numpy().astype(np.float64), "FP64"


def inputs(table, metadata, binary, drop=None):
    out = []
    for meta in metadata["inputs"]:
        if meta["name"] == drop:
            continue
        values, datatype = column(table, meta["name"], meta["datatype"])
        t = httpclient.InferInput(meta["name"], list(values.shape), datatype)
        t.set_data_from_numpy(values, binary_data=binary)
        out.append(t)
    return out


def reference(stem, table):
    manifest = common.read_manifest(os.path.join(REPO, "models", f"{stem}.toml"))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(
        os.path.join(REPO, "models", f"{stem}.onnx"), opts, providers=["CPUExecutionProvider"]
    )
    out = manifest["output"]
    label, prob = sess.run([out["label"], out["probability"]], common.build_inputs(table, manifest))
    return np.asarray(label).astype(np.int64), common.positive_probability(prob, out["positive_class"])


def compare(what, result, want_label, want_prob, binary):
    for name in ("label", "probability"):
        o = result.get_output(name)
        if o is None:
            fail(f"{what}: no output {name}: {result.get_response()}")
        has_binary = "binary_data_size" in (o.get("parameters") or {})
        if has_binary != binary:
            fail(f"{what}: output {name} binary={has_binary}, asked for binary={binary}: {o}")
    label = result.as_numpy("label")
    prob = result.as_numpy("probability")
    if label.dtype != np.int64 or prob.dtype != np.float32:
        fail(f"{what}: datatypes {label.dtype}, {prob.dtype}; expected int64 and float32")
    if not np.array_equal(label, want_label):
        bad = int(np.argmax(label != want_label))
        fail(f"{what}: label of row {bad} is {label[bad]}, ONNX Runtime says {want_label[bad]}")
    worst = float(np.max(np.abs(prob.astype(np.float64) - want_prob.astype(np.float64))))
    if worst > TOLERANCE:
        fail(f"{what}: probabilities differ from ONNX Runtime by up to {worst}")
    return worst


def expect_refusal(what, call, status, needle):
    try:
        call()
    except InferenceServerException as e:
        if e.status() != status or needle not in (e.message() or ""):
            fail(f"{what}: got status {e.status()} message {e.message()!r}; expected {status} with {needle!r}")
        return e.message()
    fail(f"{what}: no InferenceServerException")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True, help="host:port")
    p.add_argument("--token", required=True)
    p.add_argument("--model", required=True, help="the uploaded model's id")
    p.add_argument("--stem", required=True, help="its files under models/")
    p.add_argument("--rows", required=True, help="a Parquet file of scenario rows")
    a = p.parse_args()
    # A fresh dict per call: tritonclient's infer() writes its own headers (the JSON header's
    # length, the codings) into the dict it is given, which would leak into the next call.
    auth = {"Authorization": f"Bearer {a.token}"}
    table = pq.read_table(a.rows)
    want_label, want_prob = reference(a.stem, table)

    client = httpclient.InferenceServerClient(url=a.url, network_timeout=120.0)
    if not client.is_server_live() or not client.is_server_ready():
        fail("the server is not live and ready")
    server = client.get_server_metadata()
    if "binary_tensor_data" not in server.get("extensions", []):
        fail(f"server metadata lists no binary_tensor_data: {server}")
    metadata = client.get_model_metadata(a.model, headers=dict(auth))
    if not client.is_model_ready(a.model, headers=dict(auth)):
        fail("the model is not ready")

    figures = {"rows": table.num_rows}
    started = time.perf_counter()
    # JSON both ways: every output named, none binary.
    json_out = [httpclient.InferRequestedOutput(n, binary_data=False) for n in ("label", "probability")]
    r = client.infer(a.model, inputs(table, metadata, binary=False), outputs=json_out, headers=dict(auth))
    figures["json_worst"] = compare("JSON", r, want_label, want_prob, binary=False)
    # Binary both ways: tritonclient asks for binary_data_output when no outputs are named.
    r = client.infer(a.model, inputs(table, metadata, binary=True), headers=dict(auth))
    figures["binary_worst"] = compare("binary", r, want_label, want_prob, binary=True)
    # Binary outputs asked for one by one, with JSON inputs.
    bin_out = [httpclient.InferRequestedOutput(n, binary_data=True) for n in ("label", "probability")]
    r = client.infer(a.model, inputs(table, metadata, binary=False), outputs=bin_out, headers=dict(auth))
    compare("JSON in, binary out", r, want_label, want_prob, binary=True)
    for algorithm in ("gzip", "deflate"):
        r = client.infer(
            a.model,
            inputs(table, metadata, binary=True),
            headers=dict(auth),
            request_compression_algorithm=algorithm,
            response_compression_algorithm=algorithm,
        )
        figures[f"{algorithm}_worst"] = compare(algorithm, r, want_label, want_prob, binary=True)
    figures["seconds"] = round(time.perf_counter() - started, 3)

    missing = metadata["inputs"][0]["name"]
    figures["missing_input"] = expect_refusal(
        "a missing input",
        lambda: client.infer(a.model, inputs(table, metadata, binary=True, drop=missing), headers=dict(auth)),
        "400",
        f'input "{missing}" is missing',
    )
    figures["unknown_model"] = expect_refusal(
        "an unknown model",
        lambda: client.get_model_metadata("no-such-model", headers=dict(auth)),
        "404",
        "unknown model",
    )
    figures["no_token"] = expect_refusal(
        "no token",
        lambda: client.infer(a.model, inputs(table, metadata, binary=True)),
        "401",
        "Authorization",
    )
    figures["repository"] = expect_refusal(
        "the model repository",
        lambda: client.get_model_repository_index(headers=dict(auth)),
        "501",
        "model repository",
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
