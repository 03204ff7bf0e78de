"""The frozen tinyml package: importing it stays cheap, submodules load on
first use of their public names."""

from __future__ import annotations

import ast

MINE = {
    "RingBuffer": "ring", "Hopper": "ring", "Recognizer": "postprocess", "Detection": "postprocess",
    "InputGate": "gate", "Config": "config", "LogRing": "logring", "DutyCycle": "duty", "SimClock": "clock",
    "WavSource": "sources", "RawStreamSource": "sources", "I2SMic": "i2s", "ImuSource": "imu",
}


def test_import_tinyml_loads_no_submodule(run_mp):
    r = run_mp("import sys, tinyml; print(sorted(k for k in sys.modules if k.startswith('tinyml')))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['tinyml']"


def test_names_load_their_module_on_first_use(run_mp):
    code = (
        "import sys, tinyml\n"
        "for name, mod in %r.items():\n"
        "    obj = getattr(tinyml, name)\n"
        "    assert obj.__name__ == name, (name, obj)\n"
        "    assert ('tinyml.' + mod) in sys.modules, mod\n"
        "r = tinyml.RingBuffer\n"
        "try:\n"
        "    tinyml.NoSuchThing\n"
        "except AttributeError:\n"
        "    print('ok')\n" % (MINE,)
    )
    r = run_mp(code)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "ok"


def test_lazy_table_lists_the_device_classes(root):
    tree = ast.parse((root / "device_lib" / "tinyml" / "__init__.py").read_text())
    table = next(n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "_LAZY")
    lazy = ast.literal_eval(table)
    for name, mod in MINE.items():
        assert lazy.get(name) == mod
        src = (root / "device_lib" / "tinyml" / f"{mod}.py").read_text()
        assert f"class {name}" in src
