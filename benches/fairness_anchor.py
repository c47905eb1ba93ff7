"""Anchors for the fairness bench: fairlearn MetricFrame and Aequitas on the same 1M-row file.

Same columns as benches/metrics.rs: label outcome_recorded, decision outcome_true, groups sex,
ui_member, education (24 intersections); 5 metrics: selection rate, TPR, FPR, precision,
accuracy. File reading is outside the timed part, as in the Rust bench.
"""
import functools
import json
import sys
import time

import pandas as pd
from sklearn.metrics import accuracy_score, precision_score
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
import fairlearn

path = sys.argv[1]
df = pd.read_parquet(path, columns=["outcome_recorded", "outcome_true", "sex", "ui_member", "education"])
y = df["outcome_recorded"].astype(int).to_numpy()
p = df["outcome_true"].astype(int).to_numpy()
sf = pd.DataFrame({"sex": df["sex"].astype(str), "ui_member": df["ui_member"].astype(str),
                   "education": df["education"].astype(str)})
metrics = {
    "selection_rate": selection_rate,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
    "precision": functools.partial(precision_score, zero_division=0),
    "accuracy": accuracy_score,
}
results = {}
start = time.perf_counter()
mf = MetricFrame(metrics=metrics, y_true=y, y_pred=p, sensitive_features=sf)
_ = (mf.by_group, mf.difference(), mf.ratio())
results["fairlearn"] = {"version": fairlearn.__version__, "seconds": round(time.perf_counter() - start, 3),
                        "groups": int(len(mf.by_group))}

try:
    import aequitas
    from aequitas.bias import Bias
    from aequitas.group import Group

    adf = pd.DataFrame({"score": p, "label_value": y, **{c: sf[c] for c in sf.columns}})
    start = time.perf_counter()
    xtab, _ = Group().get_crosstabs(adf)
    Bias().get_disparity_major_group(xtab, original_df=adf)
    results["aequitas"] = {"version": getattr(aequitas, "__version__", "1.1.0"),
                           "seconds": round(time.perf_counter() - start, 3),
                           "note": "per attribute only: Aequitas has no intersections"}
except Exception as e:  # report, do not hide
    results["aequitas"] = {"error": repr(e)}
print(json.dumps(results))
