"""Model packages: load, verify and self-test (format: docs/model-package.md).

A package is a folder (on a filesystem or inside a mounted ROMFS) or a
frozen module with ``manifest.json`` + ``model.tflite`` and optional golden
input/output. Loading fails closed: every check that does not pass raises
``PackageError`` with its own ``code``.

    from tinyml import package
    pkg = package.load("/models/kws", features=frontend_params)
    interp = pkg.interpreter            # ready to use, self-test passed
    print(pkg.labels, pkg.feature_id)

``read()`` does the file/manifest/integrity checks only (no runtime needed);
``Package.open()`` adds the runtime checks (ops, version, tensors, features,
self-test) and creates the interpreter.
"""

import hashlib
import json

try:
    import os
except ImportError:  # ports without a filesystem
    os = None

from binascii import hexlify as _hexlify

FORMAT = "mpyml-model-package"
INTERFACE_VERSIONS = (1,)

# Error codes; the table is in docs/model-package.md.
E_MISSING = 1
E_MANIFEST = 2
E_INTERFACE = 3
E_INTEGRITY = 4
E_FEATURES = 5
E_TENSOR = 6
E_OPS = 7
E_RUNTIME = 8
E_SELFTEST = 9
E_MODEL = 10

_NAMES = {
    E_MISSING: "E_MISSING",
    E_MANIFEST: "E_MANIFEST",
    E_INTERFACE: "E_INTERFACE",
    E_INTEGRITY: "E_INTEGRITY",
    E_FEATURES: "E_FEATURES",
    E_TENSOR: "E_TENSOR",
    E_OPS: "E_OPS",
    E_RUNTIME: "E_RUNTIME",
    E_SELFTEST: "E_SELFTEST",
    E_MODEL: "E_MODEL",
}


