"""A vendor's round trip through a client that openapi-python-client generated from the served
OpenAPI document: upload a sample model with its manifest, download the scenario's training
data, and score rows of it with V2 infer. Run by tests/openapi_conformance.rs with the generated
package `sandkasse_client` on PYTHONPATH; exits non-zero, naming what was wrong, on any failure.

The endpoints are found by their method and path in the generated modules, not by operation id
or model class names, so the script works on any document that describes the same routes;
bodies are built with the generated classes (found from the functions' type hints).
"""

from __future__ import annotations

import argparse
import enum
import importlib
import inspect
import io
import pkgutil
import re
import sys
import typing

import pyarrow.parquet as pq

import sandkasse_client
import sandkasse_client.api
from sandkasse_client import AuthenticatedClient
from sandkasse_client.types import File

# Rows scored in the infer call.
ROWS = 50

# Generated modules that do not import, named at the end: a client with broken modules fails.
BROKEN: list[str] = []


def fail(message: str) -> typing.NoReturn:
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def _normalise(url: str) -> str:
    """`/api/v1/cases/{case}/models` whatever the path parameters are called in the code."""
    return re.sub(r"\{[^{}]*\}", "{}", url)


def endpoints() -> dict[tuple[str, str], typing.Any]:
    """Every generated endpoint module by (method, path template). A module that does not import
    (the generator dropped a schema it refers to) is named and left out."""
    found = {}
    for info in pkgutil.walk_packages(sandkasse_client.api.__path__, "sandkasse_client.api."):
        try:
            module = importlib.import_module(info.name)
        except ImportError as e:
            print(f"WARNING: the generated module {info.name} does not import: {e}", file=sys.stderr)
            BROKEN.append(f"{info.name}: {e}")
            continue
        if not hasattr(module, "sync_detailed"):
            continue
        source = open(module.__file__, encoding="utf-8").read()
        method = re.search(r'"method":\s*"(\w+)"', source)
        # `"/a/{x}/b".format(x=...)` or f"/a/{quote(...)}/b"
        url = re.search(r'"url":\s*f?"([^"]+)"', source)
        if method and url:
            found[(method.group(1).lower(), _normalise(url.group(1)))] = module
    return found


def endpoint(table: dict, method: str, path: str) -> typing.Any:
    key = (method, _normalise(path))
    if key not in table:
        known = "\n  ".join(f"{m.upper()} {p}" for m, p in sorted(table))
        fail(f"the generated client has no {method.upper()} {path} (the generator skipped it; see its warnings). It has:\n  {known}")
    return table[key]


def body_class(module: typing.Any) -> type:
    hints = typing.get_type_hints(module.sync_detailed)
    if "body" not in hints:
        fail(f"{module.__name__}.sync_detailed takes no body: the document gives the operation no request body schema")
    cls = hints["body"]
    # `X | Unset` or `Union[X, ...]`: the generated class is the one with from_dict.
    for candidate in typing.get_args(cls) or (cls,):
        if hasattr(candidate, "from_dict"):
            return candidate
    fail(f"{module.__name__}: the request body is not a generated model class but {cls!r}")


def path_argument(module: typing.Any, value: str) -> typing.Any:
    """`value` as the type the generated function's first (path) parameter has: a generated enum
    when the document gives the parameter an `enum`, else the string."""
    first = next(iter(inspect.signature(module.sync_detailed).parameters))
    kind = typing.get_type_hints(module.sync_detailed).get(first)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(value)
    return value


def as_dict(parsed: typing.Any) -> dict:
    if parsed is None:
        fail("the answer was not parsed (the document declares no schema the generator could use for it)")
    if hasattr(parsed, "to_dict"):
        return parsed.to_dict()
    if isinstance(parsed, dict):
        return parsed
    fail(f"unexpected parsed answer {parsed!r}")


def check(response: typing.Any, status: int, what: str) -> None:
    if response.status_code != status:
        fail(f"{what}: status {int(response.status_code)}, wanted {status}: {response.content[:2000]!r}")


