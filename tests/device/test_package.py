# tinyml.package: loading, fail-closed checks with their error codes,
# canonical JSON / feature id, ROMFS zero-copy and frozen-module packages.
import json

import pkgfixtures as fx
from tinyml import package
from tinyml.package import PackageError
from tinyml.testing import raises

_dirs = []


def teardown():
    while _dirs:
        fx.rmtree(_dirs.pop())


def _folder(files):
    d = fx.tmpdir("pkg")
    _dirs.append(d)
    fx.write_package(d + "/p", files)
    return d + "/p"


def _expect(code, fn, *args, **kw):
    with raises(PackageError) as r:
        fn(*args, **kw)
    assert r.value.code == code, "wanted code %d, got %d (%s)" % (code, r.value.code, r.value)
    return r.value


MODEL = fx.model_bytes(7)


def test_load_folder_runs_self_test():
    rt = fx.FakeRuntime()
    pkg = package.load(_folder(fx.package_files(MODEL)), features=fx.FEATURES, runtime=rt)
    assert pkg.storage == "file"
    assert pkg.labels == ["_silence_", "_unknown_", "yes", "no"]
    assert bytes(pkg.model) == MODEL
    assert pkg.interpreter is not None and pkg.interpreter.arena_size == 4096
    # The self-test ran: the output tensor holds the golden output.
    assert bytes(pkg.interpreter.output(0)) == fx.fake_outputs(MODEL, fx.GOLDEN_IN, 4)
    assert pkg.feature_id == package.feature_id(fx.FEATURES)


def test_error_codes_are_distinct_and_named():
    codes = [package.E_MISSING, package.E_MANIFEST, package.E_INTERFACE, package.E_INTEGRITY, package.E_FEATURES,
             package.E_TENSOR, package.E_OPS, package.E_RUNTIME, package.E_SELFTEST, package.E_MODEL]
    assert len(set(codes)) == len(codes)
    e = PackageError(package.E_OPS, "x")
    assert e.name == "E_OPS" and "E_OPS" in str(e) and isinstance(e, ValueError)


def test_missing_files():
    _expect(package.E_MISSING, package.read, "/tmp/does-not-exist-mpyml/pkg")
    files = fx.package_files(MODEL)
    del files["model.tflite"]
    _expect(package.E_MISSING, package.read, _folder(files))
    files = fx.package_files(MODEL)
    del files["golden_output.bin"]
    _expect(package.E_MISSING, package.read, _folder(files))


def test_bad_manifests_refused():
    files = fx.package_files(MODEL)
    files["manifest.json"] = b"{not json"
    _expect(package.E_MANIFEST, package.read, _folder(files))
    for key in ("labels", "model", "input", "output", "features", "name"):
        m = fx.manifest_for(MODEL)
        del m[key]
        _expect(package.E_MANIFEST, package.read, _folder(fx.package_files(MODEL, m)))
    bad = [
        ("model", "bytes", "600"), ("model", "sha256", "abc"), ("model", "required_ops", "FULLY_CONNECTED"),
        ("model", "min_runtime_version", "one"), ("model", "file", "../model.tflite"),
        ("input", "shape", [1, -8]), ("output", "zero_point", 1.5), ("features", "id", "mf1-16000-30-20-40-00000000"),
    ]
    for section, key, value in bad:
        m = fx.manifest_for(MODEL)
        m[section][key] = value
        _expect(package.E_MANIFEST, package.read, _folder(fx.package_files(MODEL, m)))
    m = fx.manifest_for(MODEL, labels=["a", "b"])  # 2 labels for 4 outputs
    _expect(package.E_MANIFEST, package.read, _folder(fx.package_files(MODEL, m)))


def test_interface_version_and_format():
    m = fx.manifest_for(MODEL, interface_version=2)
    _expect(package.E_INTERFACE, package.read, _folder(fx.package_files(MODEL, m)))
    m = fx.manifest_for(MODEL, format="other-format")
    _expect(package.E_INTERFACE, package.read, _folder(fx.package_files(MODEL, m)))


