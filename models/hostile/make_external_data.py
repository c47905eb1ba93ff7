"""Writes models/hostile/external/: one small model per place an ONNX tensor can carry external data.

ONNX Runtime opens the file named by any TensorProto whose `data_location` is EXTERNAL (or that has `external_data`
entries), wherever the tensor sits. Each model here puts one such tensor in one place (a graph initializer, a sparse
initializer's values or indices, a Constant's `value` or `sparse_value`, an attribute's `tensors` or `sparse_tensors`
list, a subgraph, an attribute's `graphs` list, a model-local function, a function attribute's default,
`training_info`), naming `../../../etc/shadow`. The sandbox must refuse every one of them at inspection, at upload and
in the worker, naming the place. `expected.json` lists, for each file, the rule and the path the refusal must name
(written here by hand, from where the tensor was put, not from what the inspector says); `manifest.toml` is a
manifest that fits all of them, for upload tests.

Needs the `onnx` package only (any 1.16 or later; written with 1.23.2). Run from the repository root:

    python3 -m venv /tmp/onnxgen-venv && /tmp/onnxgen-venv/bin/pip install onnx
    /tmp/onnxgen-venv/bin/python models/hostile/make_external_data.py

Deterministic: rerunning rewrites the same bytes. The script runs none of the models. Keep it in step with
`crates/inference/src/inspect/external.rs`: a unit test there fails when the schema has a field that can hold a
tensor and no model here reaches a tensor through it.
"""

import json
import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "external")

OPSET = 17
IR_VERSION = 8
N = "N"
SHADOW = "../../../etc/shadow"
MEM_ADDR = "*/_ORT_MEM_ADDR_/*"


def external(tensor, location=SHADOW, entries=True):
    """Marks `tensor` as keeping its data in a file at `location` (offset 0, 16 bytes)."""
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.ClearField("int64_data")
    tensor.data_location = TensorProto.EXTERNAL
    if entries:
        for k, v in (("location", location), ("offset", "0"), ("length", "16")):
            e = tensor.external_data.add()
            e.key = k
            e.value = v
    return tensor


def ext_float(name, dims=(2,), **kw):
    return external(helper.make_tensor(name, TensorProto.FLOAT, list(dims), [0.0] * _count(dims)), **kw)


def ext_int64(name, dims=(1,), **kw):
    return external(helper.make_tensor(name, TensorProto.INT64, list(dims), [0] * _count(dims)), **kw)


def _count(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def sparse(values, indices, dims=(2,)):
    return helper.make_sparse_tensor(values, indices, list(dims))


def plain_sparse(name="w"):
    """A harmless sparse tensor [2] with one value at index 0."""
    return sparse(helper.make_tensor(name, TensorProto.FLOAT, [1], [1.0]),
                  helper.make_tensor(name + "_idx", TensorProto.INT64, [1], [0]))


def io():
    return ([helper.make_tensor_value_info("features", TensorProto.FLOAT, [N, 2])],
            [helper.make_tensor_value_info("label", TensorProto.INT64, [N]),
             helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [N, 2])])


def tail(x):
    return [helper.make_node("Softmax", [x], ["probabilities"], axis=1, name="softmax"),
            helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0, name="argmax")]