class PackageError(ValueError):
    """A package was refused. ``code`` is one of the ``E_*`` constants."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (_NAMES.get(code, "E_%d" % code), message))
        self.code = code

    @property
    def name(self):
        return _NAMES.get(self.code, "E_%d" % self.code)


# ---------------------------------------------------------------------------
# Canonical JSON and the feature id (must equal the host's mpyml.features).

# Doubles hold value * 1e6 exactly enough to round like CPython; 32-bit float
# ports round the integer and fractional parts separately instead.
_DOUBLE = (1.0 + 2.0 ** -40) != 1.0


def _micro(x):
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("canonical JSON cannot hold NaN or infinity")
    if _DOUBLE:
        return round(x * 1000000)
    ip = int(x)
    return ip * 1000000 + round((x - ip) * 1000000)


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _string(s, out):
    out.append('"')
    for ch in s:
        esc = _SHORT_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
            continue
        c = ord(ch)
        if 0x20 <= c < 0x7F:
            out.append(ch)
        elif c < 0x10000:
            out.append("\\u%04x" % c)
        else:  # outside the BMP: a UTF-16 surrogate pair, as CPython writes it
            c -= 0x10000
            out.append("\\u%04x\\u%04x" % (0xD800 | (c >> 10), 0xDC00 | (c & 0x3FF)))
    out.append('"')


def _value(v, out):
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(str(_micro(v)))
    elif isinstance(v, str):
        _string(v, out)
    elif isinstance(v, dict):
        keys = list(v.keys())
        for k in keys:
            if not isinstance(k, str):
                raise TypeError("canonical JSON keys must be strings, not %r" % (k,))
        keys.sort()
        out.append("{")
        first = True
        for k in keys:
            if not first:
                out.append(",")
            first = False
            _string(k, out)
            out.append(":")
            _value(v[k], out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i in range(len(v)):
            if i:
                out.append(",")
            _value(v[i], out)
        out.append("]")
    else:
        raise TypeError("canonical JSON cannot hold %r" % (type(v),))


def canonical_json(obj):
    """The canonical JSON text of ``obj`` (docs/model-package.md)."""
    out = []
    _value(obj, out)
    return "".join(out)


def _hex(digest):
    return _hexlify(digest).decode()


def feature_id(params):
    """Feature id of a microfrontend parameter dict (or of an object with a
    ``params``/``config`` dict, such as an AudioFrontend that exposes one)."""
    params = _params_of(params)
    head = []
    for key in ("sample_rate", "window_size", "window_step", "num_channels"):
        v = params.get(key)
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError("feature params need an integer %r, got %r" % (key, v))
        head.append(str(v))
    digest = hashlib.sha256(canonical_json(params).encode()).digest()
    return "mf1-" + "-".join(head) + "-" + _hex(digest)[:8]


def _params_of(obj):
    if isinstance(obj, dict):
        return obj
    for attr in ("params", "config"):
        v = getattr(obj, attr, None)
        if callable(v):
            v = v()
        if isinstance(v, dict):
            return v
    raise TypeError("feature params must be a dict (or an object with a params dict), not %r" % (type(obj),))


# ---------------------------------------------------------------------------
# Manifest validation.


def _need(d, key, types, where):
    if not isinstance(d, dict) or key not in d:
        raise PackageError(E_MANIFEST, "%s.%s is missing" % (where, key))
    v = d[key]
    if not isinstance(v, types) or (isinstance(v, bool) and bool not in _as_tuple(types)):
        raise PackageError(E_MANIFEST, "%s.%s has the wrong type (%r)" % (where, key, v))
    return v


def _as_tuple(t):
    return t if isinstance(t, tuple) else (t,)


def _plain_name(name, what):
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise PackageError(E_MANIFEST, "%s must be a plain file name, not %r" % (what, name))
    return name


def _tensor_spec(m, key):
    t = _need(m, key, dict, "manifest")
    shape = _need(t, "shape", list, key)
    for d in shape:
        if not isinstance(d, int) or isinstance(d, bool) or d < 0:
            raise PackageError(E_MANIFEST, "%s.shape must hold non-negative integers: %r" % (key, shape))
    _need(t, "dtype", str, key)
    _need(t, "scale", (int, float), key)
    _need(t, "zero_point", int, key)
    return t


def parse_version(text):
    """``"1.2.3"`` -> ``(1, 2, 3)``; a ValueError for anything else."""
    if not isinstance(text, str):
        raise ValueError("version must be a string like '0.1.0', not %r" % (text,))
    parts = text.split(".")
    try:
        nums = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError("version must be dotted integers like '0.1.0', not %r" % text)
    if not nums or min(nums) < 0:
        raise ValueError("version must be dotted integers like '0.1.0', not %r" % text)
    return nums


def validate_manifest(m):
    """Check a parsed manifest's format, interface version and structure."""
    if not isinstance(m, dict):
        raise PackageError(E_MANIFEST, "manifest must be a JSON object")
    fmt = m.get("format")
    if fmt != FORMAT:
        raise PackageError(E_INTERFACE, "format %r is not %r" % (fmt, FORMAT))
    iv = m.get("interface_version")
    if iv not in INTERFACE_VERSIONS or isinstance(iv, bool):
        raise PackageError(E_INTERFACE, "interface_version %r not supported (this library reads %r)"
                           % (iv, INTERFACE_VERSIONS))
    _need(m, "name", str, "manifest")
    _need(m, "version", str, "manifest")
    labels = _need(m, "labels", list, "manifest")
    for lab in labels:
        if not isinstance(lab, str):
            raise PackageError(E_MANIFEST, "labels must be strings: %r" % (labels,))
    model = _need(m, "model", dict, "manifest")
    _plain_name(_need(model, "file", str, "model"), "model.file")
    n = _need(model, "bytes", int, "model")
    if n <= 0:
        raise PackageError(E_MANIFEST, "model.bytes must be positive, not %d" % n)
    sha = _need(model, "sha256", str, "model")
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise PackageError(E_MANIFEST, "model.sha256 must be 64 lowercase hex digits")
    if "arena_bytes" in model:
        a = _need(model, "arena_bytes", int, "model")
        if a <= 0:
            raise PackageError(E_MANIFEST, "model.arena_bytes must be positive")
    ops = _need(model, "required_ops", list, "model")
    for op in ops:
        if not isinstance(op, str):
            raise PackageError(E_MANIFEST, "model.required_ops must be op names: %r" % (ops,))
    try:
        parse_version(_need(model, "min_runtime_version", str, "model"))
    except ValueError as e:
        raise PackageError(E_MANIFEST, "model.min_runtime_version: %s" % e)
    _tensor_spec(m, "input")
    out = _tensor_spec(m, "output")
    feats = _need(m, "features", dict, "manifest")
    fid = _need(feats, "id", str, "features")
    if "params" in feats:
        params = _need(feats, "params", dict, "features")
        try:
            computed = feature_id(params)
        except (TypeError, ValueError) as e:
            raise PackageError(E_MANIFEST, "features.params: %s" % e)
        if computed != fid:
            raise PackageError(E_MANIFEST, "features.id %r does not match its params (%r)" % (fid, computed))
    if labels and out["shape"] and out["shape"][-1] != len(labels):
        raise PackageError(E_MANIFEST, "%d labels for %d outputs" % (len(labels), out["shape"][-1]))
    golden = m.get("golden")
    if golden is not None:
        if not isinstance(golden, dict):
            raise PackageError(E_MANIFEST, "golden must be an object")
        _plain_name(_need(golden, "input", str, "golden"), "golden.input")
        _plain_name(_need(golden, "output", str, "golden"), "golden.output")
    return m


