"""Per-layer analysis of an int8 .tflite model and its fit on a board.

For every op: output shape, weights (constant elements), MACs, ROM bytes
(constant data the op reads) and RAM bytes (activations live while it runs:
its non-constant inputs plus its outputs). The arena is given three ways:
naive (every activation tensor in its own buffer), planned lower bound (the
largest set of activations alive at once), and the figures of real
allocators: TFLM's arena total (``print_allocations``) and the mpyml
runtime's ``arena_used`` when its host binding is built.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import MpymlError
from .tflite_model import Graph, Operator, read_model


@dataclass
class Layer:
    index: int
    op: str
    output_shape: list[int]
    weights: int
    macs: int
    rom_bytes: int
    ram_bytes: int


@dataclass
class Analysis:
    model_bytes: int
    layers: list[Layer]
    weights: int
    macs: int
    rom_bytes: int
    arena_naive: int
    arena_peak_live: int
    arena_tflm: int | None
    arena_mpyml: int | None
    input_shape: list[int]
    output_shape: list[int]
    ops: list[str]
    fit: dict[str, Any] | None = field(default=None)

    @property
    def arena(self) -> int:
        """The arena to budget: the mpyml runtime's when known, else TFLM's, else the peak-live bound."""
        for v in (self.arena_mpyml, self.arena_tflm):
            if v:
                return int(v)
        return self.arena_peak_live

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["arena"] = self.arena
        return d


def _elements(shape) -> int:
    n = 1
    for d in shape:
        n *= max(int(d), 1)
    return n


def op_macs(g: Graph, op: Operator) -> int:
    """Multiply-accumulates of one op (conv, depthwise, fully connected; elementwise MUL counts one per output)."""
    out = g.tensors[op.outputs[0]].shape if op.outputs else ()
    if op.op == "CONV_2D":
        w = g.tensors[op.inputs[1]].shape  # [out_c, kh, kw, in_c]
        return _elements(out) * w[1] * w[2] * w[3]
    if op.op == "DEPTHWISE_CONV_2D":
        w = g.tensors[op.inputs[1]].shape  # [1, kh, kw, out_c]
        return _elements(out) * w[1] * w[2]
    if op.op == "FULLY_CONNECTED":
        w = g.tensors[op.inputs[1]].shape  # [units, in]
        return _elements(out) * w[-1]
    if op.op == "MUL":
        return _elements(out)
    return 0


def _live_peak(g: Graph) -> int:
    """Largest total of activation bytes alive at any op (a lower bound for any planner)."""
    const = {t.index for t in g.tensors if t.is_constant}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i in g.inputs:
        first[i] = -1
    for op in g.operators:
        for t in op.outputs:
            first.setdefault(t, op.index)
        for t in op.inputs:
            if t >= 0 and t not in const:
                last[t] = op.index
    end = len(g.operators)
    for o in g.outputs:
        last[o] = end
    peak = 0
    for step in range(-1, end + 1):
        live = sum(g.tensors[t].nbytes for t in first if t not in const and first[t] <= step <= last.get(t, first[t]))
        peak = max(peak, live)
    return peak


def analyze(tflite: bytes, *, with_arena: bool = True) -> Analysis:
    from .interpreters import mpyml_arena_bytes, tflm_arena_bytes

    g = read_model(tflite)
    layers = []
    for op in g.operators:
        consts = [g.tensors[i] for i in op.inputs if i >= 0 and g.tensors[i].is_constant]
        acts_in = [g.tensors[i] for i in op.inputs if i >= 0 and not g.tensors[i].is_constant]
        outs = [g.tensors[i] for i in op.outputs]
        weights = sum(_elements(t.shape) for t in consts) if op.op not in ("RESHAPE",) else 0
        rom = sum(t.buffer_bytes for t in consts)
        ram = sum(t.nbytes for t in acts_in) + sum(t.nbytes for t in outs)
        layers.append(Layer(op.index, op.op, list(outs[0].shape) if outs else [], weights, op_macs(g, op), rom, ram))
    activations = {i for op in g.operators for i in (*op.inputs, *op.outputs) if i >= 0 and not g.tensors[i].is_constant}
    naive = sum(g.tensors[i].nbytes for i in activations)
    arena_tflm = tflm_arena_bytes(tflite) if with_arena else None
    arena_mpyml = mpyml_arena_bytes(tflite) if with_arena else None
    return Analysis(
        model_bytes=len(tflite), layers=layers, weights=sum(l.weights for l in layers), macs=sum(l.macs for l in layers),
        rom_bytes=sum(l.rom_bytes for l in layers), arena_naive=naive, arena_peak_live=_live_peak(g),
        arena_tflm=arena_tflm, arena_mpyml=arena_mpyml, input_shape=list(g.input().shape),
        output_shape=list(g.output().shape), ops=g.op_names,
    )


def board_fit(a: Analysis, board_name: str) -> dict[str, Any]:
    """Does the model fit the board's flash and RAM budget (boards/<B>/board.json)?

    Flash for the model: ``flash_bytes - firmware_flash_bytes`` when the board
    reserves a firmware region, else ``flash_bytes``. RAM: the arena plus,
    for a model read from a file into RAM, the model bytes (models in ROMFS or
    frozen into the firmware stay in flash).
    """
    from .boards import get_board

    b = get_board(board_name)
    fit: dict[str, Any] = {"board": b.name, "flash_budget": None, "ram_budget": b.ram_bytes}
    if b.flash_bytes is None or b.ram_bytes is None:
        fit.update(fits=True, note="host board: no flash/RAM budget")
        return fit
    flash = b.flash_bytes - (b.firmware_flash_bytes or 0)
    fit["flash_budget"] = flash
    fit["flash_used"] = a.model_bytes
    fit["ram_used_in_place"] = a.arena
    fit["ram_used_loaded"] = a.arena + a.model_bytes
    fit["flash_ok"] = a.model_bytes <= flash
    fit["ram_ok"] = a.arena <= b.ram_bytes
    fit["ram_ok_loaded"] = a.arena + a.model_bytes <= b.ram_bytes
    fit["fits"] = bool(fit["flash_ok"] and fit["ram_ok"])
    return fit


def format_table(a: Analysis) -> str:
    lines = [f"{'#':>3s} {'op':18s} {'output shape':18s} {'weights':>9s} {'MACs':>11s} {'ROM B':>9s} {'RAM B':>9s}"]
    for l in a.layers:
        shape = "x".join(str(d) for d in l.output_shape)
        lines.append(f"{l.index:3d} {l.op:18s} {shape:18s} {l.weights:9,d} {l.macs:11,d} {l.rom_bytes:9,d} {l.ram_bytes:9,d}")
    lines.append(f"{'':3s} {'total':18s} {'':18s} {a.weights:9,d} {a.macs:11,d} {a.rom_bytes:9,d}")
    lines.append("")
    lines.append(f"model file            {a.model_bytes:,d} B  (ops: {', '.join(a.ops)})")
    lines.append(f"arena, no planning    {a.arena_naive:,d} B  (every activation in its own buffer)")
    lines.append(f"arena, peak live      {a.arena_peak_live:,d} B  (lower bound for any planner)")
    if a.arena_tflm is not None:
        lines.append(f"arena, TFLM           {a.arena_tflm:,d} B  (print_allocations total)")
    lines.append(f"arena, mpyml runtime  {a.arena_mpyml:,d} B  (arena_used)" if a.arena_mpyml is not None
                 else "arena, mpyml runtime  n/a (host binding not built)")
    if a.fit:
        f = a.fit
        if f.get("flash_budget") is None:
            lines.append(f"board {f['board']}: {f.get('note', '')}")
        else:
            ok = "fits" if f["fits"] else "DOES NOT FIT"
            lines.append(f"board {f['board']}: {ok} - flash {f['flash_used']:,d} / {f['flash_budget']:,d} B, "
                         f"RAM arena {f['ram_used_in_place']:,d} / {f['ram_budget']:,d} B "
                         f"(model loaded into RAM: {f['ram_used_loaded']:,d} B, "
                         f"{'ok' if f['ram_ok_loaded'] else 'too much'})")
    return "\n".join(lines)


def analyze_file(path, board: str | None = None) -> Analysis:
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        for cand in (p / "model.tflite", p / "artifacts" / "model_int8.tflite"):
            if cand.is_file():
                p = cand
                break
        else:
            raise MpymlError(f"{path}: no model.tflite (package) or artifacts/model_int8.tflite (run) inside")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise MpymlError(f"{p}: cannot read: {e}") from e
    a = analyze(data)
    if board:
        a.fit = board_fit(a, board)
    return a