def test_corrupted_model_refused():
    files = fx.package_files(MODEL)
    bad = bytearray(MODEL)
    bad[123] ^= 0x01  # one flipped bit
    files["model.tflite"] = bytes(bad)
    e = _expect(package.E_INTEGRITY, package.read, _folder(files))
    assert "sha256" in str(e)
    files["model.tflite"] = MODEL[:-1]  # truncated
    _expect(package.E_INTEGRITY, package.read, _folder(files))


def test_runtime_version():
    m = fx.manifest_for(MODEL)
    m["model"]["min_runtime_version"] = "0.2.0"
    pkg = package.read(_folder(fx.package_files(MODEL, m)))
    _expect(package.E_RUNTIME, pkg.open, runtime=fx.FakeRuntime(version="0.1.9"))
    pkg.open(runtime=fx.FakeRuntime(version="0.10.0"))  # numeric, not text, comparison
    pkg.open(runtime=fx.FakeRuntime(version="0.2"))


def test_required_ops():
    pkg = package.read(_folder(fx.package_files(MODEL)))
    e = _expect(package.E_OPS, pkg.open, runtime=fx.FakeRuntime(ops=("FULLY_CONNECTED",)))
    assert "SOFTMAX" in str(e)
    # The model uses an op its manifest does not list.
    rt = fx.FakeRuntime(model_ops=("FULLY_CONNECTED", "SOFTMAX", "RESHAPE"))
    _expect(package.E_OPS, pkg.open, runtime=rt)


def test_feature_config_mismatch():
    pkg = package.read(_folder(fx.package_files(MODEL)))
    other = dict(fx.FEATURES)
    other["pcan_strength"] = 0.9
    _expect(package.E_FEATURES, pkg.open, features=other, runtime=fx.FakeRuntime())
    _expect(package.E_FEATURES, pkg.open, features="mf1-16000-30-20-40-deadbeef", runtime=fx.FakeRuntime())
    pkg.open(features=package.feature_id(fx.FEATURES), runtime=fx.FakeRuntime())


def test_tensor_contract():
    pkg = package.read(_folder(fx.package_files(MODEL)))
    _expect(package.E_TENSOR, pkg.open, runtime=fx.FakeRuntime(in_shape=(1, 9)))
    _expect(package.E_TENSOR, pkg.open, runtime=fx.FakeRuntime(out_shape=(1, 5)))
    for section, key, value in (("input", "dtype", "uint8"), ("input", "scale", 0.26), ("output", "zero_point", 0)):
        m = fx.manifest_for(MODEL)
        m[section][key] = value
        p = package.read(_folder(fx.package_files(MODEL, m)))
        _expect(package.E_TENSOR, p.open, runtime=fx.FakeRuntime())


def test_self_test_failure():
    files = fx.package_files(MODEL)
    out = bytearray(files["golden_output.bin"])
    out[2] ^= 0x10
    files["golden_output.bin"] = bytes(out)
    pkg = package.read(_folder(files))
    e = _expect(package.E_SELFTEST, pkg.open, runtime=fx.FakeRuntime())
    assert "1 of 4" in str(e)
    pkg.open(runtime=fx.FakeRuntime(), self_test=False)  # explicitly skipped


def test_runtime_refusal():
    pkg = package.read(_folder(fx.package_files(MODEL)))
    _expect(package.E_MODEL, pkg.open, runtime=fx.FakeRuntime(refuse="bad flatbuffer"))
    # A firmware without one of the model's kernels (the runtime lists none up front).
    rt = fx.FakeRuntime(refuse="unsupported operator LSTM (code 16)")
    rt.registered_ops = None
    _expect(package.E_OPS, pkg.open, runtime=rt)


