"""The compression report: every stage's results of a run in one Markdown + HTML page.

Reads ``<run>/compression/*.json`` and the plots next to them and writes
``compression.md`` and ``compression.html`` into the same folder. A stage
that has not been run gets a line saying which command produces it.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ..runs import Run
from .common import OUT_DIR, read_result

Block = tuple  # ("h1"|"h2"|"p"|"table"|"img", ...)


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * float(v):.2f}%"


def _pts(v: Any) -> str:
    return "-" if v is None else f"{100 * float(v):+.2f}"


def _num(v: Any) -> str:
    return "-" if v is None else f"{int(v):,d}"


def _missing(cmd: str) -> list[Block]:
    return [("p", f"Not run yet: `mpyml compress {cmd} RUN`.")]


def _qat(r: dict | None) -> list[Block]:
    if r is None:
        return _missing("qat")
    rows = [[str(e["epoch"]), _pct(e["float"]), _pct(e["fake_quant"]), _pct(e["int8"]), _pct(e["val_fake_quant"])]
            for e in r["per_epoch"]]
    exact = (f"The exported model runs bit-exactly in the mpyml runtime and TFLM on all {r['bit_exact_inputs']} test "
             f"inputs." if r.get("bit_exact") else "The mpyml runtime was not available to check bit-exactness.")
    return [
        ("p", f"Baseline float {_pct(r['baseline_float'])}, int8 PTQ {_pct(r['baseline_ptq_int8'])}; QAT int8 "
              f"{_pct(r['qat_int8'])} (best epoch {r['best_epoch']} of {r['epochs']}, "
              f"{r['test_examples']} test examples). {exact}"),
        ("table", ["epoch", "float (shadow weights)", "fake-quant", "exported int8", "validation fake-quant"], rows),
        ("img", "plots/qat_epochs.png", "QAT accuracy per epoch"),
    ]


def _bits(r: dict | None) -> list[Block]:
    if r is None:
        return _missing("bits")
    rows = [[str(x["bits"]), _pct(x["ptq"]), _pct(x["qat"]), _pts(x["qat"] - x["ptq"]), str(x["qat_best_epoch"])]
            for x in r["rows"]]
    out: list[Block] = [
        ("p", f"Weights and activations fake-quantized at each bit-width; float model {_pct(r['float'])}; "
              f"QAT {r['epochs']} epochs; {r['test_examples']} test examples (held-out voices)."),
        ("table", ["bits", "PTQ", "QAT", "QAT - PTQ (points)", "QAT best epoch"], rows),
        ("img", "plots/bits.png", "accuracy vs bits"),
    ]
    for x in r["rows"]:
        if x["bits"] == 8 and "ptq_int8" in x:
            out.append(("p", f"8-bit check against real int8 exports (TFLM / mpyml runtime): PTQ simulated "
                             f"{_pct(x['ptq'])} vs exported {_pct(x['ptq_int8'])} (top-1 agreement "
                             f"{_pct(x['ptq_sim_vs_int8_agreement'])}); QAT simulated {_pct(x['qat'])} vs exported "
                             f"{_pct(x['qat_int8'])} (agreement {_pct(x['qat_sim_vs_int8_agreement'])})."))
    return out


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 100 else f"{v:.0f}"
    if isinstance(v, dict):
        # Stage durations: "name 123 s, ..."
        return ", ".join(f"{k.replace('_', ' ')} {_value(x)}{' s' if isinstance(x, (int, float)) else ''}"
                         for k, x in v.items())
    return str(v)


def _ends(per_layer: dict[str, float] | None) -> str:
    if not per_layer:
        return "-"
    v = list(per_layer.values())
    return f"{_pct(v[0])} / {_pct(v[-1])}"


def _prune_method(r: dict) -> str:
    if r.get("method", "global") == "global":
        return "Global magnitude pruning (one threshold for all layers)"
    if r["method"] == "erk":
        kept = [n for n, on in (("first", r.get("protect_first")), ("last", r.get("protect_last"))) if on]
        prot = f", {' and '.join(kept)} layer as dense as the densest layer" if kept else ""
        return ("Magnitude pruning with an ERK allocation (each layer's density proportional to the sum of its "
                f"kernel dimensions over its number of weights, so small kernels stay denser{prot}; the overall "
                "sparsity exact)")
    kept = [n for n, on in (("first", r.get("protect_first")), ("last", r.get("protect_last"))) if on]
    prot = (f", {' and '.join(kept)} layer pruned at most {r.get('protected_sparsity', 0.5):.0%}" if kept else "")
    return f"Layer-wise magnitude pruning (the same sparsity in every unprotected layer{prot})"


def _prune_schedule(r: dict) -> str:
    extra = ""
    if r.get("scale_epochs"):
        extra += " (more epochs at higher sparsity, see the table)"
    if r.get("lr_schedule") == "cosine":
        extra += f", learning rate decaying along a cosine from {r['learning_rate']:g}"
    elif r.get("lr_schedule") == "constant":
        extra += f", constant learning rate {r['learning_rate']:g}"
    if r.get("recalibrate_bn"):
        extra += ", BatchNorm statistics re-estimated on the training data at the final mask"
    if r.get("schedule", "oneshot") == "gradual":
        return (f"sparsity raised from 0 to the target along a cubic schedule over the first "
                f"{r.get('ramp', 0.6):.0%} of the steps, masks re-applied after every step{extra}")
    return "pruned first, the mask held" + extra


def _layer_table(r: dict) -> list[Block]:
    """Per-layer sparsity chosen at the fine-tuned level closest to 90%."""
    tuned = [x for x in r["rows"][1:] if x["fine_tuned"] and x.get("layer_sparsity")]
    if not tuned:
        return []
    pick = min(tuned, key=lambda x: abs(x["sparsity"] - 0.9))
    sizes = r.get("layer_sizes", {})
    rows = [[name, _num(sizes.get(name)), _pct(v),
             _num(None if name not in sizes else round(sizes[name] * (1 - v)))]
            for name, v in pick["layer_sparsity"].items()]
    return [("p", f"Per-layer sparsity at {pick['sparsity']:.0%} overall (fine-tuned model):"),
            ("table", ["layer", "weights", "sparsity", "kept"], rows)]


def _prune(r: dict | None) -> list[Block]:
    if r is None:
        return _missing("prune")
    rows = []
    for x in r["rows"]:
        tuned = f"yes, {x['epochs']} epochs" if x["fine_tuned"] and "epochs" in x else (
            "yes" if x["fine_tuned"] else "no")
        rows.append([f"{x['sparsity']:.0%}", tuned, _num(x["nonzero_params"]),
                     _pct(x.get("achieved_sparsity")), _pct(x.get("int8_kernel_sparsity")), _pct(x["float"]),
                     _pct(x["int8"]), _pct(x.get("int8_bn_recalibrated")), _num(x["tflite_bytes"]),
                     _num(x["gzip_bytes"]), _ends(x.get("layer_sparsity"))])
    lat = ", ".join(f"{k}: {v:.3f} ms" for k, v in r.get("latency_ms", {}).items())
    return [
        ("p", f"{_prune_method(r)} of {r['prunable_weights']:,d} kernel weights; fine-tuning {r['epochs']} "
              f"epochs, {_prune_schedule(r)}. {r['note']} Latency in the mpyml runtime: {lat or 'not measured'}."),
        ("table", ["target sparsity", "fine-tuned", "non-zero params", "kernel sparsity", "int8 kernel zeros",
                   "float", "int8", "int8, BatchNorm re-estimated only", ".tflite B", "gzip B",
                   "first / last layer sparsity"], rows),
        *_layer_table(r),
        ("img", "plots/prune.png", "accuracy vs non-zero parameters"),
    ]


def _structured(r: dict | None) -> list[Block]:
    if r is None:
        return _missing("structured")
    rows = [[x["name"], f"{x['ratio']:.0%}", _num(x["params"]), _num(x["macs"]), _pts(-x["macs_reduction"]),
             _num(x["arena_bytes"]), _num(x["flash_bytes"]), f"{x['latency_ms']:.3f}", _pts(-x["latency_reduction"]),
             _pct(x.get("float_before_finetune")), _pct(x["float"]), _pct(x["int8"])] for x in r["rows"]]
    return [
        ("p", f"Channels removed by L1-norm ranking in every convolution and hidden dense layer, the model rebuilt "
              f"smaller and fine-tuned {r['epochs']} epochs. Latency: {r['latency']}."),
        ("table", ["model", "channels removed", "params", "MACs", "MACs change %", "arena B", "flash B",
                   "latency ms", "latency change %", "float before fine-tune", "float", "int8"], rows),
        ("img", "plots/structured.png", "accuracy vs MACs"),
    ]


def _distill(r: dict | None) -> list[Block]:
    if r is None:
        return _missing("distill")
    t, s = r["teacher"], r["student"]
    rows = [["teacher " + t["model"], _num(t["params"]), _pct(t["float"]), "-"],
            [f"student {s['model']}, hard labels", _num(r["hard_labels"]["params"]), _pct(r["hard_labels"]["float"]),
             _pct(r["hard_labels"]["int8"])],
            [f"student {s['model']}, distilled", _num(r["distilled"]["params"]), _pct(r["distilled"]["float"]),
             _pct(r["distilled"]["int8"])]]
    return [
        ("p", f"Temperature {r['temperature']}, alpha {r['alpha']} (weight of the hard-label loss), {r['epochs']} "
              f"epochs, same initial weights for both students. Measured delta of distillation: "
              f"{_pts(r['delta_int8'])} points int8, {_pts(r['delta_float'])} points float."),
        ("table", ["model", "params", "float", "int8"], rows),
        ("img", "plots/distill.png", "validation accuracy per epoch"),
    ]


def _gate(r: dict | None) -> list[Block]:
    if r is None:
        return [("p", "Not run yet: `mpyml compress gate BASE CANDIDATE`.")]
    rows = [[c["name"], "PASS" if c["passed"] else "FAIL", c["detail"]] for c in r["checks"]]
    return [("p", f"Candidate `{r['candidate']}` vs baseline `{r['base']}`: "
                  f"**{'ACCEPTED' if r['passed'] else 'REJECTED'}**."),
            ("table", ["check", "result", "detail"], rows)]


def _verify(r: dict | None) -> list[Block]:
    if r is None:
        return _missing("verify")
    summary = [["top-1 agreement", _pct(r["top1_agreement"])], ["top-3 agreement", _pct(r["top3_agreement"])],
               ["Spearman (mean / min)", f"{r['spearman_mean']:.4f} / {r['spearman_min']:.4f}"
                if r["spearman_mean"] is not None else "-"],
               ["worst-case logit difference", f"{r['logit_diff_max']:.4f} (mean {r['logit_diff_mean']:.4f})"],
               ["float / int8 accuracy", f"{_pct(r['float_accuracy'])} / {_pct(r['int8_accuracy'])}"],
               ["inputs", str(r["test_examples"])]]
    sat = [[str(t["op_index"]), t["op"], t["tensor"].split(";")[0][:48], _pct(t["at_127"]), _pct(t["at_-128"]),
            "yes" if t["relu_floor"] else "no", _pct(t["saturation"])] for t in r["saturation"][:12]]
    sens = [[x["layer"], x["type"], _pts(x["accuracy_drop"]), _pct(x["top1_agreement"]), f"{x['kl_divergence']:.3g}"]
            for x in r["sensitivity"][:10]]
    return [
        ("table", ["measure", "value"], summary),
        ("p", "Saturation per int8 activation tensor (share at +127; at -128 too unless -128 is the tensor's zero, "
              "a ReLU floor), most saturated first:"),
        ("table", ["op #", "op", "tensor", "at +127", "at -128", "-128 is zero", "saturation"], sat),
        ("p", f"Layers most sensitive to quantization: one layer at a time at {r['sensitivity_bits']} bits "
              f"(weights per channel and its block's output), all others float:"),
        ("table", ["layer", "type", "accuracy drop (points)", "top-1 agreement with float", "KL divergence"], sens),
    ]


def build(run: Run) -> list[Block]:
    blocks: list[Block] = [("h1", f"Compression report: {run.name}")]
    cfg = run.config()
    blocks.append(("p", f"Model `{cfg.get('model')}`, data `{cfg.get('data')}`. Accuracies are on the run's test "
                        f"split (held-out voices for synthetic data) unless stated."))
    bench = read_result(run, "benchmark")
    if bench:
        blocks.append(("h2", "Acceptance (compression benchmark)"))
        rows = [[k.replace("_", " "), _value(v)] for k, v in bench.items() if v is not None]
        blocks.append(("table", ["figure", "value"], rows))
    for title, fn, name in (("Quantization-aware training", _qat, "qat"), ("Low-bit sweep: PTQ vs QAT", _bits, "bits"),
                            ("Unstructured pruning", _prune, "prune"), ("Structured pruning", _structured, "structured"),
                            ("Knowledge distillation", _distill, "distill"), ("Compression gate", _gate, "gate"),
                            ("Float vs quantized verifier", _verify, "verify")):
        blocks.append(("h2", title))
        blocks.extend(fn(read_result(run, name)))
    return blocks


def to_markdown(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        if b[0] == "h1":
            out.append(f"# {b[1]}\n")
        elif b[0] == "h2":
            out.append(f"## {b[1]}\n")
        elif b[0] == "p":
            out.append(f"{b[1]}\n")
        elif b[0] == "img":
            out.append(f"![{b[2]}]({b[1]})\n")
        elif b[0] == "table":
            head, rows = b[1], b[2]
            lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
            out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def _inline(text: str) -> str:
    """Escape, then render `code` and **bold**."""
    import re

    t = html.escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)


def to_html(blocks: list[Block]) -> str:
    title = next((b[1] for b in blocks if b[0] == "h1"), "Compression report")
    out = ["<!doctype html>", "<html><head><meta charset='utf-8'>", f"<title>{html.escape(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
           "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
           "text-align:right}th{background:#eee}td:first-child{text-align:left}img{max-width:100%}</style>",
           "</head><body>"]
    for b in blocks:
        if b[0] in ("h1", "h2"):
            out.append(f"<{b[0]}>{html.escape(b[1])}</{b[0]}>")
        elif b[0] == "p":
            out.append(f"<p>{_inline(b[1])}</p>")
        elif b[0] == "img":
            out.append(f"<p><img src='{html.escape(b[1])}' alt='{html.escape(b[2])}'></p>")
        elif b[0] == "table":
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in b[1]) + "</tr>")
            for r in b[2]:
                out.append("<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in r) + "</tr>")
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_report(run: Run) -> tuple[Path, Path]:
    folder = run.path / OUT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    blocks = build(run)
    md, page = folder / "compression.md", folder / "compression.html"
    md.write_text(to_markdown(blocks))
    page.write_text(to_html(blocks))
    return md, page
