"""An independent check of a regression or multi-class run record's report (`report.recorded`, `report.truth`).

    python tools/task_reference.py --record run.json --dataset test.parquet \
        --model models/eldercare-hours-gbm.onnx --manifest models/eldercare-hours-gbm.toml

Reads the dataset file the run scored, builds the model's inputs as the manifest says (models/common.py),
scores every row with ONNX Runtime's Python API, and recomputes per group of `sex` and `origin` and overall,
against the recorded and the true outcome, with scikit-learn's metric functions (and SciPy's two-sample
Kolmogorov-Smirnov statistic): what fairlearn's MetricFrame computes with the same functions.

  regression: mean outcome, mean prediction, mean error (prediction - outcome), mean_absolute_error,
              sqrt(mean_squared_error), r2_score, ks_2samp(group, reference group).statistic
  multiclass: accuracy_score; per class one-vs-rest: selection rate, recall (TPR), false positive rate,
              precision_score

Every number must agree to 1e-9 (relative), every row count exactly; exits 1 naming the first difference,
else prints "numbers equal" with how many it compared.
"""

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))

import common  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from scipy.stats import ks_2samp  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    accuracy_score, mean_absolute_error, mean_squared_error, precision_score, r2_score, recall_score)

TOLERANCE = 1e-9
compared = 0


def fail(message):
    print(f"DIFFERENT: {message}")
    sys.exit(1)


def same(where, got, want):
    global compared
    compared += 1
    if want is None or (isinstance(want, float) and math.isnan(want)):
        if got is not None:
            fail(f"{where}: the record has {got}, the reference has no value")
        return
    if got is None or abs(got - want) > TOLERANCE * max(1.0, abs(want)):
        fail(f"{where}: the record has {got}, the reference {want}")


def regression(y, p, ref_p):
    m = {
        "mean_outcome": float(np.mean(y)),
        "mean_prediction": float(np.mean(p)),
        "mean_error": float(np.mean(p - y)),
        "mean_absolute_error": float(mean_absolute_error(y, p)),
        "root_mean_squared_error": float(math.sqrt(mean_squared_error(y, p))),
        "r2": float(r2_score(y, p)) if np.var(y) > 0 else None,
    }
    if ref_p is not None:
        m["ks_to_reference"] = float(ks_2samp(p, ref_p).statistic)
    return m


def multiclass(y, p, classes):
    m = {"accuracy": float(accuracy_score(y, p))}
    for c in classes:
        yt, pt = (y == c), (p == c)
        m[f"selection_rate[{c}]"] = float(np.mean(pt))
        m[f"true_positive_rate[{c}]"] = float(recall_score(yt, pt, zero_division=np.nan)) if yt.any() else None
        m[f"false_positive_rate[{c}]"] = float(np.mean(pt[~yt])) if (~yt).any() else None
        m[f"precision[{c}]"] = float(precision_score(yt, pt, zero_division=np.nan)) if pt.any() else None
    return m


def recorded_metrics(metrics, task):
    if task == "regression":
        return dict(metrics)
    out = {"accuracy": metrics["accuracy"]["value"]}
    for c in metrics["classes"]:
        for k in ["selection_rate", "true_positive_rate", "false_positive_rate", "precision"]:
            out[f"{k}[{c['class']}]"] = c[k]["value"]
    return out


def value(v):
    return v["value"] if isinstance(v, dict) else v


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--record", required=True)
    a.add_argument("--dataset", required=True)
    a.add_argument("--model", required=True)
    a.add_argument("--manifest", required=True)
    args = a.parse_args()
    with open(args.record, encoding="utf-8") as f:
        record = json.load(f)
    m = common.read_manifest(args.manifest)
    table = pq.read_table(args.dataset)
    task = m["output"]["task"]
    report = record["report"]
    if report["task"] != task:
        fail(f"the record judged a {report['task']} model, the manifest is {task}")
    # One thread, as the sandbox's workers: a tree ensemble's float32 sums depend on how threads split it.
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    inputs = common.build_inputs(table, m)
    if task == "regression":
        (out,) = sess.run([m["output"]["value"]], inputs)
        pred = np.asarray(out, dtype=np.float32).reshape(-1).astype(np.float64)
        outcomes = {"recorded": table.column("outcome_recorded").to_numpy().astype(np.float64),
                    "truth": table.column("outcome_true").to_numpy().astype(np.float64)}
    else:
        (out,) = sess.run([m["output"]["label"]], inputs)
        pred = np.asarray(out, dtype=object).astype(str)
        outcomes = {"recorded": common.strings(table, "level_recorded").astype(str),
                    "truth": common.strings(table, "level_true").astype(str)}
    for which, y in outcomes.items():
        rep = report[which]
        if rep["rows"] != len(y):
            fail(f"{which}: the record judged {rep['rows']} rows, the file has {len(y)}")
        classes = rep.get("classes")
        want = regression(y, pred, None) if task == "regression" else multiclass(y, pred, classes)
        got = recorded_metrics(rep["overall"], task)
        for k, w in want.items():
            same(f"{which} overall {k}", value(got[k]), w)
        for attr in rep["attributes"]:
            if attr["attribute"] not in ("sex", "origin"):
                continue
            col = common.strings(table, attr["attribute"]).astype(str)
            ref = attr["reference"]
            for g in attr["groups"]:
                mask = col == g["group"]
                if int(mask.sum()) != g["count"]:
                    fail(f"{which} {attr['attribute']}={g['group']}: {g['count']} rows in the record, {mask.sum()}")
                if not mask.any():
                    continue
                if task == "regression":
                    want = regression(y[mask], pred[mask], pred[col == ref])
                else:
                    want = multiclass(y[mask], pred[mask], classes)
                got = recorded_metrics(g["metrics"], task)
                for k, w in want.items():
                    same(f"{which} {attr['attribute']}={g['group']} {k}", value(got[k]), w)
    print(f"{task}: {compared} numbers equal (overall and per group of sex and origin, recorded and true)")


if __name__ == "__main__":
    main()
