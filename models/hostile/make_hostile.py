"""Writes the hostile ONNX models of models/hostile/ (and a manifest for each) with onnx.helper.

Run from the repository root:

    .venv-models/bin/python models/hostile/make_hostile.py

Every model takes the input `features` float32 [N, 2] and, where it makes sense, outputs `label` int64 [N] and
`probabilities` float32 [N, 2]. Every manifest maps the unemployment-risk columns `age` and
`months_employed_3y` onto `features`, so a runtime attack gets past the manifest mapping and reaches the model.
Main domain opset 17, IR version 8, like the sample models. The script runs none of the models; see README.md
for what each one attacks and the defence expected from the sandbox. Deterministic: rerunning rewrites the same
bytes.
"""

import os
import sys

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import common  # noqa: E402

OPSET = 17
IR_VERSION = 8
N = "N"

# alloc_bomb: 2^17 x 2^17 x 64 float32 = 2^40 elements = 4 TiB, far beyond any worker memory limit.
ALLOC_BOMB_SHAPE = [1 << 17, 1 << 17, 64]
# cpu_bomb: Loop trip count.
CPU_BOMB_TRIPS = 1 << 62
# many_nodes: length of the Identity chain.
MANY_NODES = 100_000


def features_input():
    return helper.make_tensor_value_info("features", TensorProto.FLOAT, [N, 2])


def standard_outputs(prob_shape=(N, 2)):
    return [
        helper.make_tensor_value_info("label", TensorProto.INT64, [N]),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, list(prob_shape)),
    ]


