# Shared by test_package.py and test_update.py: package folders written on
# the fly, a small stand-in runtime and a ROMFS image builder.
import hashlib
import json
import os
from binascii import hexlify

from tinyml import package

FEATURES = {
    "sample_rate": 16000, "window_size": 30, "window_step": 20, "num_channels": 40,
    "upper_band_limit": 7500.0, "lower_band_limit": 125.0, "smoothing_bits": 10,
    "even_smoothing": 0.025, "odd_smoothing": 0.06, "min_signal_remaining": 0.05,
    "enable_pcan": True, "pcan_strength": 0.95, "pcan_offset": 80.0, "gain_bits": 21,
    "enable_log": True, "scale_shift": 6,
}


def tmpdir(tag):
    base = "/tmp/mpyml-devtest-%s-%d" % (tag, int.from_bytes(os.urandom(4), "little"))
    os.mkdir(base)
    return base


def rmtree(path):
    try:
        mode = os.stat(path)[0]
    except OSError:
        return
    if mode & 0x4000:
        for name in os.listdir(path):
            rmtree(path + "/" + name)
        os.rmdir(path)
    else:
        os.remove(path)


def model_bytes(seed, n=600):
    out = bytearray(n)
    for i in range(n):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (seed >> 16) & 0xFF
    return bytes(out)


class Tensor(bytearray):
    def __init__(self, shape, dtype="int8", scale=0.5, zero_point=-128):
        n = 1
        for d in shape:
            n *= d
        super().__init__(n)
        self.shape = tuple(shape)
        self.dtype = dtype
        self.scale = scale
        self.zero_point = zero_point


def fake_outputs(model, inp, n_out):
    # A deterministic function of the model bytes and the input.
    acc = 0
    for b in inp:
        acc = (acc * 31 + b) & 0xFFFF
    return bytes(((model[j] + acc + j) & 0xFF) for j in range(n_out))


class FakeRuntime:
    """Implements what package.open() uses of the tinyml runtime."""

    def __init__(self, version="0.1.0", ops=("RESHAPE", "FULLY_CONNECTED", "SOFTMAX"), in_shape=(1, 8),
                 out_shape=(1, 4), model_ops=("FULLY_CONNECTED", "SOFTMAX"), refuse=None):
        rt = self
        self._version = version
        self._ops = ops
        self.created = 0

        class Interpreter:
            def __init__(self, model, arena_size=None):
                if refuse:
                    raise ValueError(refuse)
                rt.created += 1
                self.model = model
                self.arena_size = arena_size
                self.ops = list(model_ops)
                self._in = Tensor(in_shape, scale=0.25, zero_point=-128)
                self._out = Tensor(out_shape, scale=0.00390625, zero_point=-128)

            def input(self, i):
                return self._in

            def output(self, i):
                return self._out

            def invoke(self):
                self._out[:] = fake_outputs(self.model, bytes(self._in), len(self._out))

        self.Interpreter = Interpreter

    def version(self):
        return self._version

    def registered_ops(self):
        return self._ops


def manifest_for(model, name="kws-test", version="1.0.0", golden=True, **over):
    sha = hexlify(hashlib.sha256(model).digest()).decode()
    m = {
        "format": "mpyml-model-package",
        "interface_version": 1,
        "name": name,
        "version": version,
        "created": "2026-11-21T10:00:00Z",
        "labels": ["_silence_", "_unknown_", "yes", "no"],
        "model": {
            "file": "model.tflite", "bytes": len(model), "sha256": sha, "arena_bytes": 4096,
            "required_ops": ["FULLY_CONNECTED", "SOFTMAX"], "min_runtime_version": "0.1.0",
        },
        "input": {"shape": [1, 8], "dtype": "int8", "scale": 0.25, "zero_point": -128},
        "output": {"shape": [1, 4], "dtype": "int8", "scale": 0.00390625, "zero_point": -128},
        "features": {"type": "microfrontend", "id": package.feature_id(FEATURES), "params": FEATURES, "frames": 49},
        "postprocess": {"threshold": 0.8, "average_window_ms": 1000, "suppression_ms": 1500, "minimum_count": 3},
    }
    if golden:
        m["golden"] = {"input": "golden_input.bin", "output": "golden_output.bin"}
    for k, v in over.items():
        m[k] = v
    return m


