"""An independent check of a run record's shift grid (`robustness.shift`), on the paired axes.

    python tools/shift_reference.py --record run.json --sandkasse target/debug/sandkasse \
        --model models/unemployment-gbm.onnx --manifest models/unemployment-gbm.toml

For every point of the proxy-strength and label-rate axes the record lists, regenerates its
population from the point's own spec with `sandkasse generate` (so a point is a pure function of its
spec, as the record claims), builds the model's inputs as the manifest says (models/common.py),
scores them with ONNX Runtime's Python API, and requires:

- the point's accuracy against the recorded and the true outcome and its selection rate equal to
  the reference's to 1e-9;
- at each point with a paired change: the number of citizens whose decision differs from the axis's
  own setting, exactly; the changes of accuracy and selection rate to 1e-9; the reference group (the
  largest, for a run that configures none); every sex and origin group's disparate impact (its
  selection rate over the reference group's) at both settings to 1e-9.

Exits 1 naming the first difference.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))

import common  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

BIAS_KEYS = [
    "label_rate",
    "label_group",
    "label_direction",
    "representation_factor",
    "representation_group",
    "measurement_sd",
    "measurement_group",
    "measurement_feature",
    "proxy_strength",
]


def fail(message):
    print(f"shift_reference: {message}", file=sys.stderr)
    sys.exit(1)


def close(what, ours, theirs, tol=1e-9):
    if abs(ours - theirs) > tol:
        fail(f"{what}: the record says {ours!r}, the reference {theirs!r}")


def population(spec, sandkasse, workdir, k):
    """The point's population, from `sandkasse generate` with every field of its spec."""
    out = os.path.join(workdir, f"point-{k}.parquet")
    args = [sandkasse, "generate", "--scenario", spec["scenario"], "--rows", str(spec["rows"]),
            "--seed", str(spec["seed"]), "--split", spec["split"], "--out", out, "-q"]
    for key in BIAS_KEYS:
        value = spec["bias"].get(key)
        if value is not None:
            args += ["--bias", f"{key}={value}"]
    subprocess.run(args, check=True)
    return pq.read_table(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--record", required=True)
    p.add_argument("--sandkasse", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--manifest", required=True)
    args = p.parse_args()
    record = json.load(open(args.record))
    shift = record["robustness"]["shift"]
    manifest = common.read_manifest(args.manifest)
    threshold = manifest["output"]["threshold"]
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    answers = {}
    checked = 0
    with tempfile.TemporaryDirectory(prefix="sandkasse-shift-") as workdir:
        for k, point in enumerate(shift["points"]):
            if point["axis"] not in ("proxy_strength", "label_rate"):
                continue
            table = population(point["spec"], args.sandkasse, workdir, k)
            out = session.run(None, common.build_inputs(table, manifest))
            names = [o.name for o in session.get_outputs()]
            prob = common.positive_probability(out[names.index(manifest["output"]["probability"])],
                                               manifest["output"]["positive_class"])
            decision = prob.astype(np.float64) >= threshold
            recorded = np.asarray(table.column("outcome_recorded").to_numpy(zero_copy_only=False), dtype=bool)
            truth = np.asarray(table.column("outcome_true").to_numpy(zero_copy_only=False), dtype=bool)
            groups = {a: common.strings(table, a) for a in ("sex", "origin") if a in table.column_names}
            answers[(point["axis"], json.dumps(point["value"]))] = (decision, recorded, truth, groups)
            where = f"{point['axis']} = {point['value']}"
            if len(decision) != point["rows"]:
                fail(f"{where}: {point['rows']} citizens in the record, {len(decision)} regenerated")
            close(f"{where}: accuracy", point["accuracy"]["value"], float(np.mean(decision == recorded)))
            close(f"{where}: accuracy_true", point["accuracy_true"]["value"], float(np.mean(decision == truth)))
            close(f"{where}: selection rate", point["selection_rate"]["value"], float(np.mean(decision)))
            checked += 1
        for point in shift["points"]:
            change = point.get("change")
            if change is None:
                continue
            where = f"{point['axis']} = {point['value']} from {change['from']}"
            d1, y1, t1, g1 = answers[(point["axis"], json.dumps(point["value"]))]
            d0, y0, t0, g0 = answers[(point["axis"], json.dumps(change["from"]))]
            if int(np.sum(d0 != d1)) != change["decisions_changed"]:
                fail(f"{where}: {change['decisions_changed']} decisions changed in the record, "
                     f"{int(np.sum(d0 != d1))} in the reference")
            close(f"{where}: accuracy change", change["accuracy"]["value"],
                  float(np.mean(d1 == y1) - np.mean(d0 == y0)))
            close(f"{where}: accuracy_true change", change["accuracy_true"]["value"],
                  float(np.mean(d1 == t1) - np.mean(d0 == t0)))
            close(f"{where}: selection rate change", change["selection_rate"]["value"],
                  float(np.mean(d1) - np.mean(d0)))
            for g in change["disparate_impact"]:
                if g["attribute"] not in g0:
                    continue
                values = g0[g["attribute"]]
                if not np.array_equal(values, g1[g["attribute"]]):
                    fail(f"{where}: {g['attribute']} differs between the two populations: they are not paired")
                names, counts = np.unique(values, return_counts=True)
                largest = sorted(zip(-counts, names))[0][1]
                if g["reference"] != largest:
                    fail(f"{where}: the reference group of {g['attribute']} is {g['reference']!r}; "
                         f"the largest group (no reference configured) is {largest!r}")
                mine, ref = values == g["group"], values == g["reference"]
                close(f"{where}: disparate impact of {g['group']} before",
                      g["from"], float(np.mean(d0[mine]) / np.mean(d0[ref])))
                close(f"{where}: disparate impact of {g['group']} after",
                      g["to"], float(np.mean(d1[mine]) / np.mean(d1[ref])))
                checked += 1
    if checked == 0:
        fail("the record has no point on a paired axis")
    print(f"shift numbers equal the reference ({checked} points and group changes checked)")


if __name__ == "__main__":
    main()
