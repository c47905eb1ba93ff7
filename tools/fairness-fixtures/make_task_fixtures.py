#!/usr/bin/env python3
"""Reference fixtures for the fairness engine's regression and multi-class metrics (crates/fairness/src/tasks).

Per group, per intersection and overall, the values are computed by fairlearn's MetricFrame with
scikit-learn's metric functions (and scipy's two-sample Kolmogorov-Smirnov statistic for the distance
between a group's predictions and the reference group's). The data include a group with a single row,
a group whose outcome does not vary, and a dictionary value with no rows at all (which fairlearn never
sees: the Rust side must report it as an empty group).

Usage (from the repository root, in the environment of requirements.txt beside this file):

    .venv-fixtures/bin/python tools/fairness-fixtures/make_task_fixtures.py          # write
    .venv-fixtures/bin/python tools/fairness-fixtures/make_task_fixtures.py --check  # compare with committed

Undefined values (NaN in Python) are written as null.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import sklearn.metrics as skm
from fairlearn.metrics import MetricFrame

warnings.filterwarnings("ignore")

OUT = Path(__file__).resolve().parents[2] / "crates" / "fairness" / "fixtures"
EMPTY_REGION = "Christiansø"


def clean(v):
    v = float(v)
    return v if math.isfinite(v) else None


def data(seed: int, n: int):
    rng = np.random.RandomState(seed)
    sex = rng.choice(["F", "M"], size=n, p=[0.45, 0.55])
    region = rng.choice(["Hovedstaden", "Sjælland", "Syddanmark", "Midtjylland"], size=n, p=[0.35, 0.2, 0.25, 0.2])
    # One row alone in its region; three rows of a region whose outcome never varies.
    region[0] = "Bornholm"
    region[1:4] = "Nordjylland"
    return rng, list(sex), list(region)


def frame(metrics: dict, y, p, sex, region):
    groups = pd.DataFrame({"sex": sex, "region": region})
    out = {}
    for name, cols in [("sex", ["sex"]), ("region", ["region"]), ("sex & region", ["sex", "region"])]:
        mf = MetricFrame(metrics=metrics, y_true=np.asarray(y), y_pred=np.asarray(p), sensitive_features=groups[cols])
        table = {}
        for key, row in mf.by_group.iterrows():
            label = " & ".join(key) if isinstance(key, tuple) else key
            table[label] = {m: clean(row[m]) for m in metrics}
        out[name] = table
        out["overall"] = {m: clean(mf.overall[m]) for m in metrics}
    return out


def largest(values):
    counts = pd.Series(values).value_counts(sort=False)
    best = None
    for g in pd.unique(pd.Series(values)):
        if best is None or counts[g] > counts[best]:
            best = g
    return best


def ks(p, groups):
    """Per group, the KS statistic of its predictions against the largest group's."""
    p = np.asarray(p)
    groups = np.asarray(groups, dtype=object)
    ref = largest(list(groups))
    rp = p[groups == ref]
    return ref, {g: clean(scipy.stats.ks_2samp(p[groups == g], rp).statistic) for g in pd.unique(pd.Series(groups))}


def regression():
    rng, sex, region = data(11, 400)
    n = len(sex)
    hours = np.round(rng.gamma(2.0, 4.0, size=n), 3)
    hours[1:4] = 6.5
    bias = np.where(np.asarray(sex) == "F", -1.5, 0.5)
    pred = np.round(hours + bias + rng.normal(0, 2.0, size=n), 3)
    metrics = {
        "mean_outcome": lambda y, p: np.mean(y),
        "mean_prediction": lambda y, p: np.mean(p),
        "mean_error": lambda y, p: np.mean(np.asarray(p) - np.asarray(y)),
        "mean_absolute_error": skm.mean_absolute_error,
        "root_mean_squared_error": skm.root_mean_squared_error,
        "r2": lambda y, p: skm.r2_score(y, p, force_finite=False) if len(y) >= 2 else float("nan"),
    }
    inter = [f"{s} & {r}" for s, r in zip(sex, region)]
    refs = {}
    dists = {}
    for name, groups in [("sex", sex), ("region", region), ("sex & region", inter)]:
        refs[name], dists[name] = ks(pred, groups)
    return {
        "task": "regression",
        "y_true": [float(x) for x in hours],
        "y_pred": [float(x) for x in pred],
        "groups": {"sex": sex, "region": region},
        "empty_groups": {"region": [EMPTY_REGION]},
        "fairlearn": frame(metrics, hours, pred, sex, region),
        "reference": refs,
        "ks_to_reference": dists,
    }


def multiclass():
    rng, sex, region = data(12, 500)
    n = len(sex)
    classes = ["none", "light", "medium", "heavy"]
    y = rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1])
    noise = rng.choice([-1, 0, 0, 0, 1], size=n)
    down = (np.asarray(sex) == "F") & (rng.uniform(size=n) < 0.3)
    p = np.clip(y + noise - down, 0, 3)
    # The lone Bornholm row is predicted "heavy" while it needs "none".
    y[0], p[0] = 0, 3
    metrics = {"accuracy": skm.accuracy_score}
    for k, c in enumerate(classes):
        metrics[f"selection_rate[{c}]"] = lambda yt, yp, k=k: np.mean(np.asarray(yp) == k)
        metrics[f"true_positive_rate[{c}]"] = lambda yt, yp, k=k: skm.recall_score(
            np.asarray(yt) == k, np.asarray(yp) == k, zero_division=np.nan
        )
        metrics[f"false_positive_rate[{c}]"] = lambda yt, yp, k=k: fpr(np.asarray(yt) == k, np.asarray(yp) == k)
        metrics[f"precision[{c}]"] = lambda yt, yp, k=k: skm.precision_score(
            np.asarray(yt) == k, np.asarray(yp) == k, zero_division=np.nan
        )
    labels = list(range(4))
    # scikit-learn leaves classes with an undefined value out of a macro average when zero_division is NaN.
    metrics["macro_true_positive_rate"] = lambda yt, yp: skm.recall_score(
        yt, yp, labels=labels, average="macro", zero_division=np.nan
    )
    metrics["macro_precision"] = lambda yt, yp: skm.precision_score(
        yt, yp, labels=labels, average="macro", zero_division=np.nan
    )
    metrics["macro_false_positive_rate"] = lambda yt, yp: np.nanmean(
        [fpr(np.asarray(yt) == k, np.asarray(yp) == k) for k in labels]
    )
    return {
        "task": "multiclass",
        "classes": classes,
        "y_true": [int(v) for v in y],
        "y_pred": [int(v) for v in p],
        "groups": {"sex": sex, "region": region},
        "empty_groups": {"region": [EMPTY_REGION]},
        "fairlearn": frame(metrics, y, p, sex, region),
    }


def fpr(actual, predicted):
    """False positive rate one-vs-rest from scikit-learn's confusion matrix; NaN without actual negatives."""
    tn, fp, fn, tp = skm.confusion_matrix(actual, predicted, labels=[False, True]).ravel()
    return fp / (fp + tn) if fp + tn > 0 else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    stale = []
    for name, make in [("tasks_regression", regression), ("tasks_multiclass", multiclass)]:
        text = json.dumps(make(), ensure_ascii=False, indent=1) + "\n"
        path = OUT / f"{name}.json"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("stale fixtures: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
