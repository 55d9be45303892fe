"""OpenCV zoo SFace rebuilt as a Keras 3 model, its weights read from the verified ONNX file.

Why: OpenCV runs SFace but cannot train it; as a Keras model the same network can be
fine-tuned (`train.model: finetune`) and saved with a head as one `.keras` file.

Why the `onnx` package and not onnx2tf: the graph is small and plain (read with onnx: a
MobileNetV1-shaped chain of 27 Conv -> BatchNormalization -> PRelu, 3x3 depthwise then 1x1
pointwise, then BatchNormalization, Dropout, Flatten, Gemm 50176 -> 128,
BatchNormalization). Only the weights are int8: 29 block-wise DequantizeLinear nodes (opset
21: an int8 zero point and a float scale per block of up to 64 input channels or a kernel's
9/27 taps) feed float Conv/Gemm nodes, so the activations are float32. Dequantising the
initialisers exactly as DequantizeLinear does and loading them into named standard Keras
layers takes one small dependency, and the layers keep the graph's names (conv_1 ...
conv_14, bn1, pre_fc1, fc1), which fine-tuning unfreezes by block. onnx2tf would bring
onnxruntime, onnx-graphsurgeon and more into the project and emit a TF SavedModel/TFLite
rather than Keras 3 layers.

The bytes ported are the bytes whose sha256 was checked (`artifacts.verified_bytes`), so a
swapped file is refused before any of it is parsed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from starrec.faces.artifacts import ModelFileError, verified_bytes

SIZE = 112  # input side: the aligned 5-point crop, RGB uint8
DIM = 128
# (pointwise channels, depthwise stride) of blocks conv_2 ... conv_14 (conv_1: a full 3x3)
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
          (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
BLOCK_NAMES = [f"conv_{i}" for i in range(1, len(BLOCKS) + 2)]
HEAD = ("bn1", "pre_fc1", "fc1")  # the layers after conv_14: 7x7x1024 -> 128
CONV_EPS, HEAD_EPS = 1e-3, 2e-5  # BatchNormalization epsilons as in the graph
DROPOUT = 0.4  # the graph's Dropout ratio (identity at inference)


def dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int,
               block: int) -> np.ndarray:
    """ONNX DequantizeLinear with blocks: (q - zero) * scale, one scale and zero point for
    each `block` consecutive elements along `axis`."""
    def spread(a: np.ndarray) -> np.ndarray:
        return np.repeat(a, block, axis=axis).take(range(q.shape[axis]), axis=axis)

    return ((q.astype(np.float32) - spread(zero).astype(np.float32))
            * spread(scale)).astype(np.float32)


def onnx_weights(data: bytes) -> dict[str, list[np.ndarray]]:
    """{node output name: its weight inputs, float32 in ONNX layout} for every Conv, Gemm,
    BatchNormalization and PRelu of the SFace graph, the int8 blocks dequantised."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_from_string(data).graph
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    out: dict[str, list[np.ndarray]] = {}
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "DequantizeLinear":
            q, scale, zero = (values[n] for n in node.input)
            values[node.output[0]] = dequantize(q, scale, zero, attrs["axis"],
                                                attrs["block_size"])
        elif node.op_type == "Reshape" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]].reshape(values[node.input[1]])
        elif node.op_type in ("Conv", "Gemm", "BatchNormalization", "PRelu"):
            out[node.output[0]] = [values[n] for n in node.input[1:]]
    return out


def build(dropout: float = DROPOUT) -> "keras.Model":
    """The SFace network, untrained: RGB uint8-valued (N, 112, 112, 3) -> (N, 128), not
    normalised (as the ONNX graph's output `fc1`). The input scaling is inside the model."""
    import keras
    from keras import layers

    def unit(x, name: str, conv: layers.Layer):
        x = conv(x)
        x = layers.BatchNormalization(epsilon=CONV_EPS, momentum=0.9, name=f"{name}_batchnorm")(x)
        return layers.PReLU(shared_axes=[1, 2], name=f"{name}_relu")(x)

    face = keras.Input((SIZE, SIZE, 3), name="face")
    x = layers.Rescaling(1 / 128, offset=-127.5 / 128, name="scale")(face)  # (x - 127.5) / 128
    x = unit(x, "conv_1", layers.Conv2D(32, 3, padding="same", use_bias=False,
                                        name="conv_1_conv2d"))
    for i, (channels, stride) in enumerate(BLOCKS, start=2):
        if stride == 2:  # the graph pads 1 on every side; Keras "same" would pad right only
            x = layers.ZeroPadding2D(1, name=f"conv_{i}_pad")(x)
        x = unit(x, f"conv_{i}_dw", layers.DepthwiseConv2D(
            3, strides=stride, padding="same" if stride == 1 else "valid", use_bias=False,
            name=f"conv_{i}_dw_conv2d"))
        x = unit(x, f"conv_{i}", layers.Conv2D(channels, 1, use_bias=False,
                                               name=f"conv_{i}_conv2d"))
    x = layers.BatchNormalization(epsilon=HEAD_EPS, momentum=0.9, name="bn1")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(DIM, name="pre_fc1")(x)
    x = layers.BatchNormalization(epsilon=HEAD_EPS, momentum=0.9, name="fc1")(x)
    return keras.Model(face, x, name="sface")


def keras_weights(layer: "keras.layers.Layer", onnx: list[np.ndarray]) -> list[np.ndarray]:
    """One layer's ONNX weights in Keras layout (NCHW graph -> NHWC layers)."""
    from keras import layers

    if isinstance(layer, layers.DepthwiseConv2D):  # (C, 1, kh, kw) -> (kh, kw, C, 1)
        return [onnx[0].transpose(2, 3, 0, 1)]
    if isinstance(layer, layers.Conv2D):  # (out, in, kh, kw) -> (kh, kw, in, out)
        return [onnx[0].transpose(2, 3, 1, 0)]
    if isinstance(layer, layers.PReLU):  # (C, 1, 1) -> (1, 1, C)
        return [onnx[0].reshape(1, 1, -1)]
    if isinstance(layer, layers.Dense):  # Gemm (128, C*H*W) over a CHW flatten -> HWC rows
        w = onnx[0].reshape(DIM, 1024, 7, 7).transpose(2, 3, 1, 0).reshape(-1, DIM)
        return [w, onnx[1]]
    return onnx  # BatchNormalization: gamma, beta, mean, variance in both


def load_sface(path: Path, dropout: float = DROPOUT) -> "keras.Model":
    """The Keras SFace with the weights of the ONNX file at `path`, refused (ModelFileError,
    one line) unless its sha256 is the published one."""
    weights = onnx_weights(verified_bytes("sface", path))
    model = build(dropout)
    named = [layer for layer in model.layers if layer.weights]
    missing = sorted({layer.name for layer in named} ^ set(weights))
    if missing:
        raise ModelFileError(f"{path}: the SFace graph and the Keras SFace differ in {missing}")
    for layer in named:
        layer.set_weights(keras_weights(layer, weights[layer.name]))
    return model


def top_layers(model: "keras.Model", blocks: int) -> list["keras.layers.Layer"]:
    """The layers of the top `blocks` conv blocks (conv_14 down) and the embedding head:
    what fine-tuning unfreezes."""
    names = BLOCK_NAMES[len(BLOCK_NAMES) - blocks:] if blocks else []
    return [layer for layer in model.layers
            if layer.name in HEAD or any(layer.name.startswith(f"{b}_") for b in names)]