def test_checks_run_before_the_interpreter_is_created():
    rt = fx.FakeRuntime(ops=("SOFTMAX",))
    pkg = package.read(_folder(fx.package_files(MODEL)))
    _expect(package.E_OPS, pkg.open, runtime=rt)
    assert rt.created == 0


def test_canonical_json():
    c = package.canonical_json
    assert c({"b": 1, "a": [True, False, None], "c": "x"}) == '{"a":[true,false,null],"b":1,"c":"x"}'
    assert (c({"f": 0.025, "g": 7500.0, "h": -0.95, "i": 1e-6, "j": 2.5e-7})
            == '{"f":25000,"g":7500000000,"h":-950000,"i":1,"j":0}')
    assert c({"s": 'q"\\\n\t\x01\x7fé€'}) == '{"s":"q\\"\\\\\\n\\t\\u0001\\u007f\\u00e9\\u20ac"}'
    assert c({"z": {"y": 1, "x": (2, 3)}}) == '{"z":{"x":[2,3],"y":1}}'
    with raises(ValueError):
        c({"a": float("nan")})
    with raises(TypeError):
        c({1: 2})
    with raises(TypeError):
        c({"a": b"bytes"})


def test_feature_id():
    fid = package.feature_id(fx.FEATURES)
    assert fid.startswith("mf1-16000-30-20-40-") and len(fid) == len("mf1-16000-30-20-40-") + 8
    other = dict(fx.FEATURES)
    other["odd_smoothing"] = 0.061
    assert package.feature_id(other) != fid

    class Frontend:
        def params(self):
            return fx.FEATURES

    assert package.feature_id(Frontend()) == fid
    with raises(ValueError, "sample_rate"):
        package.feature_id({"window_size": 30})
    with raises(TypeError):
        package.feature_id(42)


def test_romfs_package_is_zero_copy():
    import vfs

    files = fx.package_files(MODEL)
    img = fx.romfs_image({"kws": files})
    vfs.mount(vfs.VfsRom(img), "/rom_mpyml_test")
    try:
        pkg = package.load("/rom_mpyml_test/kws", runtime=fx.FakeRuntime())
        assert pkg.storage == "romfs"
        assert bytes(pkg.model) == MODEL
        # The model view points into the image: changing the image shows
        # through the view (a copy would not change).
        start = bytes(img).find(MODEL)
        assert start > 0
    finally:
        vfs.umount("/rom_mpyml_test")
    img2 = bytearray(img)
    vfs.mount(vfs.VfsRom(img2), "/rom_mpyml_test")
    try:
        pkg = package.read("/rom_mpyml_test/kws")
        img2[start + 5] ^= 0xFF
        assert pkg.model[5] == img2[start + 5]
    finally:
        vfs.umount("/rom_mpyml_test")


def test_frozen_module_package():
    import sys

    files = fx.package_files(MODEL)

    class Mod:
        __name__ = "kws_frozen_test"
        MANIFEST = files["manifest.json"]
        MODEL = files["model.tflite"]
        GOLDEN_INPUT = files["golden_input.bin"]
        GOLDEN_OUTPUT = files["golden_output.bin"]

    pkg = package.load(Mod, runtime=fx.FakeRuntime())
    assert pkg.storage == "frozen" and bytes(pkg.model) == MODEL

    sys.modules["kws_frozen_test"] = Mod
    try:
        assert package.read("module:kws_frozen_test").name == "kws-test"
    finally:
        del sys.modules["kws_frozen_test"]

    class Broken:
        MANIFEST = files["manifest.json"]

    _expect(package.E_MISSING, package.read, Broken)
    _expect(package.E_MISSING, package.read, "module:no_such_package_module")


def test_manifest_without_golden_skips_self_test():
    m = fx.manifest_for(MODEL, golden=False)
    pkg = package.load(_folder(fx.package_files(MODEL, m)), runtime=fx.FakeRuntime())
    assert pkg.golden_input is None and pkg.interpreter is not None