# ---------------------------------------------------------------------------
# Sources: folder (filesystem or ROMFS) and frozen module.


def _file_size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        raise PackageError(E_MISSING, "%s does not exist" % path)


def _read_small(path, limit=65536):
    size = _file_size(path)
    if size > limit:
        raise PackageError(E_MANIFEST, "%s is %d bytes (more than %d)" % (path, size, limit))
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise PackageError(E_MISSING, "cannot read %s: %s" % (path, e))


def _map_file(path, expect):
    """The file's bytes: in place (a ROMFS file) or read into one buffer."""
    size = _file_size(path)
    if size != expect:
        raise PackageError(E_INTEGRITY, "%s is %d bytes, the manifest says %d" % (path, size, expect))
    try:
        f = open(path, "rb")
    except OSError as e:
        raise PackageError(E_MISSING, "cannot open %s: %s" % (path, e))
    try:
        # Files in a ROMFS expose their flash through the buffer protocol:
        # the memoryview keeps the file object alive and copies nothing.
        return memoryview(f), "romfs"
    except TypeError:
        pass
    try:
        buf = bytearray(size)
        n = f.readinto(buf)
        if n != size or f.read(1):
            raise PackageError(E_INTEGRITY, "%s changed size while reading" % path)
        return memoryview(buf), "file"
    finally:
        f.close()


class Package:
    """A package whose manifest and model bytes passed the offline checks.

    ``model`` is a memoryview (of flash for ROMFS / frozen packages),
    ``manifest`` the parsed dict. ``open()`` checks it against a runtime.
    """

    def __init__(self, manifest, model, golden_input=None, golden_output=None, source=None, storage=None):
        self.manifest = manifest
        self.model = model
        self.golden_input = golden_input
        self.golden_output = golden_output
        self.source = source
        self.storage = storage  # "file", "romfs" or "frozen"
        self.interpreter = None
        self.copied = False  # True when open() had to copy unaligned model bytes

    name = property(lambda self: self.manifest["name"])
    version = property(lambda self: self.manifest["version"])
    labels = property(lambda self: self.manifest["labels"])
    feature_id = property(lambda self: self.manifest["features"]["id"])
    sha256 = property(lambda self: self.manifest["model"]["sha256"])

    @property
    def postprocess(self):
        return self.manifest.get("postprocess") or {}

    def __repr__(self):
        return "<Package %s %s (%s, %d bytes)>" % (self.name, self.version, self.storage, len(self.model))

    def open(self, features=None, runtime=None, self_test=True, arena_size=None):
        """Check the package against the runtime and create its interpreter.

        ``features``: the application's frontend params (dict), an object with
        a params dict, or a feature id string; ``None`` skips that check.
        ``runtime``: an object with ``Interpreter`` and ``version()`` (and
        optionally ``registered_ops()``); default: the ``tinyml`` module.
        """
        m = self.manifest
        rt = runtime if runtime is not None else _default_runtime()
        _check_runtime_version(m, rt)
        registered = _registered_ops(rt)
        required = m["model"]["required_ops"]
        if registered is not None:
            missing = [op for op in required if op not in registered]
            if missing:
                raise PackageError(E_OPS, "ops not in this firmware: %s" % ", ".join(missing))
        if features is not None:
            want = features if isinstance(features, str) else feature_id(features)
            if want != m["features"]["id"]:
                raise PackageError(E_FEATURES, "package wants features %s, the frontend runs %s"
                                   % (m["features"]["id"], want))
        if arena_size is None:
            arena_size = m["model"].get("arena_bytes")
        model = self.model
        if _misaligned(model):
            # The runtime reads tensor data in place and needs it aligned;
            # bytes frozen into firmware may not be: run from an aligned copy.
            model = memoryview(bytearray(model))
            self.copied = True
        try:
            interp = rt.Interpreter(model, arena_size=arena_size)
        except MemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - any refusal of the model
            msg = str(e)
            if "op" in msg.lower() and ("unsupported" in msg.lower() or "not registered" in msg.lower()):
                raise PackageError(E_OPS, "runtime refused the model: %s" % msg)
            raise PackageError(E_MODEL, "runtime refused the model: %s" % msg)
        used = getattr(interp, "ops", None)
        if callable(used):
            used = used()
        if used is not None:
            extra = [op for op in used if op not in required]
            if extra:
                raise PackageError(E_OPS, "model uses ops missing from required_ops: %s" % ", ".join(extra))
        _check_tensor(interp.input(0), m["input"], "input")
        _check_tensor(interp.output(0), m["output"], "output")
        if self_test and self.golden_input is not None:
            run_self_test(interp, self.golden_input, self.golden_output)
        self.interpreter = interp
        return interp


