"""tritonclient.grpc against a running `sandkasse serve --grpc-bind`, as a vendor's client would use
it, with its answers compared to ONNX Runtime's Python API on the same rows.

Driven by tests/kserve.rs (tritonclient_grpc_speaks_to_the_server_and_agrees_with_onnxruntime),
which starts the server, uploads the sample model and generates the rows:

    .venv/bin/python tests/api/tritonclient_grpc_roundtrip.py --url 127.0.0.1:PORT --token TOKEN \
        --other-token TOKEN --model MODEL_ID --version 1.0 --stem unemployment-logreg --rows rows.parquet

What it checks, each through tritonclient's own calls (no hand-made protobuf except where noted):
  * the server is live and ready, and its metadata names it and the binary tensor extension;
  * the model's metadata names the manifest's columns with their datatypes; the model is ready;
  * raw inputs (FP64 numbers, BYTES categories; tritonclient always sends raw_input_contents):
    labels equal ONNX Runtime's, probabilities within 1e-6; the request id is echoed; one output
    asked for gives only that output; gzip and deflate requests; the model's own version;
  * typed `contents` (a ModelInferRequest built with tritonclient's generated messages and sent on
    its stub) give the same answer as raw bytes;
  * refusals arrive as InferenceServerException with the gRPC code and the server's message:
    no token and a wrong token (UNAUTHENTICATED), another organisation's model and a wrong version
    (NOT_FOUND), a missing input, raw bytes that do not fit the shape and an unknown output
    (INVALID_ARGUMENT), and an RPC the server does not implement (UNIMPLEMENTED).

Prints one JSON line of figures; exits non-zero with the first difference otherwise.
"""

import argparse
import json
import os
import sys
import time

import grpc
import numpy as np
import pyarrow.parquet as pq
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tritonclient_roundtrip import TOLERANCE, column, expect_refusal, reference  # noqa: E402  (the HTTP test's helpers)


def fail(message):
    print(f"tritonclient_grpc_roundtrip: {message}", file=sys.stderr)
    sys.exit(1)


def inputs(table, metadata, drop=None):
    out = []
    for meta in metadata.inputs:
        if meta.name == drop:
            continue
        values, datatype = column(table, meta.name, meta.datatype)
        t = grpcclient.InferInput(meta.name, list(values.shape), datatype)
        t.set_data_from_numpy(values)
        out.append(t)
    return out


def compare(what, result, want_label, want_prob, names=("label", "probability")):
    got = [o.name for o in result.get_response().outputs]
    if got != list(names):
        fail(f"{what}: outputs {got}, asked for {list(names)}")
    worst = 0.0
    if "label" in names:
        label = result.as_numpy("label")
        if label.dtype != np.int64:
            fail(f"{what}: label datatype {label.dtype}; expected int64")
        if not np.array_equal(label, want_label):
            bad = int(np.argmax(label != want_label))
            fail(f"{what}: label of row {bad} is {label[bad]}, ONNX Runtime says {want_label[bad]}")
    if "probability" in names:
        prob = result.as_numpy("probability")
        if prob.dtype != np.float32:
            fail(f"{what}: probability datatype {prob.dtype}; expected float32")
        worst = float(np.max(np.abs(prob.astype(np.float64) - want_prob.astype(np.float64))))
        if worst > TOLERANCE:
            fail(f"{what}: probabilities differ from ONNX Runtime by up to {worst}")
    return worst