GOLDEN_IN = bytes(range(3, 11))


def package_files(model, manifest=None, **kw):
    """name -> bytes of a complete package folder."""
    m = manifest if manifest is not None else manifest_for(model, **kw)
    files = {"manifest.json": json.dumps(m).encode(), "model.tflite": model}
    if m.get("golden"):
        files["golden_input.bin"] = GOLDEN_IN
        files["golden_output.bin"] = fake_outputs(model, GOLDEN_IN, 4)
    return files


def write_package(folder, files):
    try:
        os.mkdir(folder)
    except OSError:
        pass
    for name in files:
        with open(folder + "/" + name, "wb") as f:
            f.write(files[name])


# ROMFS images (the record format of MicroPython's vfs.VfsRom): a record
# is its kind and payload length as big-endian base-128 varuints (high bit
# on all but the last byte), then the payload.
def _vlen(n):
    k = 1
    while n > 0x7F:
        n >>= 7
        k += 1
    return k


def _rlen(kind, payload_len):
    return _vlen(kind) + _vlen(payload_len) + payload_len


def _put(img, pos, n):
    k = _vlen(n)
    for i in range(k - 1, -1, -1):
        img[pos + i] = (n & 0x7F) | (0x80 if i < k - 1 else 0)
        n >>= 7
    return pos + k


def romfs_image(tree, align=16, aligned=("model.tflite",)):
    """tree: {name: bytes-like | {name: ...}} -> a ROMFS image (bytearray).
    The data of files named in ``aligned`` starts at a multiple of ``align``
    (the runtime needs aligned tensor data), by padding records before it.
    Sizes are worked out first and the image is written once, so the
    heap holds one copy of the data (models may be memoryviews of ROMFS
    files: small boards)."""
    pads = {}  # file path -> payload length of its padding record

    def file_len(path, nm, data):
        n = _vlen(len(nm)) + len(nm) + _rlen(2, len(data))
        return n if path not in pads else n + _rlen(1, pads[path])

    def entries_len(t, prefix):
        total = 0
        for name in sorted(t):
            v, nm = t[name], name.encode()
            if isinstance(v, dict):
                total += _rlen(4, _vlen(len(nm)) + len(nm) + entries_len(v, prefix + name + "/"))
            else:
                total += _rlen(5, file_len(prefix + name, nm, v))
        return total

    def write(img, pos, t, prefix, offsets):
        # img None: positions only (offsets of the file data).
        for name in sorted(t):
            v, nm = t[name], name.encode()
            path = prefix + name
            if isinstance(v, dict):
                plen = _vlen(len(nm)) + len(nm) + entries_len(v, path + "/")
                head = (4, plen)
            else:
                head = (5, file_len(path, nm, v))
            if img is None:
                pos += _vlen(head[0]) + _vlen(head[1]) + _vlen(len(nm)) + len(nm)
            else:
                pos = _put(img, _put(img, pos, head[0]), head[1])
                pos = _put(img, pos, len(nm))
                img[pos:pos + len(nm)] = nm
                pos += len(nm)
            if isinstance(v, dict):
                pos = write(img, pos, v, path + "/", offsets)
                continue
            if path in pads:
                if img is None:
                    pos += _rlen(1, pads[path])
                else:
                    pos = _put(img, _put(img, pos, 1), pads[path]) + pads[path]  # zero bytes
            pos = pos + _rlen(2, len(v)) - len(v) if img is None else _put(img, _put(img, pos, 2), len(v))
            offsets[path] = pos
            if img is not None:
                img[pos:pos + len(v)] = v
            pos += len(v)
        return pos

    def aligned_files(t, prefix):
        for name in sorted(t):
            if isinstance(t[name], dict):
                yield from aligned_files(t[name], prefix + name + "/")
            elif name in aligned:
                yield prefix + name

    for _ in range(50):
        body = entries_len(tree, "")
        start = _vlen(0x14A6B1) + _vlen(body)
        offsets = {}
        write(None, start, tree, "", offsets)
        moved = False
        for path in aligned_files(tree, ""):
            shift = -offsets[path] % align
            if shift:
                # Grow the padding record before the data and look again:
                # lengths around it may grow too. Padding only ever grows,
                # so this settles.
                size = (_rlen(1, pads[path]) if path in pads else 0) + shift
                while size < 2 or 128 + 2 <= size < 128 + 3:  # no record is 1 or 130 bytes long
                    size += align
                pads[path] = size - 2 if size < 128 + 2 else size - 3
                moved = True
                break
        if not moved:
            img = bytearray(start + body)
            pos = _put(img, _put(img, 0, 0x14A6B1), body)
            end = write(img, pos, tree, "", {})
            assert end == len(img)
            return img
    raise AssertionError("could not align the ROMFS image")


