"""Child-process entry for the Keras 2 stages (QAT, low-bit sweep).

``python -m mpyml.compress.worker '{"stage": "qat", "run": "...", ...}'``
The parent (``mpyml compress qat`` / ``bits``) starts this with
``TF_USE_LEGACY_KERAS=1`` so that tfmot's switch to Keras 2 stays inside
this process. Errors print as ``error: ...`` with exit status 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

STAGES = ("qat", "bits")


def run_stage(spec: dict[str, Any], echo=print) -> dict[str, Any]:
    from ..errors import MpymlError

    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    from .common import load_context

    stage = spec.get("stage")
    if stage not in STAGES:
        raise MpymlError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    ctx = load_context(spec["run"], max_train=spec.get("max_train"), max_eval=spec.get("max_eval"), echo=echo)
    progress = bool(spec.get("progress", True))
    if stage == "qat":
        from .qat import run_qat

        return run_qat(ctx, epochs=int(spec.get("epochs", 3)), learning_rate=spec.get("learning_rate"),
                       progress=progress)
    from .bits import DEFAULT_BITS, run_bits

    return run_bits(ctx, bits=spec.get("bits") or DEFAULT_BITS, epochs=int(spec.get("epochs", 2)),
                    learning_rate=spec.get("learning_rate"), progress=progress)


def run_in_child(spec: dict[str, Any]) -> int:
    """Run a stage in a fresh Python process with Keras 2 selected; returns its exit status."""
    env = dict(os.environ)
    env["TF_USE_LEGACY_KERAS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return subprocess.call([sys.executable, "-m", "mpyml.compress.worker", json.dumps(spec)], env=env)


def main(argv: list[str] | None = None) -> int:
    from ..errors import MpymlError

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m mpyml.compress.worker '<json stage spec>'", file=sys.stderr)
        return 2
    try:
        spec = json.loads(argv[0])
        if not isinstance(spec, dict) or "run" not in spec:
            raise MpymlError("the stage spec must be a JSON object with 'stage' and 'run'")
        run_stage(spec)
    except json.JSONDecodeError as e:
        print(f"error: invalid stage spec: {e}", file=sys.stderr)
        return 1
    except MpymlError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
