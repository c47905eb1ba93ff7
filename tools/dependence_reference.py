"""A run record's partial dependence, checked against scikit-learn on the model the sample ONNX was exported from.

    SANDKASSE_BIN=target/release/sandkasse python tools/dependence_reference.py --record run.json \
        --dataset test.parquet

Refits the gradient-boosted sample exactly as models/train.py does (same training rows, same estimator, same
seed), exports it with skl2onnx and requires the export to be byte-identical to models/unemployment-gbm.onnx, so
the estimator in hand is the one the ONNX file came from. Then, on the rows the record says it explained (the
dataset's first `explanations.rows.count` rows), runs `sklearn.inspection.partial_dependence(method="brute",
kind="both")` for every column of `explanations.partial_dependence` on the record's own grid (custom_values)
and requires the record's mean score, every group's curve and every ICE curve to equal scikit-learn's to float32
tolerance (1e-5: the ONNX trees compare float32 inputs with float32 thresholds). Only columns that are one
feature of the estimator can be checked this way (numeric columns and the municipality string), not a one-hot
category. Exits 1 naming the first difference.
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))

import common  # noqa: E402  (single-threaded BLAS before numpy)
import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import train  # noqa: E402
from sklearn.inspection import partial_dependence  # noqa: E402

NAME = "unemployment-gbm"
TOLERANCE = 1e-5


def feature_index(m, column):
    """The estimator's input column of a dataset column: the string tensor first, then the float tensor's."""
    position = 0
    for spec in m["inputs"]:
        for c in spec["columns"]:
            if c["column"] == column:
                if "one_hot" in c:
                    raise SystemExit(f"{column} is one-hot encoded by the manifest: not one feature of the estimator")
                return position
            position += len(c["one_hot"]) if "one_hot" in c else 1
    raise SystemExit(f"{column} is not an input of {NAME}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", required=True)
    ap.add_argument("--dataset", required=True)
    args = ap.parse_args()
    record = json.load(open(args.record))
    ex = record["explanations"]
    n = ex["rows"]["count"]
    m = common.read_manifest(os.path.join(common.MODELS_DIR, f"{NAME}.toml"))

    with common.tempdir() as tmp:
        rows = common.generate(m["scenario"], workdir=tmp, **train.TRAIN)
        municipalities = sorted(set(common.strings(rows, "municipality")))
        gbm = train.gbm_pipeline(municipalities, common.n_columns(m["inputs"][1]))
        train.build(NAME, rows, m, gbm)
    exported = train.export(gbm, m, zipmap=False).SerializeToString()
    committed = open(os.path.join(common.MODELS_DIR, f"{NAME}.onnx"), "rb").read()
    if exported != committed:
        raise SystemExit(f"the refitted estimator exports to other bytes than models/{NAME}.onnx")

    table = pq.read_table(args.dataset).slice(0, n)
    X = train.sklearn_matrix(common.build_inputs(table, m), m)
    compared = 0
    for pd in ex["partial_dependence"]:
        column = pd["column"]
        idx = feature_index(m, column)
        categorical = m["inputs"][0]["dtype"] == "string" and idx == 0
        grid = np.array(pd["grid"], dtype=object if categorical else np.float64)
        ref = partial_dependence(gbm, X, [idx], categorical_features=[idx] if categorical else None,
                                 custom_values={idx: grid}, method="brute", kind="both",
                                 response_method="predict_proba")
        average, individual = ref["average"][0], ref["individual"][0]

        def close(what, got, want):
            nonlocal compared
            got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
            if got.shape != want.shape:
                raise SystemExit(f"{column} {what}: {got.shape} values in the record, {want.shape} in scikit-learn")
            worst = float(np.max(np.abs(got - want)))
            if worst > TOLERANCE:
                raise SystemExit(f"{column} {what}: record {got.tolist()} scikit-learn {want.tolist()} (off by {worst:.3g})")
            compared += got.size

        close("mean score", pd["mean_score"], average)
        for ice in pd["ice"]:
            close(f"ICE of row {ice['row']}", ice["score"], individual[ice["row"]])
        for g in pd["groups"]:
            values = np.array(common.strings(table, g["attribute"]) if g["attribute"] != "age_band" else [])
            if values.size == 0:
                continue
            members = np.nonzero(values == g["value"])[0]
            if len(members) != g["rows"]:
                raise SystemExit(f"{column} group {g['attribute']}={g['value']}: {g['rows']} rows, reference {len(members)}")
            close(f"group {g['attribute']}={g['value']}", g["mean_score"], individual[members].mean(axis=0))
    print(f"partial dependence reference: {len(ex['partial_dependence'])} columns, {compared} numbers within "
          f"{TOLERANCE} of scikit-learn, the refitted estimator byte-identical to models/{NAME}.onnx")


if __name__ == "__main__":
    main()
