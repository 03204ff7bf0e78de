"""Reading ``.tflite`` flatbuffers on the host: ops, tensors, quantization.

Uses the flatbuffer schema bindings shipped with the ``tflite-micro`` package
(a pure-Python module; importing it does not load TensorFlow).
``SUPPORTED_OPS`` is the op set of the mpyml runtime; ``check_supported``
refuses any model that needs another op, naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .errors import MpymlError

SUPPORTED_OPS: frozenset[str] = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE", "SOFTMAX",
    "ADD", "MUL", "MEAN", "PAD", "CONCATENATION", "QUANTIZE", "DEQUANTIZE", "LOGISTIC", "TANH", "RELU", "RELU6",
})


class ModelFormatError(MpymlError):
    """The bytes are not a readable TensorFlow Lite model."""


class UnsupportedOpError(MpymlError):
    """The model needs ops the mpyml runtime does not execute."""


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


@lru_cache(maxsize=None)
def _enum_names(enum_name: str) -> dict[int, str]:
    enum = getattr(_schema(), enum_name)
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


DTYPES = {"INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
          "FLOAT32": np.float32, "UINT16": np.uint16, "BOOL": np.bool_}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # "int8", "float32", ...
    buffer_bytes: int  # bytes of constant data (0 for activations)
    scale: list[float] = field(default_factory=list)
    zero_point: list[int] = field(default_factory=list)

    @property
    def is_constant(self) -> bool:
        return self.buffer_bytes > 0

    @property
    def itemsize(self) -> int:
        return np.dtype(DTYPES.get(self.dtype.upper(), np.uint8)).itemsize

    @property
    def nbytes(self) -> int:
        n = 1
        for d in self.shape:
            n *= max(int(d), 1)
        return n * self.itemsize


@dataclass
class Operator:
    index: int
    op: str
    version: int
    inputs: list[int]
    outputs: list[int]
    options: dict


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    size: int

    @property
    def op_names(self) -> list[str]:
        """Distinct op names in order of first use."""
        seen: list[str] = []
        for o in self.operators:
            if o.op not in seen:
                seen.append(o.op)
        return seen

    def input(self, i: int = 0) -> Tensor:
        return self.tensors[self.inputs[i]]

    def output(self, i: int = 0) -> Tensor:
        return self.tensors[self.outputs[i]]


def _options(op) -> dict:
    opts = op.builtinOptions
    if opts is None:
        return {}
    out = {}
    for k, v in vars(opts).items():
        if isinstance(v, (int, float, bool)):
            out[k] = v
    return out


def read_model(data: bytes) -> Graph:
    """Parse the first subgraph of a .tflite model."""
    schema = _schema()
    data = bytes(data)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelFormatError("not a TensorFlow Lite model (missing the TFL3 identifier)")
    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    except Exception as e:  # the generated reader raises assorted errors on bad offsets
        raise ModelFormatError(f"cannot parse the TensorFlow Lite model: {e}") from e
    if not model.subgraphs:
        raise ModelFormatError("the model has no subgraph")
    ops_enum = _enum_names("BuiltinOperator")
    types = _enum_names("TensorType")
    sub = model.subgraphs[0]
    tensors = []
    for i, t in enumerate(sub.tensors or []):
        buf = model.buffers[t.buffer] if model.buffers is not None and t.buffer < len(model.buffers) else None
        nbytes = 0
        if buf is not None:
            if buf.data is not None:
                nbytes = len(buf.data)
            elif getattr(buf, "size", 0):
                nbytes = int(buf.size)
        q = t.quantization
        scale = [float(s) for s in (q.scale if q is not None and q.scale is not None else [])]
        zp = [int(z) for z in (q.zeroPoint if q is not None and q.zeroPoint is not None else [])]
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        tensors.append(Tensor(i, name, shape, types.get(t.type, str(t.type)).lower(), nbytes, scale, zp))
    operators = []
    for i, op in enumerate(sub.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        name = ops_enum.get(builtin, f"BUILTIN_{builtin}")
        if name == "CUSTOM":
            custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            name = f"CUSTOM:{custom}"
        operators.append(Operator(i, name, int(code.version), [int(x) for x in (op.inputs if op.inputs is not None else [])],
                                  [int(x) for x in (op.outputs if op.outputs is not None else [])], _options(op)))
    return Graph(tensors, operators, [int(x) for x in sub.inputs], [int(x) for x in sub.outputs], len(data))


def unsupported_ops(data: bytes) -> list[str]:
    return [name for name in read_model(data).op_names if name not in SUPPORTED_OPS]


def check_supported(data: bytes, what: str = "model") -> list[str]:
    """Return the model's ops; raise UnsupportedOpError naming every op the runtime lacks."""
    graph = read_model(data)
    bad = [n for n in graph.op_names if n not in SUPPORTED_OPS]
    if bad:
        raise UnsupportedOpError(
            f"{what} uses ops the mpyml runtime does not support: {', '.join(bad)} "
            f"(supported: {', '.join(sorted(SUPPORTED_OPS))})"
        )
    return graph.op_names