def _misaligned(buf, align=16):
    try:
        import uctypes
    except ImportError:
        return False  # cannot tell; the runtime refuses unaligned data itself
    return uctypes.addressof(buf) % align != 0


def _default_runtime():
    import tinyml

    if not hasattr(tinyml, "Interpreter"):
        raise PackageError(E_RUNTIME, "this firmware has no inference runtime (tinyml.Interpreter)")
    return tinyml


def _runtime_version(rt):
    v = getattr(rt, "version", None)
    if callable(v):
        v = v()
    if v is None:
        v = getattr(rt, "__version__", None)
    return v


def _check_runtime_version(m, rt):
    need = parse_version(m["model"]["min_runtime_version"])
    have_text = _runtime_version(rt)
    try:
        have = parse_version(have_text)
    except ValueError:
        raise PackageError(E_RUNTIME, "runtime version %r unreadable" % (have_text,))
    if _cmp_versions(have, need) < 0:
        raise PackageError(E_RUNTIME, "package needs runtime %s, this is %s"
                           % (m["model"]["min_runtime_version"], have_text))


def _cmp_versions(a, b):
    n = max(len(a), len(b))
    a = a + (0,) * (n - len(a))
    b = b + (0,) * (n - len(b))
    return (a > b) - (a < b)


def _registered_ops(rt):
    for attr in ("registered_ops", "ops", "OPS"):
        v = getattr(rt, attr, None)
        if v is None:
            continue
        if callable(v):
            v = v()
        return tuple(v)
    return None


_DTYPES = {
    "b": "int8", "B": "uint8", "h": "int16", "H": "uint16", "i": "int32", "f": "float32",
    9: "int8", 3: "uint8", 7: "int16", 2: "int32", 0: "float32",
}


def _dtype_name(d):
    if isinstance(d, str) and len(d) > 1:
        return d
    return _DTYPES.get(d, str(d))


def _close(a, b):
    return abs(a - b) <= 1e-5 * max(abs(a), abs(b), 1e-30)


def _check_tensor(t, spec, what):
    shape = list(t.shape)
    if shape != spec["shape"]:
        raise PackageError(E_TENSOR, "%s shape %r, the manifest says %r" % (what, shape, spec["shape"]))
    dtype = _dtype_name(t.dtype)
    if dtype != spec["dtype"]:
        raise PackageError(E_TENSOR, "%s dtype %s, the manifest says %s" % (what, dtype, spec["dtype"]))
    if not _close(t.scale, spec["scale"]):
        raise PackageError(E_TENSOR, "%s scale %r, the manifest says %r" % (what, t.scale, spec["scale"]))
    if t.zero_point != spec["zero_point"]:
        raise PackageError(E_TENSOR, "%s zero_point %d, the manifest says %d"
                           % (what, t.zero_point, spec["zero_point"]))


