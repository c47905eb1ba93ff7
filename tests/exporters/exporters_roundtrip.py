"""A vendor's path with the tools vendors use, against a running Sandkasse (tests/exporters.rs).

For each exporter: download the training data from the server's API, train on it as pandas
reads it, export with the exporter's own defaults, upload with no manifest (the server drafts
one from the model's names; a wide input gets the training frame's column names), then score
the downloaded rows through the server's /v2 endpoint and compare with ONNX Runtime's Python
API on the same rows, fed exactly as the exporter's own model expects.

    python exporters_roundtrip.py --url HOST:PORT --token T --case ID [--only NAME ...]

Prints one JSON line: {"exporters": {name: {"model": id, "rows": n, "worst": max |p - p_ort|,
"drafted": the stored manifest's inputs}}}. Exit 1 with a message on the first failure.
"""
import argparse
import io
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
import warnings

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pandas as pd  # noqa: E402

SCENARIO = "unemployment-risk"
# The features of models/train.py; never the outcome, never identifiers.
PLAIN = ["age", "education_isced", "chronic_conditions", "income_dkk", "n_children", "living_alone",
         "hospital_days_12m", "ui_member", "months_employed_3y", "previous_spells_5y", "jobcentre_contacts_3m",
         "sick_leave_days_12m"]
CATEGORIES = ["sex", "education", "household_type", "sector"]
OUTCOME = "outcome_recorded"
TRAIN_ROWS = 4000
CHECK_ROWS = 300


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


