"""The anchor of benches/kserve_load.sh: the same sample model served by the KServe Python model
server (the `kserve` package, pinned in benches/kserve-requirements.txt), as a user would pick it
instead of Sandkasse: a custom `kserve.Model` on onnxruntime that takes the same Open Inference
Protocol request (scenario columns by name) and does the same work per request as Sandkasse's
/v2 (the manifest's columns into the model's tensors, one ONNX Runtime call, label and
P(positive)). No isolation, no authentication, no audit: the anchor is the bare serving cost.

    python benches/kserve_anchor.py --model models/unemployment-logreg.onnx \
        --manifest models/unemployment-logreg.toml --http-port 18182
"""
import argparse
import os
import tomllib

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer  # noqa: E402

NUMPY = {"float32": np.float32, "float64": np.float64, "int32": np.int32, "int64": np.int64, "bool": np.bool_}


class OnnxModel(Model):
    def __init__(self, name, model_path, manifest):
        super().__init__(name)
        self.manifest = manifest
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        out = manifest["output"]
        self.label, self.probability = out.get("label"), out["probability"]
        self.ready = True

    def tensors(self, columns, rows):
        feeds = {}
        for spec in self.manifest["inputs"]:
            if spec["dtype"] == "string":
                feeds[spec["tensor"]] = np.array(
                    [[str(columns[c["column"]][r]) for c in spec["columns"]] for r in range(rows)], dtype=object)
                continue
            parts = []
            for c in spec["columns"]:
                values = columns[c["column"]]
                if "one_hot" in c:
                    values = np.asarray(values, dtype=object)
                    parts.append(np.stack([values == cat for cat in c["one_hot"]], axis=1))
                else:
                    parts.append(np.asarray(values, dtype=np.float64).reshape(rows, 1))
            feeds[spec["tensor"]] = np.concatenate(parts, axis=1).astype(NUMPY[spec["dtype"]])
        return feeds

    async def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        columns = {i.name: i.data for i in payload.inputs}
        rows = len(payload.inputs[0].data)
        outputs = self.session.run(None, self.tensors(columns, rows))
        named = dict(zip([o.name for o in self.session.get_outputs()], outputs))
        prob = named[self.probability]
        if isinstance(prob, list):
            p = np.array([m[1] for m in prob], dtype=np.float32)
        else:
            p = np.asarray(prob, dtype=np.float32)
            p = p[:, 1] if p.ndim == 2 and p.shape[1] == 2 else p.reshape(-1)
        label = np.asarray(named[self.label]).astype(np.int64).reshape(-1)
        return InferResponse(
            model_name=self.name,
            infer_outputs=[
                InferOutput(name="label", shape=[rows], datatype="INT64", data=label.tolist()),
                InferOutput(name="probability", shape=[rows], datatype="FP32", data=p.tolist()),
            ],
            response_id=payload.id or "",
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--http-port", type=int, default=18182)
    ap.add_argument("--grpc-port", type=int, default=18183)
    a = ap.parse_args()
    with open(a.manifest, "rb") as f:
        manifest = tomllib.load(f)
    model = OnnxModel("unemployment-logreg", a.model, manifest)
    ModelServer(http_port=a.http_port, grpc_port=a.grpc_port, workers=1, enable_docs_url=False).start([model])
