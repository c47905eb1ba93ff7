"""Shared helpers for train.py and reference.py: generating data with the sandkasse binary, reading it,
building model input tensors from a manifest, and writing manifests as TOML.

The tensor building here is the reference for what the Rust side must do with a manifest:
  * dtype float32: one float per plain column (numeric cast to float32, booleans 0/1) and, for a column with
    `one_hot`, one float per listed category in the listed order (1.0 if equal, else 0.0);
  * dtype int64: the same with int64;
  * dtype string: the category's text, one column each, as an object array of shape [N, k].
"""

import os
import subprocess
import tempfile

# Single-threaded BLAS/OpenMP: bit-for-bit reproducible training, and polite on a 2-core machine.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

MODELS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(MODELS_DIR)
SANDKASSE = os.environ.get("SANDKASSE_BIN", os.path.join(REPO_DIR, "target", "release", "sandkasse"))

# target_opset of every export: main domain 17 (IR version 8) and ai.onnx.ml 3. skl2onnx 1.20.0 is tested up
# to opset 22 and onnxruntime 1.31.1 runs main-domain opsets beyond that and ai.onnx.ml up to 5; 17/3 is the
# conservative common ground (TreeEnsembleClassifier is not yet deprecated in ai.onnx.ml 3). skl2onnx then
# stamps each graph with the lowest opsets its operators need, so the files declare main 9-17, ai.onnx.ml 1.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}

# Columns that must never be model features (protected attribute, its direct proxy, identifiers, the truth).
FORBIDDEN_FEATURES = {
    "origin", "country_of_origin", "p_true", "outcome_true", "outcome_recorded",
    "expected_true", "level_true", "level_recorded",
    "first_name", "last_name", "cpr", "person_id", "birth_date",
}

NON_WESTERN = {"immigrant_non_western", "descendant_non_western"}


def generate(scenario, rows, seed, split, workdir):
    """Runs `sandkasse generate` and returns the Parquet table (deterministic for equal arguments)."""
    out = os.path.join(workdir, f"{scenario}-{rows}-{seed}-{split}.parquet")
    if not os.path.exists(out):
        subprocess.run(
            [SANDKASSE, "generate", "--scenario", scenario, "--rows", str(rows), "--seed", str(seed),
             "--split", split, "--out", out, "-q"],
            check=True,
        )
    return pq.read_table(out)


def tempdir():
    return tempfile.TemporaryDirectory(prefix="sandkasse-models-")


def strings(table, column):
    """The column's values as a numpy object array of Python str (dictionary columns decoded)."""
    col = table.column(column)
    if pa.types.is_dictionary(col.type):
        col = col.cast(pa.string())
    return np.array(col.to_pylist(), dtype=object)


def numbers(table, column, dtype):
    col = table.column(column)
    if pa.types.is_boolean(col.type):
        return np.array(col.to_pylist(), dtype=bool).astype(dtype)
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise TypeError(f"column {column} of type {col.type} is neither numeric nor boolean")
    return col.to_numpy().astype(dtype)


def build_input(table, spec):
    """One model input tensor from the Parquet table, exactly per one `[[inputs]]` entry of a manifest."""
    dtype = spec["dtype"]
    parts = []
    for c in spec["columns"]:
        name = c["column"]
        if name in FORBIDDEN_FEATURES:
            raise ValueError(f"{name} must not be a feature")
        if dtype == "string":
            parts.append(strings(table, name).reshape(-1, 1))
        elif "one_hot" in c:
            values = strings(table, name)
            np_dtype = np.float32 if dtype == "float32" else np.int64
            for cat in c["one_hot"]:
                parts.append((values == cat).astype(np_dtype).reshape(-1, 1))
        else:
            np_dtype = np.float32 if dtype == "float32" else np.int64
            parts.append(numbers(table, name, np_dtype).reshape(-1, 1))
    return np.hstack(parts) if dtype != "string" else np.concatenate(parts, axis=1).astype(object)


def build_inputs(table, manifest):
    """{tensor name: numpy array} for every input of a manifest."""
    return {spec["tensor"]: build_input(table, spec) for spec in manifest["inputs"]}


def n_columns(spec):
    return sum(len(c["one_hot"]) if "one_hot" in c else 1 for c in spec["columns"])


def _toml_str(s):
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def manifest_toml(m):
    """The manifest dict as TOML, in the documented layout (see models/README.md)."""
    lines = [
        f"name = {_toml_str(m['name'])}",
        f"version = {_toml_str(m['version'])}",
        f"scenario = {_toml_str(m['scenario'])}",
        f"description = {_toml_str(m['description'])}",
    ]
    for spec in m["inputs"]:
        lines += ["", "[[inputs]]", f"tensor = {_toml_str(spec['tensor'])}", f"dtype = {_toml_str(spec['dtype'])}",
                  "columns = ["]
        for c in spec["columns"]:
            if "one_hot" in c:
                cats = ", ".join(_toml_str(x) for x in c["one_hot"])
                lines.append(f"  {{ column = {_toml_str(c['column'])}, one_hot = [{cats}] }},")
            else:
                lines.append(f"  {{ column = {_toml_str(c['column'])} }},")
        lines.append("]")
    o = m["output"]
    lines += ["", "[output]"]
    if "task" not in o:
        lines += [f"label = {_toml_str(o['label'])}", f"probability = {_toml_str(o['probability'])}",
                  f"positive_class = {int(o['positive_class'])}", f"threshold = {float(o['threshold'])!r}"]
    elif o["task"] == "regression":
        lines += ['task = "regression"', f"value = {_toml_str(o['value'])}"]
    else:
        classes = ", ".join(_toml_str(c) for c in o["classes"])
        lines += [f"task = {_toml_str(o['task'])}", f"label = {_toml_str(o['label'])}",
                  f"probability = {_toml_str(o['probability'])}", f"classes = [{classes}]"]
    return "\n".join(lines) + "\n"


def write_manifest(m, path):
    text = manifest_toml(m)
    import tomllib  # round-trip check: what we wrote parses back to what we meant

    assert tomllib.loads(text) == m, f"manifest {path} does not round-trip"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def read_manifest(path):
    import tomllib

    with open(path, "rb") as f:
        return tomllib.load(f)


def positive_probability(prob_output, positive_class, classes=(0, 1)):
    """P(positive_class) per row from an onnxruntime probability output: a float tensor [N, n_classes]
    (column = index of the class among the sorted labels) or a ZipMap list of {label: p} dicts."""
    if isinstance(prob_output, list):
        return np.array([row[positive_class] for row in prob_output], dtype=np.float32)
    return np.asarray(prob_output)[:, list(classes).index(positive_class)]
