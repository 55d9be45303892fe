"""The SFace file's int8 weight blocks, dequantised by `sface_keras.dequantize`, are
bit-for-bit what ONNX's own reference DequantizeLinear (opset 21, block_size) gives: all 29."""

from __future__ import annotations

import numpy as np
import onnx
from helpers.params import section
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from starrec.faces.model_files import model_file
from starrec.faces.sface_keras import dequantize


def reference_dequantize(node: onnx.NodeProto, q: np.ndarray, scale: np.ndarray,
                         zero: np.ndarray) -> np.ndarray:
    """`node` alone in a one-node graph, run by onnx.reference."""
    names = ("q", "scale", "zero")
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
              for n, a in zip(names, (q, scale, zero), strict=True)]
    graph = helper.make_graph(
        [helper.make_node("DequantizeLinear", list(names), ["y"],
                          **{a.name: helper.get_attribute_value(a) for a in node.attribute})],
        "dequantize", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    return ReferenceEvaluator(model).run(None, dict(zip(names, (q, scale, zero), strict=True)))[0]


def test_dequantize_is_onnx_dequantize_linear_on_every_weight_block() -> None:
    graph = onnx.load(model_file("sface", section("faces").models, None)).graph
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes = [n for n in graph.node if n.op_type == "DequantizeLinear"]
    assert len(nodes) == 29
    for node in nodes:
        q, scale, zero = (values[name] for name in node.input)
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        got = dequantize(q, scale, zero, attrs["axis"], attrs["block_size"])
        assert np.array_equal(got, reference_dequantize(node, q, scale, zero)), node.output[0]
