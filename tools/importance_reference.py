"""An independent recomputation of a run record's permutation importance (`explanations.importance`).

    python tools/importance_reference.py --record run.json --dataset test.parquet \
        --model models/unemployment-gbm.onnx --manifest models/unemployment-gbm.toml

Reads the rows the record says it explained (the dataset's first `explanations.rows.count` rows; the file
must be a test split without counterfactual twins), and for every column and repeat draws the same
permutation from the record's seed with its own implementation of the published algorithm (SplitMix64,
Fisher-Yates with Lemire's multiply-shift, the seed mixed with FNV-1a of the column's name and the repeat),
builds the model's inputs from the permuted rows exactly as the manifest says (models/common.py), scores
them with ONNX Runtime's Python API, and measures with scikit-learn (roc_auc_score, accuracy_score,
log_loss) and SciPy's Student t. Every number of every column, overall and per group of every attribute,
must equal the record's: decisions exactly, metrics to 1e-9, interval bounds to 1e-6. Exits 1 naming the
first difference, 0 when all agree (and prints how many numbers it compared).
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
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score  # noqa: E402

MASK = (1 << 64) - 1
AGE_BANDS = ["0-17", "18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90+"]


def permutation(n, seed):
    state = seed
    p = list(range(n))
    for i in range(n - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        j = (z * (i + 1)) >> 64
        p[i], p[j] = p[j], p[i]
    return p


def permutation_seed(seed, column, repeat):
    h = 0xCBF29CE484222325
    for b in column.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    rotated = ((seed << 17) | (seed >> 47)) & MASK
    return h ^ rotated ^ ((repeat * 0x9E3779B97F4A7C15) & MASK)


def age_band(age):
    if age <= 17:
        return AGE_BANDS[0]
    if age <= 29:
        return AGE_BANDS[1]
    if age >= 90:
        return AGE_BANDS[8]
    return AGE_BANDS[age // 10 - 1]


def group_values(table, attribute):
    if attribute == "age_band" and "age_band" not in table.column_names:
        return [age_band(a) for a in table.column("age").to_pylist()]
    col = table.column(attribute)
    if pa.types.is_dictionary(col.type):
        col = col.cast(pa.string())
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in col.to_pylist()]


def metrics(decision, prob, label, rows):
    y = label[rows]
    out = {"accuracy": accuracy_score(y, decision[rows])}
    both = y.any() and (~y).any()
    out["roc_auc"] = roc_auc_score(y, prob[rows]) if both else None
    out["log_loss"] = log_loss(y, prob[rows].astype(np.float64), labels=[False, True])
    return out


def effect(values, confidence):
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    if sd == 0.0:
        return mean, 0.0, [mean, mean]
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return mean, sd, [mean - half, mean + half]


class Compare:
    def __init__(self):
        self.count = 0

    def close(self, what, got, want, tol):
        self.count += 1
        if want is None or got is None:
            if want is not got:
                raise SystemExit(f"{what}: record {got}, reference {want}")
            return
        if abs(got - want) > tol:
            raise SystemExit(f"{what}: record {got!r}, reference {want!r} (difference {abs(got - want):.3g})")

    def effect(self, what, recorded, values, confidence, tol):
        if recorded is None:
            if values:
                raise SystemExit(f"{what}: missing in the record, reference has {len(values)} repeats")
            return
        mean, sd, interval = effect(values, confidence)
        self.close(f"{what} mean", recorded["mean"], mean, tol)
        self.close(f"{what} sd", recorded["sd"], sd, tol)
        self.close(f"{what} interval low", recorded["interval"][0], interval[0], 1e-6)
        self.close(f"{what} interval high", recorded["interval"][1], interval[1], 1e-6)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--manifest", required=True)
    args = ap.parse_args()

    record = json.load(open(args.record))
    ex = record["explanations"]
    imp = ex["importance"]
    config = imp["config"]
    n = ex["rows"]["count"]
    manifest = common.read_manifest(args.manifest)
    threshold = manifest["output"].get("threshold", 0.5)
    table = pq.read_table(args.dataset)
    if "is_twin" in table.column_names:
        raise SystemExit("the reference takes a dataset without counterfactual twins")
    table = table.slice(0, n)
    recorded = np.array(table.column("outcome_recorded").to_pylist(), dtype=bool)
    truth = np.array(table.column("outcome_true").to_pylist(), dtype=bool)

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])

    def score(t):
        (prob,) = sess.run([manifest["output"]["probability"]], common.build_inputs(t, manifest))
        p = common.positive_probability(prob, manifest["output"]["positive_class"]).astype(np.float64)
        return p >= threshold, p

    # Every input column the manifest uses, derived here and not taken from the record: a column
    # the record leaves out (or adds) is an error, not a row this check skips.
    used = sorted({c["column"] for spec in manifest["inputs"] for c in spec["columns"]})
    in_record = sorted(c["column"] for c in imp["columns"])
    if in_record != used:
        sys.exit(f"the record's importance columns {in_record} are not the manifest's inputs {used}")
    base_decision, base_prob = score(table)
    attributes = sorted({g["attribute"] for c in imp["columns"] for g in c["groups"]})
    scopes = [("overall", None, np.arange(n))]
    for a in attributes:
        values = np.array(group_values(table, a), dtype=object)
        for v in sorted(set(values)):
            scopes.append((a, v, np.nonzero(values == v)[0]))
    cmp = Compare()
    for col in imp["columns"]:
        name = col["column"]
        samples = {s[:2]: {"changed": [], "recorded": {}, "truth": {}} for s in scopes}
        for repeat in range(config["repeats"]):
            p = permutation(n, permutation_seed(config["seed"], name, repeat))
            i = table.column_names.index(name)
            permuted = table.set_column(i, table.field(i), table.column(name).take(pa.array(p)))
            decision, prob = score(permuted)
            for attribute, value, rows in scopes:
                s = samples[(attribute, value)]
                s["changed"].append(float(np.mean(decision[rows] != base_decision[rows])))
                for key, label in (("recorded", recorded), ("truth", truth)):
                    before = metrics(base_decision, base_prob, label, rows)
                    after = metrics(decision, prob, label, rows)
                    for m, sign in (("roc_auc", 1.0), ("accuracy", 1.0), ("log_loss", -1.0)):
                        if before[m] is not None and after[m] is not None:
                            s[key].setdefault(m, []).append(sign * (before[m] - after[m]))
        recorded_scopes = [("overall", None, col["overall"])] + [
            (g["attribute"], g["value"], g["drops"]) for g in col["groups"]
        ]
        if len(recorded_scopes) != len(scopes):
            raise SystemExit(f"{name}: record has {len(recorded_scopes)} scopes, reference {len(scopes)}")
        for attribute, value, drops in recorded_scopes:
            s = samples.get((attribute, value))
            if s is None:
                raise SystemExit(f"{name}: the record's group {attribute}={value} is not in the reference")
            where = f"{name} {attribute}" + (f"={value}" if value is not None else "")
            cmp.effect(f"{where} decisions_changed", drops["decisions_changed"], s["changed"],
                       config["confidence"], 1e-12)
            for key in ("recorded", "truth"):
                for m in ("roc_auc", "accuracy", "log_loss"):
                    cmp.effect(f"{where} {key} {m}", drops[key][m], s[key].get(m, []), config["confidence"], 1e-9)
    print(f"importance reference: {len(imp['columns'])} columns, {len(scopes)} scopes, {config['repeats']} repeats, "
          f"{cmp.count} numbers equal")


if __name__ == "__main__":
    main()
