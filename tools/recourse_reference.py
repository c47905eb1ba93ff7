"""An independent check of a run record's recourse (`robustness.recourse`) for a logistic regression.

    python tools/recourse_reference.py --record run.json --dataset test.parquet \
        --model models/unemployment-logreg.onnx --manifest models/unemployment-logreg.toml

For a logistic regression the smallest change of one input that changes the decision has a closed
form: the logit is z = b + sum_j w_j (x_j - offset_j) scale_j (the model's Scaler and LinearClassifier,
read from the ONNX file with the `onnx` package), so moving input c by d moves z by a = w_c scale_c, and
the decision (p >= threshold, i.e. z >= logit(threshold)) changes at d* = (logit(threshold) - z) / a, in
the allowed direction only, rounded up to the next whole unit for integer columns (a decision changes
only strictly past the boundary), and only within the input's bounds.

Reads the rows the record says it searched (the dataset's first `recourse.rows` rows; the file must be a
test split without counterfactual twins), builds the model's inputs as the manifest says
(models/common.py), finds the citizens with the unfavourable decision with ONNX Runtime's Python API,
and requires, for every citizen the record lists: the same citizens, and each action's change equal to
the closed form to 1e-6 (None where the closed form is out of bounds). Also the share with recourse and
the median change of each action over every citizen. Exits 1 naming the first difference.
"""

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))

import common  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from onnx import helper  # noqa: E402


def fail(message):
    print(f"recourse differs: {message}", file=sys.stderr)
    sys.exit(1)


def linear_model(path):
    """(offset, scale, w, b) of a Scaler followed by a binary LinearClassifier with a logistic output."""
    model = onnx.load(path)
    attrs = {}
    for node in model.graph.node:
        for a in node.attribute:
            attrs[(node.op_type, a.name)] = helper.get_attribute_value(a)
    offset = np.array(attrs[("Scaler", "offset")], dtype=np.float64)
    scale = np.array(attrs[("Scaler", "scale")], dtype=np.float64)
    coefficients = np.array(attrs[("LinearClassifier", "coefficients")], dtype=np.float64)
    intercepts = np.array(attrs[("LinearClassifier", "intercepts")], dtype=np.float64)
    if attrs[("LinearClassifier", "post_transform")] != b"LOGISTIC":
        fail("the model is not a logistic regression")
    n = len(offset)
    if len(coefficients) == 2 * n:
        # One row per class; the positive class (label 1) is the second. sigma(z) + sigma(-z) = 1.
        w, b = coefficients[n:], intercepts[1]
    else:
        w, b = coefficients, intercepts[0]
    return offset, scale, w, b


def feature_index(manifest, column):
    """The position of a plain (not one-hot) column in the float tensor."""
    i = 0
    for spec in manifest["inputs"]:
        for c in spec["columns"]:
            if c["column"] == column and "one_hot" not in c:
                return i
            i += len(c.get("one_hot", [None]))
    fail(f"{column} is not a plain input of the model")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--manifest", required=True)
    args = ap.parse_args()
    record = json.load(open(args.record))
    rc = record["robustness"]["recourse"]
    res = rc["result"]
    manifest = common.read_manifest(args.manifest)
    threshold = manifest["output"].get("threshold", 0.5)
    table = pq.read_table(args.dataset)
    if "is_twin" in table.column_names:
        fail("the dataset must be a test split without counterfactual twins")
    table = table.slice(0, rc["rows"])
    inputs = common.build_inputs(table, manifest)
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    out = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))
    p = common.positive_probability(out[manifest["output"]["probability"]], manifest["output"]["positive_class"])
    decision = p.astype(np.float64) >= threshold
    unfavourable = res["config"]["unfavourable"]
    searched = [i for i in range(len(p)) if decision[i] == unfavourable]
    if len(searched) != res["overall"]["citizens"]:
        fail(f"{len(searched)} citizens with the unfavourable decision, the record says {res['overall']['citizens']}")
    listed = [c["row"] for c in res["citizens"]]
    if listed != searched[: len(listed)]:
        fail("the citizens listed are not the first ones with the unfavourable decision")
    if rc["every_citizen_listed"] and len(listed) != len(searched):
        fail("the record says every citizen is listed, but it lists fewer")

    offset, scale, w, b = linear_model(args.model)
    x = inputs["features"].astype(np.float64)
    z = b + ((x - offset) * scale) @ w
    target = math.log(threshold / (1 - threshold))
    compared = 0
    for j, action in enumerate(res["actions"]):
        column = action["column"]
        c = feature_index(manifest, column)
        a = w[c] * scale[c]
        integer = str(table.schema.field(column).type).startswith(("int", "uint"))
        closed = []
        for i in searched:
            own = x[i, c]
            # The decision is positive at z >= target: a positive citizen needs z < target, a
            # negative one z >= target.
            need = (target - z[i]) / a if a != 0 else math.inf
            up_ok = action["direction"] in ("up", "either")
            down_ok = action["direction"] in ("down", "either")
            d = None
            if a != 0 and ((need > 0 and up_ok) or (need < 0 and down_ok) or need == 0):
                if integer:
                    strict = unfavourable  # leaving the positive side needs z strictly below target
                    if need >= 0:
                        d = math.floor(need) + 1 if (strict and need == math.floor(need)) else math.ceil(need)
                        d = max(d, 1)
                    else:
                        d = -(math.floor(-need) + 1 if (strict and -need == math.floor(-need)) else math.ceil(-need))
                        d = min(d, -1)
                else:
                    d = need
                if not (action["min"] <= own + d <= action["max"]):
                    d = None
            closed.append(d)
        for k, citizen in enumerate(res["citizens"]):
            got = citizen["changes"][j]
            want = closed[k]
            if (got is None) != (want is None) or (got is not None and abs(got - want) > 1e-6):
                fail(f"row {citizen['row']}, {column}: the record says {got}, the closed form {want} (z = {z[searched[k]]})")
            compared += 1
        found = sorted(abs(d) for d in closed if d is not None)
        summary = res["overall"]["actions"][j]
        share = len(found) / len(searched) if searched else float("nan")
        if abs(summary["share"]["value"] - share) > 1e-12:
            fail(f"{column}: share {summary['share']['value']}, closed form {share}")
        if found:
            m = len(found)
            median = found[m // 2] if m % 2 else (found[m // 2 - 1] + found[m // 2]) / 2
            if abs(summary["median_change"] - median) > 1e-6:
                fail(f"{column}: median change {summary['median_change']}, closed form {median}")
        elif summary["median_change"] is not None:
            fail(f"{column}: a median change without any recourse")
    print(f"recourse of {len(searched)} citizens, {len(res['actions'])} actions: {compared} changes equal the closed form")


if __name__ == "__main__":
    main()