# The real micro_speech model with a package made on the device (the
# host-made package with TFLM's golden output is tested from tests/host).
MICRO_SPEECH_FE = {"sample_rate": 16000, "window_size": 30, "window_step": 20, "num_channels": 40}


def testdata(name):
    base = os.getenv("MPYML_TESTDATA") or "../shared/testdata"
    path = base + "/" + name
    try:
        os.stat(path)
    except OSError:
        raise AssertionError("test data %s is missing (set MPYML_TESTDATA)" % path)
    return path


def play(parts, buf, feed):
    """Pass ``parts`` through ``buf`` one chunk of ``len(buf)`` samples at a
    time, calling ``feed(n)`` after each fill. A part is a recording's name
    under the test data, read chunk by chunk (one second is 32 KB, too much
    for the smallest boards' heap), or a count of silent samples."""
    from array import array

    from tinyml.sources import WavSource

    zero = array("h", bytes(2 * len(buf)))  # buf holds int16 samples
    for part in parts:
        if isinstance(part, int):
            for i in range(0, part, len(buf)):
                buf[:] = zero
                feed(min(len(buf), part - i))
            continue
        src = WavSource(testdata(part))
        try:
            total = 0
            while True:
                n = src.readinto(buf)
                if n <= 0:
                    break
                total += n
                feed(n)
            assert total == src.samples, (part, total, src.samples)
        finally:
            src.close()


def micro_speech_files(golden=True):
    import tinyml

    f = open(testdata("tflite-micro/micro_speech_quantized.tflite"), "rb")
    try:
        model = memoryview(f)  # a ROMFS file: its bytes in place, no copy on a small heap
    except TypeError:
        model = f.read()
        f.close()
    fe = tinyml.AudioFrontend(**MICRO_SPEECH_FE)
    params = fe.config()
    it = tinyml.Interpreter(model)
    i, o = it.input(0), it.output(0)
    m = manifest_for(model, name="micro-speech", golden=golden)
    m["model"]["arena_bytes"] = it.arena_used
    m["model"]["required_ops"] = list(it.ops)
    m["input"] = {"shape": list(i.shape), "dtype": i.dtype, "scale": i.scale, "zero_point": i.zero_point}
    m["output"] = {"shape": list(o.shape), "dtype": o.dtype, "scale": o.scale, "zero_point": o.zero_point}
    m["features"] = {"type": "microfrontend", "id": package.feature_id(params), "params": params, "frames": 49,
                     "input_mapping": {"float_scale": 0.0390625}}
    m["postprocess"] = {"threshold": 0.7, "average_window_ms": 1000, "suppression_ms": 1500, "minimum_count": 3,
                        "class_thresholds": {}}
    files = {"manifest.json": json.dumps(m).encode(), "model.tflite": model}
    if golden:
        gin = bytes((k * 7) & 0xFF for k in range(len(memoryview(i))))
        memoryview(i)[:] = gin
        it.invoke()
        files["golden_input.bin"] = gin
        files["golden_output.bin"] = bytes(memoryview(o))
    return files