def model(nodes, initializer=(), sparse_initializer=(), functions=(), training_info=(), extra_opsets=()):
    inputs, outputs = io()
    g = helper.make_graph(list(nodes), "main", inputs, outputs, initializer=list(initializer),
                          sparse_initializer=list(sparse_initializer))
    opsets = [helper.make_opsetid("", OPSET)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(g, opset_imports=opsets, producer_name="sandkasse-hostile", producer_version="1",
                          functions=list(functions))
    m.ir_version = IR_VERSION
    m.training_info.extend(training_info)
    return m


def add_w():
    """features + w -> x, then the standard outputs."""
    return [helper.make_node("Add", ["features", "w"], ["x"], name="add_w")] + tail("x")


def constant(name, output, **attrs):
    return helper.make_node("Constant", [], [output], name=name, **attrs)


def subgraph(name, nodes=(), initializer=()):
    """A graph with no inputs and one output `y` float [2]."""
    return helper.make_graph(list(nodes), name, [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
                             initializer=list(initializer))


def models():
    """(file, rule, path, what, model) for each place."""
    out = []

    def add(file, rule, path, what, m):
        out.append((file, rule, path, what, m))

    add("initializer", "external_data", 'graph "main".initializer[0] "w"',
        "a graph initializer", model(add_w(), initializer=[ext_float("w")]))

    add("sparse_initializer_values", "external_data", 'graph "main".sparse_initializer[0].values "w"',
        "the values of a sparse initializer",
        model(add_w(), sparse_initializer=[sparse(ext_float("w", (1,)),
                                                  helper.make_tensor("w_idx", TensorProto.INT64, [1], [0]))]))

    add("sparse_initializer_indices", "external_data", 'graph "main".sparse_initializer[0].indices "w_idx"',
        "the indices of a sparse initializer",
        model(add_w(), sparse_initializer=[sparse(helper.make_tensor("w", TensorProto.FLOAT, [1], [1.0]),
                                                  ext_int64("w_idx"))]))

    add("constant_value", "external_data",
        'graph "main".node[0] "const_w" (Constant).attribute[0] "value".t "w"',
        "a Constant's `value` (AttributeProto.t)",
        model([constant("const_w", "w", value=ext_float("w"))] + add_w()))

    add("constant_sparse_value", "external_data",
        'graph "main".node[0] "const_w" (Constant).attribute[0] "sparse_value".sparse_tensor.values "w"',
        "a Constant's `sparse_value` (AttributeProto.sparse_tensor): the place of issue 12",
        model([constant("const_w", "w", sparse_value=sparse(
            ext_float("w", (1,)), helper.make_tensor("w_idx", TensorProto.INT64, [1], [0])))] + add_w()))

    add("constant_sparse_value_mem_addr", "memory_address_marker",
        'graph "main".node[0] "const_w" (Constant).attribute[0] "sparse_value".sparse_tensor.values "w"',
        "a Constant's `sparse_value` whose location is ONNX Runtime's raw memory address marker",
        model([constant("const_w", "w", sparse_value=sparse(
            ext_float("w", (1,), location=MEM_ADDR),
            helper.make_tensor("w_idx", TensorProto.INT64, [1], [0])))] + add_w()))

    # helper.make_node sorts attributes by name: `extra` comes before `value`, `else_branch` before `then_branch`.
    # No standard operator takes a TENSORS or SPARSE_TENSORS attribute; ONNX Runtime would refuse the attribute
    # later, but only after it has read the tensors' data. The node is a valid Constant besides.
    add("attribute_tensors", "external_data",
        'graph "main".node[0] "const_w" (Constant).attribute[0] "extra".tensors[1] "b"',
        "the second tensor of an attribute's `tensors` list",
        model([constant("const_w", "w", value=helper.make_tensor("w", TensorProto.FLOAT, [2], [0.0, 0.0]),
                        extra=[helper.make_tensor("a", TensorProto.FLOAT, [1], [1.0]), ext_float("b")])]
              + add_w()))

    add("attribute_sparse_tensors", "external_data",
        'graph "main".node[0] "const_w" (Constant).attribute[0] "extra".sparse_tensors[1].indices "w_idx"',
        "the indices of the second sparse tensor of an attribute's `sparse_tensors` list",
        model([constant("const_w", "w", value=helper.make_tensor("w", TensorProto.FLOAT, [2], [0.0, 0.0]),
                        extra=[plain_sparse(), sparse(helper.make_tensor("w", TensorProto.FLOAT, [1], [1.0]),
                                                      ext_int64("w_idx"))])]
              + add_w()))

    then_branch = subgraph("then", [helper.make_node("Identity", ["s"], ["y"], name="id")],
                           initializer=[ext_float("s")])
    else_branch = subgraph("else", [constant("zero", "y", value=helper.make_tensor("z", TensorProto.FLOAT, [2],
                                                                                   [0.0, 0.0]))])
    cond = helper.make_tensor("cond", TensorProto.BOOL, [], [True])
    add("if_then_branch_initializer", "external_data",
        'graph "main".node[0] "branch" (If).attribute[1] "then_branch".g "then".initializer[0] "s"',
        "an initializer of an If's then_branch subgraph",
        model([helper.make_node("If", ["cond"], ["w"], name="branch", then_branch=then_branch,
                                else_branch=else_branch)] + add_w(), initializer=[cond]))

    body = helper.make_graph(
        [constant("body_const", "s", value=ext_float("s")),
         helper.make_node("Add", ["acc", "s"], ["acc_out"], name="body_add"),
         helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body_cond")],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [2])])
    add("loop_body_constant", "external_data",
        'graph "main".node[0] "loop" (Loop).attribute[0] "body".g "body".node[0] "body_const" (Constant)'
        '.attribute[0] "value".t "s"',
        "a Constant inside a Loop's body subgraph",
        model([helper.make_node("Loop", ["trips", "", "start"], ["w"], name="loop", body=body)] + add_w(),
              initializer=[helper.make_tensor("trips", TensorProto.INT64, [], [1]),
                           helper.make_tensor("start", TensorProto.FLOAT, [2], [0.0, 0.0])]))

    graphs_attr = helper.make_attribute("branches", [subgraph("first"),
                                                     subgraph("second", initializer=[ext_float("y")])])
    n = constant("const_w", "w", value=helper.make_tensor("w", TensorProto.FLOAT, [2], [0.0, 0.0]))
    n.attribute.append(graphs_attr)
    add("attribute_graphs", "external_data",
        'graph "main".node[0] "const_w" (Constant).attribute[1] "branches".graphs[1] "second".initializer[0] "y"',
        "an initializer of the second graph of an attribute's `graphs` list",
        model([n] + add_w()))

    f = helper.make_function("sandkasse.local", "f", [], ["w"],
                             [helper.make_node("Constant", [], ["w"], name="f_const", value=ext_float("w"))],
                             [helper.make_opsetid("", OPSET)])
    add("function_node_attribute", "external_data",
        'functions[0] "f".node[0] "f_const" (Constant).attribute[0] "value".t "w"',
        "a Constant inside a model-local function",
        model([helper.make_node("f", [], ["w"], domain="sandkasse.local", name="call_f")] + add_w(),
              functions=[f], extra_opsets=[("sandkasse.local", 1)]))

    g = helper.make_function("sandkasse.local", "g", [], ["w"],
                             [helper.make_node("Constant", [], ["w"], name="g_const",
                                               value=helper.make_tensor("w", TensorProto.FLOAT, [2], [0.0, 0.0]))],
                             [helper.make_opsetid("", OPSET)])
    default = helper.make_attribute("scale", ext_float("scale_default"))
    g.attribute_proto.append(default)
    add("function_attribute_default", "external_data",
        'functions[0] "g".attribute_proto[0] "scale".t "scale_default"',
        "the default value of a model-local function's attribute (FunctionProto.attribute_proto)",
        model([helper.make_node("g", [], ["w"], domain="sandkasse.local", name="call_g")] + add_w(),
              functions=[g], extra_opsets=[("sandkasse.local", 1)]))

    init = onnx.TrainingInfoProto()
    init.initialization.CopyFrom(helper.make_graph(
        [], "init", [], [helper.make_tensor_value_info("w", TensorProto.FLOAT, [2])], initializer=[ext_float("w")]))
    add("training_info_initialization", "external_data",
        'training_info[0].initialization "init".initializer[0] "w"',
        "an initializer of training_info's initialization graph",
        model(add_w(), initializer=[helper.make_tensor("w", TensorProto.FLOAT, [2], [0.0, 0.0])],
              training_info=[init]))

    algo = onnx.TrainingInfoProto()
    algo.algorithm.CopyFrom(helper.make_graph(
        [constant("step", "w_new", value=ext_float("delta"))], "algo", [],
        [helper.make_tensor_value_info("w_new", TensorProto.FLOAT, [2])]))
    add("training_info_algorithm", "external_data",
        'training_info[0].algorithm "algo".node[0] "step" (Constant).attribute[0] "value".t "delta"',
        "a Constant in training_info's algorithm graph",
        model(add_w(), initializer=[helper.make_tensor("w", TensorProto.FLOAT, [2], [0.0, 0.0])],
              training_info=[algo]))

    add("data_location_only", "external_data", 'graph "main".initializer[0] "w"',
        "an initializer marked data_location = EXTERNAL with no external_data entries at all",
        model(add_w(), initializer=[ext_float("w", entries=False)]))
    return out


MANIFEST = """\
name = "external-data"
version = "1.0.0"
scenario = "unemployment-risk"
description = "Hostile test model: a tensor keeps its data in ../../../etc/shadow."

[[inputs]]
tensor = "features"
dtype = "float32"
columns = [
  { column = "age" },
  { column = "months_employed_3y" },
]

[output]
label = "label"
probability = "probabilities"
positive_class = 1
threshold = 0.5
"""


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = []
    for file, rule, path, what, m in models():
        with open(os.path.join(OUT, file + ".onnx"), "wb") as fh:
            fh.write(m.SerializeToString(deterministic=True))
        expected.append({"file": file + ".onnx", "rule": rule, "path": path, "what": what})
    with open(os.path.join(OUT, "expected.json"), "w") as fh:
        json.dump({"written_by": "models/hostile/make_external_data.py; do not edit by hand", "model": expected},
                  fh, indent=1)
        fh.write("\n")
    with open(os.path.join(OUT, "manifest.toml"), "w") as fh:
        fh.write(MANIFEST)
    print(f"wrote {len(expected)} models to {OUT}")


if __name__ == "__main__":
    main()
