"""Application configuration with validation; JSON load/save.

Sections and fields (defaults in ``SCHEMA``); each section's keys are the
keyword arguments of the class it configures:

- ``postprocess`` -> ``tinyml.postprocess.Recognizer``: threshold,
  exit_threshold, class_thresholds, average_window_ms, minimum_count,
  suppression_ms, min_hold_ms, vote_k, vote_m, margin, history
- ``gate`` -> ``tinyml.gate.InputGate``: lo, hi, stuck_samples, clip_level,
  max_clipped, window_blocks
- ``logging`` -> ``tinyml.logring.LogRing``: every, capacity, n_scores
- ``duty`` -> ``tinyml.duty.DutyCycle``: check_samples, activity_level,
  preroll, collect, cooldown_ms, idle_sleep_ms
- ``calibration``: free-form dict (e.g. ``{"imu": <calibration dict>}``,
  see ``tinyml.imu``); its entries are checked by their owners.

Every problem raises ``ValueError`` (or ``TypeError``) naming the field,
e.g. ``postprocess.exit_threshold (0.9) must be <= postprocess.threshold
(0.8)``. Unknown sections and fields are errors too (typos must not pass
silently).

    from tinyml.config import Config

    cfg = Config.load("config.json")        # defaults + file, validated
    cfg.set("postprocess.threshold", 0.85)  # validated again
    rec = cfg.recognizer(labels, scale, zero_point)
    cfg.save("config.json")                 # write-then-rename
"""

import json

try:
    import os
except ImportError:
    os = None

# field: (kind, default, lo, hi); kind: "num", "int", "opt_num", "dict", "list"
SCHEMA = {
    "postprocess": {
        "threshold": ("num", 0.8, 0.0, 1.0),
        "exit_threshold": ("opt_num", None, 0.0, 1.0),
        "class_thresholds": ("dict", None, None, None),
        "average_window_ms": ("int", 1000, 0, 600000),
        "minimum_count": ("int", 3, 1, 1000),
        "suppression_ms": ("int", 1500, 0, 3600000),
        "min_hold_ms": ("int", 0, 0, 3600000),
        "vote_k": ("int", 1, 1, 100),
        "vote_m": ("int", 1, 1, 100),
        "margin": ("num", 0.0, 0.0, 1.0),
        "history": ("int", 32, 1, 1000),
    },
    "gate": {
        "lo": ("int", -32768, -(1 << 30), 1 << 30),
        "hi": ("int", 32767, -(1 << 30), 1 << 30),
        "stuck_samples": ("int", 0, 0, 1 << 24),
        "clip_level": ("int", 0, 0, 1 << 30),
        "max_clipped": ("int", 0, 0, 1 << 24),
        "window_blocks": ("int", 1, 1, 1000),
    },
    "logging": {
        "every": ("int", 50, 0, 1 << 24),
        "capacity": ("int", 256, 1, 1 << 20),
        "n_scores": ("int", 12, 0, 127),
    },
    "duty": {
        "check_samples": ("int", 320, 1, 1 << 20),
        "activity_level": ("int", 300, 0, 1 << 30),
        "preroll": ("int", 3200, 0, 1 << 24),
        "collect": ("int", 16000, 1, 1 << 24),
        "cooldown_ms": ("int", 500, 0, 3600000),
        "idle_sleep_ms": ("int", 100, 0, 3600000),
    },
    "calibration": None,  # free-form dict
}


def _is_num(v):
    return not isinstance(v, bool) and isinstance(v, (int, float))


def _check_field(section, name, value):
    spec = SCHEMA[section].get(name)
    where = "%s.%s" % (section, name)
    if spec is None:
        raise ValueError("unknown field %s (known: %s)" % (where, ", ".join(sorted(SCHEMA[section]))))
    kind, _, lo, hi = spec
    if kind == "opt_num" and value is None:
        return
    if kind == "dict":
        if value is None:
            return
        if not isinstance(value, dict):
            raise TypeError("%s must be an object, not %s" % (where, type(value).__name__))
        return
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("%s must be an integer, not %r" % (where, value))
    elif not _is_num(value):
        raise TypeError("%s must be a number, not %r" % (where, value))
    if value < lo or value > hi:
        raise ValueError("%s (%r) must be within %r..%r" % (where, value, lo, hi))


def _check_thresholds(ct):
    for label, v in ct.items():
        where = "postprocess.class_thresholds.%s" % label
        if isinstance(v, (list, tuple)):
            if len(v) != 2 or not _is_num(v[0]) or not _is_num(v[1]):
                raise ValueError("%s must be a number or [enter, exit], got %r" % (where, v))
            enter, leave = v
        elif _is_num(v):
            enter, leave = v, v
        else:
            raise ValueError("%s must be a number or [enter, exit], got %r" % (where, v))
        for x in (enter, leave):
            if x < 0 or x > 1:
                raise ValueError("%s (%r) must be within 0..1" % (where, x))
        if leave > enter:
            raise ValueError("%s: exit (%r) must be <= enter (%r)" % (where, leave, enter))