def run_self_test(interp, golden_input, golden_output):
    """Run the golden input; the output must be byte-identical."""
    inp = memoryview(interp.input(0))
    if len(golden_input) != len(inp):
        raise PackageError(E_SELFTEST, "golden input is %d bytes, the input tensor %d" % (len(golden_input), len(inp)))
    try:
        inp[:] = golden_input
    except (ValueError, TypeError) as e:
        raise PackageError(E_SELFTEST, "golden input does not fit the input tensor (%s)" % e)
    interp.invoke()
    got = bytes(memoryview(interp.output(0)))
    want = None if golden_output is None else bytes(golden_output)
    if got == want:
        return
    if want is not None and len(want) == len(got):
        diff = 0
        for i in range(len(got)):
            if got[i] != want[i]:
                diff += 1
        raise PackageError(E_SELFTEST, "golden output differs in %d of %d bytes" % (diff, len(got)))
    raise PackageError(E_SELFTEST, "golden output has %s bytes, the model gives %d"
                       % ("no" if want is None else len(want), len(got)))


# ---------------------------------------------------------------------------
# Entry points.


def _join(folder, name):
    return folder.rstrip("/") + "/" + name


def _parse_manifest(text):
    try:
        m = json.loads(text)
    except (ValueError, TypeError) as e:
        raise PackageError(E_MANIFEST, "manifest.json is not valid JSON (%s)" % e)
    return validate_manifest(m)


def _check_integrity(m, model):
    expect = m["model"]["bytes"]
    if len(model) != expect:
        raise PackageError(E_INTEGRITY, "model is %d bytes, the manifest says %d" % (len(model), expect))
    digest = _hex(hashlib.sha256(model).digest())
    if digest != m["model"]["sha256"]:
        raise PackageError(E_INTEGRITY, "model sha256 %s, the manifest says %s" % (digest, m["model"]["sha256"]))


def read_folder(path):
    """Read and check a package folder (filesystem or ROMFS)."""
    if os is None:
        raise PackageError(E_MISSING, "this port has no filesystem")
    m = _parse_manifest(_read_small(_join(path, "manifest.json")))
    model, storage = _map_file(_join(path, m["model"]["file"]), m["model"]["bytes"])
    _check_integrity(m, model)
    gin = gout = None
    golden = m.get("golden")
    if golden:
        gin = _read_small(_join(path, golden["input"]), 1 << 20)
        gout = _read_small(_join(path, golden["output"]), 1 << 20)
    return Package(m, model, gin, gout, path, storage)


def read_module(mod):
    """Read and check a frozen package module (or its import name)."""
    if isinstance(mod, str):
        try:
            mod = __import__(mod, None, None, ["MANIFEST"])
        except ImportError as e:
            raise PackageError(E_MISSING, "no frozen package module %r (%s)" % (mod, e))
    text = getattr(mod, "MANIFEST", None)
    model = getattr(mod, "MODEL", None)
    if text is None or model is None:
        raise PackageError(E_MISSING, "frozen package module needs MANIFEST and MODEL constants")
    m = _parse_manifest(text)
    model = memoryview(model)  # frozen bytes: stays in flash
    _check_integrity(m, model)
    gin = getattr(mod, "GOLDEN_INPUT", None)
    gout = getattr(mod, "GOLDEN_OUTPUT", None)
    if m.get("golden") and (gin is None or gout is None):
        raise PackageError(E_MISSING, "manifest names golden files but the module lacks GOLDEN_INPUT/GOLDEN_OUTPUT")
    return Package(m, model, gin, gout, getattr(mod, "__name__", None), "frozen")


def read(source):
    """A ``Package`` from a folder path, a frozen module or a module name
    (``"module:NAME"`` or any string that is not an existing folder)."""
    if isinstance(source, str):
        if source.startswith("module:"):
            return read_module(source[7:])
        if os is not None:
            try:
                os.stat(source)
                return read_folder(source)
            except OSError:
                pass
        if "/" in source:
            raise PackageError(E_MISSING, "%s does not exist" % source)
        return read_module(source)
    return read_module(source)


def load(source, features=None, runtime=None, self_test=True, arena_size=None):
    """``read(source)`` then ``open(...)``: a checked package with its interpreter."""
    pkg = read(source)
    pkg.open(features=features, runtime=runtime, self_test=self_test, arena_size=arena_size)
    return pkg
