"""Anchor for benches/inference.rs: onnxruntime's Python API (1.31.1, one intra-op thread) on the same
models and the same rows, at batch sizes 1, 64, 1024 and 8192: building the inputs from Arrow (numpy, as
models/common.py does) and InferenceSession.run. Prints rows per second.

    .venv/bin/python benches/onnxruntime_anchor.py target/release/sandkasse
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
os.environ["SANDKASSE_BIN"] = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/sandkasse")
import common  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tomllib  # noqa: E402

SIZES = [1, 64, 1024, 8192]


def best(f, budget=2.0):
    """Best time per call over repeated calls for about `budget` seconds."""
    f()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < budget or len(times) < 5:
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def main():
    print(f"onnxruntime {ort.__version__}")
    with tempfile.TemporaryDirectory() as d:
        table = common.generate("unemployment-risk", 8192, 11, "test", d)
    for name in ["unemployment-gbm", "unemployment-logreg"]:
        with open(os.path.join(common.MODELS_DIR, f"{name}.toml"), "rb") as f:
            manifest = tomllib.load(f)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(os.path.join(common.MODELS_DIR, f"{name}.onnx"), opts,
                                    providers=["CPUExecutionProvider"])
        for n in SIZES:
            part = table.slice(0, n)
            feats = best(lambda: common.build_inputs(part, manifest))
            inputs = common.build_inputs(part, manifest)
            run = best(lambda: sess.run(None, inputs))
            print(f"{name} batch {n:>5}: inputs {n / feats:>12,.0f} rows/s   run {n / run:>12,.0f} rows/s   "
                  f"both {n / (feats + run):>12,.0f} rows/s   ({(feats + run) * 1e6:,.1f} us per call)")


if __name__ == "__main__":
    main()