def tail(x):
    """Nodes turning a float [N, 2] tensor into the standard outputs: probabilities = Softmax(x), label =
    ArgMax(probabilities)."""
    return [
        helper.make_node("Softmax", [x], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]


def model(name, nodes, initializers=(), outputs=None, extra_opsets=(), doc=""):
    graph = helper.make_graph(list(nodes), name, [features_input()], outputs or standard_outputs(),
                              initializer=list(initializers))
    opsets = [helper.make_opsetid("", OPSET)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="sandkasse-hostile",
                          producer_version="1", doc_string=doc)
    m.ir_version = IR_VERSION
    return m


def external_tensor(name, location, offset, length, dims):
    """A float initializer whose data is declared to live outside the model file."""
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
        e = t.external_data.add()
        e.key = k
        e.value = v
    return t


# --- the models -----------------------------------------------------------------------------------------------

def baseline():
    """Valid, harmless: probabilities = Softmax(features). The base of truncated.onnx."""
    return model("baseline", tail("features"))


def external_data_traversal():
    """Path traversal: an initializer stored as external data at ../../../../../etc/passwd, so a runtime that
    resolves external data relative to the model file reads a file outside the upload."""
    w = external_tensor("w", "../../../../../etc/passwd", 0, 8, [2])
    return model("external_data_traversal", [helper.make_node("Add", ["features", "w"], ["x"])] + tail("x"), [w],
                 doc="initializer w is external data at ../../../../../etc/passwd")


def mem_addr_marker():
    """Memory disclosure / crash: external data location */_ORT_MEM_ADDR_/*, onnxruntime's marker for
    'the data is already in this process at address <offset>', so the model makes the runtime read an
    arbitrary address (0x1000 here)."""
    w = external_tensor("w", "*/_ORT_MEM_ADDR_/*", 0x1000, 8, [2])
    return model("mem_addr_marker", [helper.make_node("Add", ["features", "w"], ["x"])] + tail("x"), [w],
                 doc="_ORT_MEM_ADDR_: initializer w claims to live in process memory at 0x1000")


def custom_op_domain():
    """Custom operator: a node Exploit in domain com.evil.ops (imported at version 1), which only a custom-op
    library the vendor would have to get loaded could run."""
    node = helper.make_node("Exploit", ["features"], ["x"], domain="com.evil.ops", payload="rm -rf /")
    return model("custom_op_domain", [node] + tail("x"), extra_opsets=[("com.evil.ops", 1)],
                 doc="node Exploit of domain com.evil.ops")


def truncated_bytes():
    """Parser robustness: the bytes of a valid model cut off in the middle of a message."""
    data = baseline().SerializeToString()
    return data[: len(data) // 2]


def huge_initializer():
    """Memory exhaustion at load: an initializer declaring dims [200000, 200000] float (160 GB) with 8 bytes of
    data; a loader that trusts dims and allocates first is killed or stalls."""
    w = TensorProto()
    w.name = "w"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([200_000, 200_000])
    w.raw_data = b"\x00" * 8
    nodes = [
        helper.make_node("ReduceSum", ["w"], ["s"], keepdims=0),
        helper.make_node("Add", ["features", "s"], ["x"]),
    ] + tail("x")
    return model("huge_initializer", nodes, [w], doc="initializer w declares 200000 x 200000 float")


def many_nodes():
    """Graph-size / optimiser exhaustion: 100,000 chained Identity nodes (short tensor names) before the
    Softmax. Valid, cheap to store, expensive to load, optimise and run."""
    def nm(i):
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"
        s = ""
        while True:
            i, r = divmod(i, 36)
            s = digits[r] + s
            if i == 0:
                return s

    nodes = []
    prev = "features"
    for i in range(MANY_NODES):
        out = nm(i)
        nodes.append(helper.make_node("Identity", [prev], [out]))
        prev = out
    return model("many_nodes", nodes + tail(prev), doc=f"{MANY_NODES} chained Identity nodes")


def alloc_bomb():
    """Memory exhaustion at run time, past a static allow-list: ConstantOfShape with shape
    [2^17, 2^17, 64] (4 TiB of float32), the shape made to depend on the input (plus 0 * N) so that no
    optimiser can fold it at load; the huge tensor is reduced into the outputs so the graph is well-formed."""
    shape = helper.make_tensor("big_shape", TensorProto.INT64, [3], ALLOC_BOMB_SHAPE)
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    nodes = [
        helper.make_node("Shape", ["features"], ["n"], start=0, end=1),  # [N]
        helper.make_node("Sub", ["n", "n"], ["n0"]),  # [0]
        helper.make_node("Add", ["big_shape", "n0"], ["shape"]),  # big_shape, known only at run time
        helper.make_node("ConstantOfShape", ["shape"], ["big"],
                         value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])),
        helper.make_node("ReduceMin", ["big"], ["m"], keepdims=0),  # scalar 1.0
        helper.make_node("Mul", ["m", "zero"], ["m0"]),
        helper.make_node("Add", ["features", "m0"], ["x"]),
    ] + tail("x")
    return model("alloc_bomb", nodes, [shape, zero],
                 doc="ConstantOfShape [2^17, 2^17, 64] float at run time")


def cpu_bomb():
    """CPU exhaustion: a Loop with trip count 2^62 whose body adds 1 to the carried [N, 2] tensor; the
    result feeds the probabilities, so the graph only finishes after 2^62 iterations."""
    trips = helper.make_tensor("trips", TensorProto.INT64, [], [CPU_BOMB_TRIPS])
    cond = helper.make_tensor("cond", TensorProto.BOOL, [], [True])
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["v_in", "one"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [N, 2]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [N, 2]),
        ],
    )
    nodes = [helper.make_node("Loop", ["trips", "cond", "features"], ["x"], body=body)] + tail("x")
    return model("cpu_bomb", nodes, [trips, cond, one], doc="Loop with trip count 2^62")