def field_type(cls: type, name: str) -> str:
    for attribute in cls.__attrs_attrs__:
        if attribute.name == name:
            return str(attribute.type)
    fail(f"{cls.__name__} has no field {name!r}: the multipart body must have the parts `model` and `manifest`")


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--base-url", required=True)
    args.add_argument("--token", required=True, help="a vendor's token")
    args.add_argument("--case", required=True, help="a case the vendor's organisation is a member of")
    args.add_argument("--model", required=True, help="an ONNX file")
    args.add_argument("--manifest", required=True, help="its manifest (TOML)")
    a = args.parse_args()
    client = AuthenticatedClient(base_url=a.base_url, token=a.token, raise_on_unexpected_status=False)
    table = endpoints()

    # 1. Upload: multipart with the model as a file part and its manifest.
    upload = endpoint(table, "post", "/api/v1/cases/{case}/models")
    Upload = body_class(upload)
    if "File" not in field_type(Upload, "model"):
        fail(
            f"{Upload.__name__}.model is {field_type(Upload, 'model')}, not a File: the document must give the "
            "model part `type: string, format: binary`, or the client sends the ONNX bytes as text"
        )
    model_bytes = open(a.model, "rb").read()
    # A name and version are a vendor's once per case, and the test's set-up uploaded this one.
    manifest_text = re.sub(r'(?m)^version\s*=\s*".*"$', 'version = "client-roundtrip"', open(a.manifest, encoding="utf-8").read())
    manifest = (
        File(payload=io.BytesIO(manifest_text.encode()), file_name="manifest.toml", mime_type="application/toml")
        if "File" in field_type(Upload, "manifest")
        else manifest_text
    )
    body = Upload(model=File(payload=io.BytesIO(model_bytes), file_name="model.onnx", mime_type="application/octet-stream"), manifest=manifest)
    r = upload.sync_detailed(a.case, client=client, body=body)
    check(r, 201, "uploading the model")
    uploaded = as_dict(r.parsed)
    model_id = uploaded.get("id")
    if not isinstance(model_id, str) or not re.fullmatch(r"[0-9a-f]{32}", model_id):
        fail(f"the uploaded model's id is {model_id!r}, not 32 hex digits: {uploaded}")
    if uploaded.get("case_id") not in (None, a.case):
        fail(f"the model was stored in case {uploaded.get('case_id')!r}, not {a.case!r}")
    scenario = uploaded.get("scenario")
    if scenario != "unemployment-risk":
        fail(f"the uploaded model's scenario is {scenario!r}, not the manifest's unemployment-risk")
    print(f"uploaded model {model_id} for {scenario}")

    # 2. Download the scenario's training data as Parquet.
    download = endpoint(table, "get", "/api/v1/scenarios/{scenario}/dataset")
    r = download.sync_detailed(path_argument(download, scenario), client=client, rows=200, seed=3)
    check(r, 200, "downloading the dataset")
    if not isinstance(r.parsed, File):
        fail(
            f"the dataset download parsed as {type(r.parsed).__name__}, not a File: the document must give the "
            "200 answer a `format: binary` schema (and the generator maps application/vnd.apache.parquet to bytes)"
        )
    data = r.parsed.payload.read()
    if data[:4] != b"PAR1" or data[-4:] != b"PAR1":
        fail(f"the download is not Parquet: starts {data[:16]!r}")
    table_rows = pq.read_table(io.BytesIO(data))
    if table_rows.num_rows != 200:
        fail(f"the dataset has {table_rows.num_rows} rows, asked for 200")
    print(f"downloaded {table_rows.num_rows} rows, {table_rows.num_columns} columns")

    # 3. The model's inputs, from V2 metadata, then infer on the first rows of the download.
    metadata = endpoint(table, "get", "/v2/models/{model}")
    r = metadata.sync_detailed(model_id, client=client)
    check(r, 200, "reading the model's V2 metadata")
    inputs = as_dict(r.parsed).get("inputs") or fail(f"the V2 metadata names no inputs: {r.content!r}")
    tensors = []
    for tensor in inputs:
        name, datatype = tensor["name"], tensor["datatype"]
        if name not in table_rows.column_names:
            fail(f"the model input {name!r} is not a column of the downloaded data")
        values = table_rows.column(name).to_pylist()[:ROWS]
        if datatype == "BYTES":
            values = [str(v) for v in values]
        elif datatype == "BOOL":
            values = [bool(v) for v in values]
        else:
            values = [float(v) for v in values]
        tensors.append({"name": name, "shape": [ROWS], "datatype": datatype, "data": values})
    infer = endpoint(table, "post", "/v2/models/{model}/infer")
    Request = body_class(infer)
    r = infer.sync_detailed(model_id, client=client, body=Request.from_dict({"id": "roundtrip", "inputs": tensors}))
    check(r, 200, "V2 infer")
    answer = as_dict(r.parsed)
    if answer.get("model_name") != model_id:
        fail(f"the answer names model {answer.get('model_name')!r}, not {model_id!r}")
    outputs = {o["name"]: o for o in answer.get("outputs", [])}
    if set(outputs) != {"label", "probability"}:
        fail(f"the outputs are {sorted(outputs)}, not label and probability: {answer}")
    for name, o in outputs.items():
        if list(o["shape"]) != [ROWS] or len(o["data"]) != ROWS:
            fail(f"output {name} has shape {o['shape']} and {len(o['data'])} values, not {ROWS}")
    labels, probabilities = outputs["label"]["data"], outputs["probability"]["data"]
    if not all(label in (0, 1) for label in labels):
        fail(f"labels outside 0/1: {labels}")
    if not all(0.0 <= p <= 1.0 for p in probabilities):
        fail(f"probabilities outside [0, 1]: {probabilities}")
    # The manifest's threshold (0.5) turns each probability into its label.
    mismatched = [i for i, (label, p) in enumerate(zip(labels, probabilities)) if label != int(p >= 0.5)]
    if mismatched:
        fail(f"labels disagree with probabilities at the threshold 0.5 in rows {mismatched}")
    print(f"scored {ROWS} rows: {sum(labels)} positive, mean probability {sum(probabilities) / ROWS:.3f}")
    if BROKEN:
        fail("the round trip worked, but generated modules do not import:\n  " + "\n  ".join(BROKEN))


if __name__ == "__main__":
    main()