def test_manifest_roundtrip_is_plain_json():
    m = fx.manifest_for(MODEL)
    parsed = json.loads(json.dumps(m))
    assert package.validate_manifest(parsed) is parsed
    parsed["model"]["arena_bytes"] = 0
    _expect(package.E_MANIFEST, package.validate_manifest, parsed)


def test_real_model_package():
    import tinyml

    files = fx.micro_speech_files()
    folder = _folder(files)
    fe = tinyml.AudioFrontend(**fx.MICRO_SPEECH_FE)
    pkg = package.load(folder, features=fe)  # the real runtime, self-test included
    assert pkg.interpreter.ops == pkg.manifest["model"]["required_ops"]
    assert list(pkg.interpreter.input(0).shape) == [1, 1960]
    # The frontend the app runs must match the package's.
    other = tinyml.AudioFrontend(sample_rate=16000, window_size=30, window_step=20, num_channels=40,
                                 pcan_strength=0.9)
    _expect(package.E_FEATURES, package.load, folder, features=other)
    # Tensor contract against the real tensors.
    m = json.loads(files["manifest.json"])
    m["input"]["scale"] = 0.2
    bad = dict(files)
    bad["manifest.json"] = json.dumps(m).encode()
    _expect(package.E_TENSOR, package.load, _folder(bad))
    # A manifest that hides an op the model uses.
    m = json.loads(files["manifest.json"])
    m["model"]["required_ops"].remove("SOFTMAX")
    bad["manifest.json"] = json.dumps(m).encode()
    _expect(package.E_OPS, package.load, _folder(bad))
    # Golden output off by one bit.
    bad = dict(files)
    out = bytearray(files["golden_output.bin"])
    out[3] ^= 1
    bad["golden_output.bin"] = bytes(out)
    _expect(package.E_SELFTEST, package.load, _folder(bad))


def test_real_runtime_refuses_garbage_with_matching_sha():
    # The hash matches (the manifest was made for these bytes), but the
    # bytes are no model: the runtime's refusal is E_MODEL.
    junk = fx.model_bytes(3, 2000)
    m = fx.manifest_for(junk, golden=False)
    pkg = package.read(_folder(fx.package_files(junk, m)))
    _expect(package.E_MODEL, pkg.open)


def test_real_model_from_romfs_is_used_in_place():
    import vfs

    files = fx.micro_speech_files()
    img = fx.romfs_image({"ms": files})  # a bytearray: one copy of the model
    vfs.mount(vfs.VfsRom(img), "/rom_mpyml_real")
    try:
        pkg = package.load("/rom_mpyml_real/ms")
        assert pkg.storage == "romfs"
        import uctypes

        # The interpreter runs the model where it lies in the image.
        base = uctypes.addressof(img)
        addr = uctypes.addressof(pkg.model)
        assert base < addr < base + len(img) and addr % 16 == 0
        assert uctypes.addressof(pkg.interpreter.model) == addr
        pkg.interpreter.invoke()
    finally:
        vfs.umount("/rom_mpyml_real")


def test_unaligned_model_bytes_run_from_an_aligned_copy():
    import uctypes

    files = fx.micro_speech_files()
    raw = bytearray(len(files["model.tflite"]) + 1)
    raw[1:] = files["model.tflite"]

    class Frozen:
        MANIFEST = files["manifest.json"]
        MODEL = memoryview(raw)[1:]  # like frozen bytes at an odd address
        GOLDEN_INPUT = files["golden_input.bin"]
        GOLDEN_OUTPUT = files["golden_output.bin"]

    assert uctypes.addressof(Frozen.MODEL) % 16 != 0
    pkg = package.load(Frozen)
    assert pkg.copied and uctypes.addressof(pkg.interpreter.model) % 16 == 0
    aligned = package.load(_folder(files))
    assert not aligned.copied