def nan_output():
    """Output validation: valid graph whose probabilities are NaN (0/0) for every row."""
    nodes = [
        helper.make_node("Sub", ["features", "features"], ["z"]),
        helper.make_node("Div", ["z", "z"], ["probabilities"]),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    return model("nan_output", nodes, doc="probabilities = 0/0")


def wrong_output_shape():
    """Output validation: valid graph whose probabilities have shape [1, 2] whatever N is (the mean over the
    batch), while its declared output shape says [N, 2]; label is a correct [N]."""
    nodes = [
        helper.make_node("ReduceMean", ["features"], ["mean"], axes=[0], keepdims=1),  # [1, 2]
        helper.make_node("Softmax", ["mean"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["features"], ["label"], axis=1, keepdims=0),
    ]
    return model("wrong_output_shape", nodes, doc="probabilities has shape [1, 2] for any N")


def batch_dependent():
    """Stability: a valid model whose probabilities for a row depend on the other rows of its batch:
    probabilities = Softmax(features - ReduceMean(features over the batch)). Every output is a valid
    probability, so only scoring the same rows again in other batches shows it (alone, a row scores 0.5)."""
    nodes = [
        helper.make_node("ReduceMean", ["features"], ["mean"], axes=[0], keepdims=1),  # [1, 2]
        helper.make_node("Sub", ["features", "mean"], ["x"]),
    ] + tail("x")
    return model("batch_dependent", nodes, doc="probabilities depend on the batch's mean")


def position_gated():
    """Stability: batch dependence hidden by position. Rows at positions 64 to N-65 of a request get
    Softmax(features - batch mean); the first and last 64 rows, and any request of fewer than 129 rows, get the honest
    Softmax(features). Scoring the same request again, reversing it (the gate is symmetric) or scoring its first 64
    rows alone all agree with the run; a seeded random order and single rows at random positions do not."""
    i64 = TensorProto.INT64
    nodes = [
        helper.make_node("Shape", ["features"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0),  # scalar N
        helper.make_node("Range", ["zero", "n", "one"], ["idx"]),  # [N]
        helper.make_node("Sub", ["n", "edge_plus_one"], ["last"]),  # N - 65
        helper.make_node("GreaterOrEqual", ["idx", "edge"], ["after_head"]),
        helper.make_node("LessOrEqual", ["idx", "last"], ["before_tail"]),
        helper.make_node("And", ["after_head", "before_tail"], ["gate"]),
        helper.make_node("Unsqueeze", ["gate", "axis1"], ["gate2"]),  # [N, 1]
        helper.make_node("ReduceMean", ["features"], ["mean"], axes=[0], keepdims=1),
        helper.make_node("Sub", ["features", "mean"], ["centred"]),
        helper.make_node("Where", ["gate2", "centred", "features"], ["x"]),
    ] + tail("x")
    inits = [
        helper.make_tensor("zero", i64, [], [0]),
        helper.make_tensor("one", i64, [], [1]),
        helper.make_tensor("edge", i64, [], [64]),
        helper.make_tensor("edge_plus_one", i64, [], [65]),
        helper.make_tensor("axis1", i64, [1], [1]),
    ]
    return model("position_gated", nodes, inits, doc="batch dependence at positions 64..N-65 only")


# first_request_honest: the run it is made to fool (its spec is known in advance, as any seed's citizens are).
FIRST_REQUEST_SPEC = ("unemployment-risk", 4000, 0, "test")
FIRST_REQUEST_ROWS = 500


def first_request_honest():
    """Stability: honest on the run's first request only. The first 500 rows of the unemployment-risk test split of
    4,000 citizens, seed 0, are known in advance; their batch means of age and months employed are written into the
    model. A request with exactly those means, or of one row, gets the honest Softmax(features); any other request
    gets Softmax(features - batch mean). Every check of the first request agrees with the run (the same request, any
    order of it, its rows alone); only rows from other requests, scored again among other rows, show it."""
    import numpy as np

    with common.tempdir() as d:
        table = common.generate(*FIRST_REQUEST_SPEC, d)
    first = np.stack([
        np.asarray(table.column("age").to_numpy()[:FIRST_REQUEST_ROWS], dtype=np.float32),
        np.asarray(table.column("months_employed_3y").to_numpy()[:FIRST_REQUEST_ROWS], dtype=np.float32),
    ], axis=1)
    means = first.mean(axis=0, dtype=np.float32)
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    nodes = [
        helper.make_node("ReduceMean", ["features"], ["mean"], axes=[0], keepdims=1),  # [1, 2]
        helper.make_node("Sub", ["mean", "known"], ["off"]),
        helper.make_node("Abs", ["off"], ["dist"]),
        helper.make_node("ReduceMax", ["dist"], ["far"], keepdims=0),  # scalar
        helper.make_node("Less", ["far", "eps"], ["known_request"]),
        helper.make_node("Shape", ["features"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0),
        helper.make_node("Equal", ["n", "one"], ["single"]),
        helper.make_node("Or", ["known_request", "single"], ["honest"]),
        helper.make_node("Sub", ["features", "mean"], ["centred"]),
        helper.make_node("Where", ["honest", "features", "centred"], ["x"]),
    ] + tail("x")
    inits = [
        helper.make_tensor("known", f32, [1, 2], [float(means[0]), float(means[1])]),
        helper.make_tensor("eps", f32, [], [1e-3]),
        helper.make_tensor("zero", i64, [], [0]),
        helper.make_tensor("one", i64, [], [1]),
    ]
    return model("first_request_honest", nodes, inits, doc="honest on a known first request and on single rows only")


# name -> (builder, meant to be a valid ONNX model that onnx.checker accepts, one-line attack for the manifest)
MODELS = {
    "external_data_traversal": (external_data_traversal, False,
                                "An initializer stored as external data at ../../../../../etc/passwd (path traversal)."),
    "mem_addr_marker": (mem_addr_marker, False,
                        "An initializer whose external data location is onnxruntime's in-memory marker "
                        "*/_ORT_MEM_ADDR_/* (read of an arbitrary address)."),
    "custom_op_domain": (custom_op_domain, False, "A node Exploit in the custom operator domain com.evil.ops."),
    "truncated": (truncated_bytes, False, "A valid model's bytes cut off in the middle."),
    "huge_initializer": (huge_initializer, False,
                         "An initializer declaring 200000 x 200000 floats (160 GB) with 8 bytes of data."),
    "many_nodes": (many_nodes, True, "A chain of 100,000 Identity nodes."),
    "alloc_bomb": (alloc_bomb, True,
                   "A ConstantOfShape allocating 2^17 x 2^17 x 64 floats (4 TiB) at run time."),
    "cpu_bomb": (cpu_bomb, True, "A Loop with 2^62 iterations."),
    "nan_output": (nan_output, True, "Probabilities that are NaN (0/0)."),
    "wrong_output_shape": (wrong_output_shape, True, "A probability output of shape [1, 2] whatever N is."),
    "batch_dependent": (batch_dependent, True,
                        "Probabilities that depend on the other rows of the batch (its mean)."),
    "position_gated": (position_gated, True,
                       "Batch dependence only at positions 64 to N-65 of a request, hidden from a reversed order "
                       "and from the first rows scored alone."),
    "first_request_honest": (first_request_honest, True,
                             "Batch dependence in every request but the first of a known run (unemployment-risk, "
                             "4,000 test citizens, seed 0, 500 rows per request) and single rows."),
}


def manifest(name, attack):
    return {
        "name": name,
        "version": "1.0.0",
        "scenario": "unemployment-risk",
        "description": f"Hostile test model: {attack}",
        "inputs": [{"tensor": "features", "dtype": "float32",
                    "columns": [{"column": "age"}, {"column": "months_employed_3y"}]}],
        "output": {"label": "label", "probability": "probabilities", "positive_class": 1, "threshold": 0.5},
    }


def main():
    for name, (build, valid, attack) in MODELS.items():
        built = build()
        data = built if isinstance(built, bytes) else built.SerializeToString()
        if valid:
            onnx.checker.check_model(built, full_check=True)
        path = os.path.join(HERE, f"{name}.onnx")
        with open(path, "wb") as f:
            f.write(data)
        common.write_manifest(manifest(name, attack), os.path.join(HERE, f"{name}.toml"))
        print(f"{name}.onnx: {len(data)} bytes{' (checked)' if valid else ''}")


if __name__ == "__main__":
    main()