class Server:
    def __init__(self, url, token):
        self.base = f"http://{url}"
        self.token = token

    def request(self, method, path, body=None, content_type=None):
        req = urllib.request.Request(self.base + path, data=body, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def json(self, method, path, value=None):
        body = None if value is None else json.dumps(value).encode()
        status, data = self.request(method, path, body, "application/json" if body else None)
        return status, (json.loads(data) if data else None)

    def upload(self, case, model_bytes, parts):
        """multipart/form-data: the model, and the text parts that ask for a drafted manifest."""
        boundary = uuid.uuid4().hex
        out = io.BytesIO()
        for name, value in [("model", model_bytes)] + [(k, v.encode()) for k, v in parts.items()]:
            out.write(f"--{boundary}\r\n".encode())
            filename = '; filename="model.onnx"' if name == "model" else ""
            out.write(f'Content-Disposition: form-data; name="{name}"{filename}\r\n\r\n'.encode())
            out.write(value)
            out.write(b"\r\n")
        out.write(f"--{boundary}--\r\n".encode())
        return self.request("POST", f"/api/v1/cases/{case}/models", out.getvalue(),
                            f"multipart/form-data; boundary={boundary}")


def download(server, rows, seed):
    status, data = server.request("GET", f"/api/v1/scenarios/{SCENARIO}/dataset?rows={rows}&seed={seed}")
    if status != 200:
        fail(f"downloading the training data: {status} {data[:300]!r}")
    return pd.read_parquet(io.BytesIO(data))


def positive_probability(output):
    """P(class 1) from what ONNX Runtime returns: a ZipMap (list of dicts) or a float table/column."""
    if isinstance(output, list):
        return np.array([row[1] for row in output], dtype=np.float64)
    p = np.asarray(output, dtype=np.float64)
    return p[:, 1] if p.ndim == 2 and p.shape[1] == 2 else p.reshape(-1)


# --- the exporters, each with its own defaults -------------------------------------------------------------


def sklearn_pipeline(frame):
    """A Pipeline with a ColumnTransformer, exported by skl2onnx straight from the frame as downloaded."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from skl2onnx import to_onnx

    X, y = frame[PLAIN + CATEGORIES], frame[OUTCOME]
    pipe = Pipeline([
        ("pre", ColumnTransformer([("num", StandardScaler(), PLAIN),
                                   ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORIES)])),
        ("clf", LogisticRegression(max_iter=1000)),
    ]).fit(X, y)
    onx = to_onnx(pipe, X=X[:1])

    def feeds(rows):
        out = {}
        for i in ort.InferenceSession(onx.SerializeToString()).get_inputs():
            col = rows[i.name]
            if i.type == "tensor(string)":
                out[i.name] = col.astype(str).to_numpy(dtype=object).reshape(-1, 1)
            else:
                out[i.name] = col.to_numpy().reshape(-1, 1)
        return out

    return onx.SerializeToString(), feeds, None


def dummies(frame):
    """pd.get_dummies of the features: the wide float matrix tree libraries and networks train on."""
    return pd.get_dummies(frame[PLAIN + CATEGORIES], columns=CATEGORIES)


def wide(columns):
    def feeds(rows):
        d = dummies(rows).reindex(columns=columns, fill_value=False)
        return {"input": d.to_numpy(dtype=np.float32)}
    return feeds


def xgboost_onnxmltools(frame):
    """XGBoost on the dummies (as a numpy matrix: onnxmltools wants f0..fN), onnxmltools' defaults."""
    import onnxmltools
    import xgboost as xgb
    from onnxmltools.convert.common.data_types import FloatTensorType

    D = dummies(frame)
    model = xgb.XGBClassifier(n_estimators=40, max_depth=4, n_jobs=1, random_state=0)
    model.fit(D.to_numpy(dtype=np.float32), frame[OUTCOME])
    onx = onnxmltools.convert_xgboost(model, initial_types=[("input", FloatTensorType([None, D.shape[1]]))])
    return onx.SerializeToString(), wide(list(D.columns)), list(D.columns)


def lightgbm_onnxmltools(frame):
    """LightGBM on the dummies, onnxmltools' defaults (a label of static shape [1], a ZipMap)."""
    import lightgbm as lgb
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    D = dummies(frame)
    model = lgb.LGBMClassifier(n_estimators=40, num_leaves=15, n_jobs=1, random_state=0, verbose=-1)
    model.fit(D.to_numpy(dtype=np.float32), frame[OUTCOME])
    onx = onnxmltools.convert_lightgbm(model, initial_types=[("input", FloatTensorType([None, D.shape[1]]))])
    return onx.SerializeToString(), wide(list(D.columns)), list(D.columns)


def probability_only_mlp(frame):
    """A PyTorch-style network, built with the onnx helper as torch.onnx.export writes one (no CPU
    torch wheel on PyPI): input [batch, k] -> Linear -> ReLU -> Linear -> Sigmoid -> "probability"
    [batch, 1], and no label output. Weights from scikit-learn's MLPClassifier on the dummies."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from sklearn.neural_network import MLPClassifier

    D = dummies(frame)
    X = D.to_numpy(dtype=np.float32)
    mu, sd = X.mean(0), X.std(0) + 1e-6
    net = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit((X - mu) / sd, frame[OUTCOME])
    W1, W2 = net.coefs_
    b1, b2 = net.intercepts_
    # The standardisation folded into the first layer, as a network with a normalisation layer carries it.
    W1f = (W1 / sd[:, None]).astype(np.float32)
    b1f = (b1 - (mu / sd) @ W1).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "fc1.weight"], ["h0"]),
         helper.make_node("Add", ["h0", "fc1.bias"], ["h1"]),
         helper.make_node("Relu", ["h1"], ["h2"]),
         helper.make_node("MatMul", ["h2", "fc2.weight"], ["h3"]),
         helper.make_node("Add", ["h3", "fc2.bias"], ["logit"]),
         helper.make_node("Sigmoid", ["logit"], ["probability"])],
        "main_graph",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch_size", X.shape[1]])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch_size", 1])],
        initializer=[numpy_helper.from_array(W1f, "fc1.weight"), numpy_helper.from_array(b1f, "fc1.bias"),
                     numpy_helper.from_array(W2.astype(np.float32), "fc2.weight"),
                     numpy_helper.from_array(b2.astype(np.float32), "fc2.bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pytorch",
                              ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString(), wide(list(D.columns)), list(D.columns)


EXPORTERS = {
    "skl2onnx-pipeline": sklearn_pipeline,
    "xgboost-onnxmltools": xgboost_onnxmltools,
    "lightgbm-onnxmltools": lightgbm_onnxmltools,
    "probability-only-mlp": probability_only_mlp,
}


# --- the round trip -----------------------------------------------------------------------------------------


def v2_inputs(metadata, rows):
    """The rows as the server's /v2 metadata asks for them: scenario columns by name."""
    tensors = []
    for meta in metadata["inputs"]:
        name, datatype = meta["name"], meta["datatype"]
        col = rows[name]
        if datatype == "BYTES":
            data = [str(v) for v in col]
        elif datatype == "BOOL":
            data = [bool(v) for v in col]
        elif datatype == "INT64":
            data = [int(v) for v in col]
        else:
            data = [float(v) for v in col]
        tensors.append({"name": name, "shape": [len(rows)], "datatype": datatype, "data": data})
    return tensors


def roundtrip(server, case, name, build, train, check):
    model_bytes, feeds, feature_names = build(train)
    parts = {"name": name, "version": "1", "scenario": SCENARIO}
    if feature_names is not None:
        parts["feature_names"] = ",".join(feature_names)
    status, body = server.upload(case, model_bytes, parts)
    if status != 201:
        fail(f"{name}: the upload without a manifest was answered {status}: {body[:2000].decode(errors='replace')}")
    model = json.loads(body)
    status, metadata = server.json("GET", f"/v2/models/{model['id']}")
    if status != 200:
        fail(f"{name}: /v2 metadata {status}: {metadata}")
    status, answer = server.json("POST", f"/v2/models/{model['id']}/infer",
                                 {"id": name, "inputs": v2_inputs(metadata, check)})
    if status != 200:
        fail(f"{name}: /v2 infer {status}: {answer}")
    served = {o["name"]: o for o in answer["outputs"]}
    p_sandbox = np.asarray(served["probability"]["data"], dtype=np.float64)
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    outputs = session.run(None, feeds(check))
    names = [o.name for o in session.get_outputs()]
    prob = [o for n, o in zip(names, outputs) if "prob" in n.lower()]
    if len(prob) != 1:
        fail(f"{name}: cannot tell the probability among the model's outputs {names}")
    p_ort = positive_probability(prob[0])
    if p_ort.shape != p_sandbox.shape:
        fail(f"{name}: {p_sandbox.shape} probabilities from the sandbox, {p_ort.shape} from ONNX Runtime")
    worst = float(np.max(np.abs(p_sandbox - p_ort)))
    if not worst <= 1e-6:
        fail(f"{name}: the sandbox's probabilities differ from ONNX Runtime's by up to {worst}")
    labels = np.asarray(served["label"]["data"])
    if len(labels) != len(check) or not set(np.unique(labels)).issubset({0, 1}):
        fail(f"{name}: labels {labels[:10]} are not 0/1 for every row")
    # A model without a label output: the sandbox's label follows the threshold (0.5).
    if "label" not in [n.lower() for n in names] and not any("label" in n.lower() for n in names):
        if not np.array_equal(labels, (p_sandbox >= 0.5).astype(int)):
            fail(f"{name}: derived labels do not follow P >= 0.5")
    inputs = [{"tensor": i["tensor"], "dtype": i["dtype"], "columns": len(i["columns"])}
              for i in drafted_inputs(server, model["id"])]
    return {"model": model["id"], "rows": len(check), "worst": worst, "drafted": inputs,
            "warnings": model["inspection"].get("warnings", [])}


def drafted_inputs(server, model_id):
    status, data = server.request("GET", f"/api/v1/models/{model_id}/manifest")
    if status != 200:
        fail(f"reading the drafted manifest of {model_id}: {status} {data[:300]!r}")
    import tomllib
    return tomllib.loads(data.decode())["inputs"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--only", action="append", choices=sorted(EXPORTERS))
    a = ap.parse_args()
    server = Server(a.url, a.token)
    train = download(server, TRAIN_ROWS, 11)
    # Rows the models never saw, from another seed of the same split.
    check = download(server, CHECK_ROWS, 12)
    # The download is in the training layout: integers int64, the outcome 0/1, categories text.
    for col, want in [("age", "int64"), (OUTCOME, "int64"), ("living_alone", "bool")]:
        if str(train[col].dtype) != want:
            fail(f"the downloaded {col} is {train[col].dtype}, not {want}")
    results = {}
    for name in a.only or EXPORTERS:
        results[name] = roundtrip(server, a.case, name, EXPORTERS[name], train, check)
    print(json.dumps({"exporters": results}))


if __name__ == "__main__":
    main()