def validate(data):
    """Check a complete config dict; raise ValueError/TypeError naming the field."""
    if not isinstance(data, dict):
        raise TypeError("config must be an object, not %s" % type(data).__name__)
    for section, fields in data.items():
        if section not in SCHEMA:
            raise ValueError("unknown config section %r (known: %s)" % (section, ", ".join(sorted(SCHEMA))))
        if not isinstance(fields, dict):
            raise TypeError("config section %s must be an object" % section)
        if SCHEMA[section] is None:
            continue
        for name, value in fields.items():
            _check_field(section, name, value)
    pp = data.get("postprocess", {})
    ex = pp.get("exit_threshold")
    if ex is not None and ex > pp.get("threshold", SCHEMA["postprocess"]["threshold"][1]):
        raise ValueError("postprocess.exit_threshold (%r) must be <= postprocess.threshold (%r)"
                         % (ex, pp.get("threshold")))
    if pp.get("vote_k", 1) > pp.get("vote_m", 1):
        raise ValueError("postprocess.vote_k (%r) must be <= postprocess.vote_m (%r)" % (pp.get("vote_k"), pp.get("vote_m")))
    if pp.get("minimum_count", 3) > pp.get("history", 32):
        raise ValueError("postprocess.minimum_count (%r) must be <= postprocess.history (%r)"
                         % (pp.get("minimum_count"), pp.get("history")))
    if pp.get("class_thresholds"):
        _check_thresholds(pp["class_thresholds"])
    g = data.get("gate", {})
    if g.get("lo", -32768) > g.get("hi", 32767):
        raise ValueError("gate.lo (%r) must be <= gate.hi (%r)" % (g.get("lo"), g.get("hi")))
    if g.get("stuck_samples") == 1:
        raise ValueError("gate.stuck_samples must be 0 (off) or >= 2")


def json_complete(text):
    """True when ``text`` is one object whose brackets all close.

    MicroPython's JSON parser accepts some truncated documents (``{`` or
    ``{"a": {"b": 1}``), so files that a power loss may have cut short are
    checked with this first."""
    text = text.strip()
    if not text.startswith("{") or not text.endswith("}"):
        return False
    depth = 0
    in_str = False
    esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not in_str


def defaults():
    """A fresh dict with every field at its default."""
    d = {}
    for section, fields in SCHEMA.items():
        if fields is None:
            d[section] = {}
            continue
        d[section] = {}
        for name, spec in fields.items():
            d[section][name] = spec[1]
    return d


class Config:
    """Validated configuration: defaults overlaid with ``data``."""

    def __init__(self, data=None):
        merged = defaults()
        if data is not None:
            if not isinstance(data, dict):
                raise TypeError("config must be an object, not %s" % type(data).__name__)
            for section, fields in data.items():
                if section not in SCHEMA:
                    raise ValueError("unknown config section %r (known: %s)" % (section, ", ".join(sorted(SCHEMA))))
                if not isinstance(fields, dict):
                    raise TypeError("config section %s must be an object" % section)
                for name, value in fields.items():
                    merged[section][name] = value
        validate(merged)
        self.data = merged

    def __getitem__(self, section):
        return self.data[section]

    def get(self, path):
        """Value of ``"section.field"``."""
        section, name = self._split(path)
        return self.data[section][name]

    def set(self, path, value):
        """Change one field; validated, and left unchanged when invalid."""
        section, name = self._split(path)
        fields = self.data[section]
        had = name in fields
        old = fields.get(name)
        fields[name] = value
        try:
            validate(self.data)
        except Exception:
            if had:
                fields[name] = old
            else:
                del fields[name]
            raise

    def _split(self, path):
        dot = path.find(".")
        if dot <= 0:
            raise ValueError("config path must be 'section.field', got %r" % path)
        section, name = path[:dot], path[dot + 1 :]
        if section not in SCHEMA:
            raise ValueError("unknown config section %r" % section)
        if SCHEMA[section] is not None and name not in SCHEMA[section]:
            raise ValueError("unknown field %s" % path)
        return section, name

    def to_dict(self):
        return self.data

    def to_json(self):
        return json.dumps(self.data)

    @classmethod
    def from_json(cls, text):
        if not json_complete(text):
            raise ValueError("config is not valid JSON: the object is incomplete (truncated file?)")
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ValueError("config is not valid JSON: %s" % e)
        return cls(data)

    @classmethod
    def load(cls, path):
        """Defaults overlaid with the JSON file at ``path``."""
        with open(path) as f:
            text = f.read()
        try:
            return cls.from_json(text)
        except (ValueError, TypeError) as e:
            raise type(e)("%s: %s" % (path, e))

    def save(self, path):
        """Write JSON to ``path`` via a temporary file and a rename, so a
        power loss leaves either the old or the new file."""
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.to_json())
        try:
            os.rename(tmp, path)
        except OSError:
            # some filesystems (FAT) do not rename over an existing file
            os.remove(path)
            os.rename(tmp, path)

    # -- builders --------------------------------------------------------------

    def recognizer(self, labels, scale, zero_point):
        from tinyml.postprocess import Recognizer

        return Recognizer(labels, scale, zero_point, **self.data["postprocess"])

    def gate(self):
        from tinyml.gate import InputGate

        return InputGate(**self.data["gate"])

    def log(self, target):
        """A ``LogRing`` on ``target`` (path or bytearray) per ``logging``."""
        from tinyml.logring import LogRing

        return LogRing(target, **self.data["logging"])

    def duty(self, ring, read, infer, **kw):
        """A ``DutyCycle`` per ``duty``; ``kw`` passes clock and sleep."""
        from tinyml.duty import DutyCycle

        args = dict(self.data["duty"])
        args.update(kw)
        return DutyCycle(ring, read, infer, **args)