def contents_request(model, table, metadata):
    """The rows as typed `contents` (fp64_contents, bytes_contents) rather than raw bytes."""
    req = service_pb2.ModelInferRequest(model_name=model, id="typed")
    for meta in metadata.inputs:
        values, datatype = column(table, meta.name, meta.datatype)
        t = req.inputs.add(name=meta.name, datatype=datatype, shape=list(values.shape))
        if datatype == "BYTES":
            t.contents.bytes_contents.extend(v.encode() for v in values)
        else:
            t.contents.fp64_contents.extend(float(v) for v in values)
    return req


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True, help="host:port of the gRPC service")
    p.add_argument("--token", required=True)
    p.add_argument("--other-token", required=True, help="a user of another organisation")
    p.add_argument("--model", required=True, help="the uploaded model's id")
    p.add_argument("--version", required=True, help="its manifest's version")
    p.add_argument("--stem", required=True, help="its files under models/")
    p.add_argument("--rows", required=True, help="a Parquet file of scenario rows")
    a = p.parse_args()
    # gRPC metadata keys are lowercase; a fresh dict per call, as tritonclient may write into it.
    auth = {"authorization": f"Bearer {a.token}"}
    table = pq.read_table(a.rows)
    want_label, want_prob = reference(a.stem, table)

    client = grpcclient.InferenceServerClient(url=a.url)
    if not client.is_server_live() or not client.is_server_ready():
        fail("the server is not live and ready")
    server = client.get_server_metadata()
    if server.name != "sandkasse" or "binary_tensor_data" not in server.extensions:
        fail(f"server metadata: {server}")
    metadata = client.get_model_metadata(a.model, headers=dict(auth))
    if metadata.name != a.model or list(metadata.versions) != [a.version]:
        fail(f"model metadata: {metadata}")
    outputs = [(o.name, o.datatype) for o in metadata.outputs]
    if outputs != [("label", "INT64"), ("probability", "FP32")]:
        fail(f"model outputs: {outputs}")
    if not client.is_model_ready(a.model, headers=dict(auth)):
        fail("the model is not ready")
    if not client.is_model_ready(a.model, model_version=a.version, headers=dict(auth)):
        fail("the model is not ready in its own version")

    figures = {"rows": table.num_rows, "inputs": [(i.name, i.datatype) for i in metadata.inputs]}
    started = time.perf_counter()
    r = client.infer(a.model, inputs(table, metadata), request_id="r-1", headers=dict(auth))
    figures["raw_worst"] = compare("raw", r, want_label, want_prob)
    if r.get_response().id != "r-1" or r.get_response().model_version != a.version:
        fail(f"id and version not echoed: {r.get_response().id!r} {r.get_response().model_version!r}")
    r = client.infer(
        a.model,
        inputs(table, metadata),
        model_version=a.version,
        outputs=[grpcclient.InferRequestedOutput("probability")],
        headers=dict(auth),
    )
    compare("one output", r, want_label, want_prob, names=("probability",))
    for algorithm in ("gzip", "deflate"):
        r = client.infer(a.model, inputs(table, metadata), headers=dict(auth), compression_algorithm=algorithm)
        figures[f"{algorithm}_worst"] = compare(algorithm, r, want_label, want_prob)
    # Typed contents, on tritonclient's own stub (its InferInput always sends raw bytes).
    typed = client._client_stub.ModelInfer(
        contents_request(a.model, table, metadata), metadata=list(auth.items())
    )
    r = grpcclient.InferResult(typed)
    figures["contents_worst"] = compare("contents", r, want_label, want_prob)
    figures["seconds"] = round(time.perf_counter() - started, 3)

    missing = metadata.inputs[0].name
    figures["missing_input"] = expect_refusal(
        "a missing input",
        lambda: client.infer(a.model, inputs(table, metadata, drop=missing), headers=dict(auth)),
        "StatusCode.INVALID_ARGUMENT",
        f'input "{missing}" is missing',
    )

    def short_raw():
        t = inputs(table, metadata)
        t[0]._raw_content = t[0]._raw_content[:-1]
        return client.infer(a.model, t, headers=dict(auth))

    figures["short_raw"] = expect_refusal(
        "raw bytes one short of the shape", short_raw, "StatusCode.INVALID_ARGUMENT", "raw content size"
    )
    figures["unknown_output"] = expect_refusal(
        "an unknown output",
        lambda: client.infer(
            a.model, inputs(table, metadata), outputs=[grpcclient.InferRequestedOutput("score")], headers=dict(auth)
        ),
        "StatusCode.INVALID_ARGUMENT",
        'unknown output "score"',
    )
    figures["no_token"] = expect_refusal(
        "no token",
        lambda: client.infer(a.model, inputs(table, metadata)),
        "StatusCode.UNAUTHENTICATED",
        "metadata `authorization: Bearer TOKEN`",
    )
    figures["bad_token"] = expect_refusal(
        "a wrong token",
        lambda: client.infer(a.model, inputs(table, metadata), headers={"authorization": "Bearer nobody"}),
        "StatusCode.UNAUTHENTICATED",
        "not valid",
    )
    figures["other_org"] = expect_refusal(
        "another organisation's model",
        lambda: client.infer(
            a.model, inputs(table, metadata), headers={"authorization": f"Bearer {a.other_token}"}
        ),
        "StatusCode.NOT_FOUND",
        "unknown model",
    )
    figures["wrong_version"] = expect_refusal(
        "a version the model does not have",
        lambda: client.infer(a.model, inputs(table, metadata), model_version="9.9", headers=dict(auth)),
        "StatusCode.NOT_FOUND",
        'has no version "9.9"',
    )
    figures["unimplemented"] = expect_refusal(
        "the model configuration",
        lambda: client.get_model_config(a.model, headers=dict(auth)),
        "StatusCode.UNIMPLEMENTED",
        "",
    )
    client.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        fail(f"unexpected gRPC error: {e}")
