"""Reference scores of the sample models, for the Rust inference tests to compare against.

Run from the repository root, after models/train.py (and with target/release/sandkasse built):

    .venv-models/bin/python models/reference.py

For every models/<name>.toml it generates `sandkasse generate --scenario <manifest scenario> --rows 4000
--seed 11 --split test`, builds the input tensors from the Parquet columns exactly as the manifest says (see
common.build_input), runs models/<name>.onnx with the onnxruntime Python API and writes
models/reference/<name>.json:

    {"model": "<name>.onnx",
     "dataset": {"scenario": ..., "rows": 4000, "seed": 11, "split": "test"},
     "person_id": [...], "label": [...], "probability": [...]}

`label` is the model's label output; `probability` is P(positive_class) from its float32 probability output
(tensor column or ZipMap entry), written as the exact value of that float32 (Python float repr). A regression
model (task = "regression") has `value` instead: its output per row, the exact float32 value; a multi-class
model (task = "multiclass") has `label` (its class names) and no `probability`.
Deterministic: the generator's output is byte-identical for equal arguments.
"""

import glob
import json
import os

import common
import numpy as np
import onnxruntime as ort

DATASET = dict(rows=4000, seed=11, split="test")


def main():
    out_dir = os.path.join(common.MODELS_DIR, "reference")
    os.makedirs(out_dir, exist_ok=True)
    manifests = sorted(glob.glob(os.path.join(common.MODELS_DIR, "*.toml")))
    if not manifests:
        raise SystemExit("no models/*.toml: run models/train.py first")
    with common.tempdir() as tmp:
        for path in manifests:
            m = common.read_manifest(path)
            name = m["name"]
            model = os.path.join(common.MODELS_DIR, f"{name}.onnx")
            table = common.generate(m["scenario"], workdir=tmp, **DATASET)
            inputs = common.build_inputs(table, m)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
            task = m["output"].get("task", "binary")
            if task != "binary":
                doc = {"model": f"{name}.onnx", "dataset": {"scenario": m["scenario"], **DATASET},
                       "person_id": [int(x) for x in table.column("person_id").to_pylist()]}
                if task == "regression":
                    (value,) = sess.run([m["output"]["value"]], inputs)
                    value = np.asarray(value).reshape(-1)
                    assert value.dtype == np.float32 and value.shape == (table.num_rows,), (value.dtype, value.shape)
                    doc["value"] = [float(x) for x in value]
                    print(f"{name}: {table.num_rows} rows, mean value {float(np.mean(value, dtype=np.float64)):.4f}")
                else:
                    (label,) = sess.run([m["output"]["label"]], inputs)
                    doc["label"] = [str(x) for x in np.asarray(label)]
                    print(f"{name}: {table.num_rows} rows, classes {sorted(set(doc['label']))}")
                with open(os.path.join(out_dir, f"{name}.json"), "w", encoding="utf-8") as f:
                    json.dump(doc, f, separators=(",", ":"))
                    f.write("\n")
                continue
            label, prob = sess.run([m["output"]["label"], m["output"]["probability"]], inputs)
            p = common.positive_probability(prob, m["output"]["positive_class"])
            assert p.dtype == np.float32, p.dtype
            label = np.asarray(label)
            assert label.shape == (table.num_rows,), label.shape
            doc = {
                "model": f"{name}.onnx",
                "dataset": {"scenario": m["scenario"], **DATASET},
                "person_id": [int(x) for x in table.column("person_id").to_pylist()],
                "label": [int(x) for x in label],
                "probability": [float(x) for x in p],
            }
            with open(os.path.join(out_dir, f"{name}.json"), "w", encoding="utf-8") as f:
                json.dump(doc, f, separators=(",", ":"))
                f.write("\n")
            print(f"{name}: {table.num_rows} rows, {int(label.sum())} positive labels, "
                  f"mean P = {float(np.mean(p, dtype=np.float64)):.4f}")


if __name__ == "__main__":
    main()
