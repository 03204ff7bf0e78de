# tinyml.update: A/B slots, atomic pointer, health check, rollback, and a
# power cut after every single write / rename / remove / mkdir step.
import os

import pkgfixtures as fx
from tinyml import package, update
from tinyml.testing import SkipTest, raises
from tinyml.update import Slots, UpdateError

_dirs = []


def teardown():
    while _dirs:
        fx.rmtree(_dirs.pop())


class PowerLoss(Exception):
    pass


class _File:
    def __init__(self, fs, f):
        self.fs = fs
        self.f = f

    def write(self, data):
        if self.fs.step(torn=True, what=("write", len(data))):
            # The cut lands in the middle of this write: half of it arrives.
            self.f.write(bytes(data)[: len(data) // 2])
            self.f.close()
            raise PowerLoss()
        return self.f.write(data)

    def read(self, *a):
        return self.f.read(*a)

    def readinto(self, b):
        return self.f.readinto(b)

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


class FaultFS(update.PosixFS):
    """Counts every mutating step; the power goes at step ``cut`` (1-based).

    With ``torn`` the cut write leaves half its bytes behind; opening a file
    for writing (which truncates it) is a step of its own.
    """

    def __init__(self, cut=None, torn=False, no_replace=False):
        self.cut = cut
        self.torn = torn
        self.no_replace = no_replace  # rename refuses to replace, like FAT
        self.steps = 0
        self.log = []

    def step(self, torn=False, what=None):
        self.steps += 1
        if what is not None:
            self.log.append(what)
        if self.cut is not None and self.steps >= self.cut:
            if torn and self.torn:
                return True
            raise PowerLoss()
        return False

    def open(self, path, mode):
        if "w" in mode:
            self.step(what=("open", path))
            return _File(self, open(path, mode))
        return open(path, mode)

    def rename(self, src, dst):
        if self.no_replace and self.exists(dst):
            raise OSError(17)
        self.step(what=("rename", src, dst))
        super().rename(src, dst)

    def remove(self, path):
        self.step(what=("remove", path))
        super().remove(path)

    def mkdir(self, path):
        self.step(what=("mkdir", path))
        super().mkdir(path)


MODEL_A = fx.model_bytes(11, 700)
MODEL_B = fx.model_bytes(22, 900)
FILES_A = fx.package_files(MODEL_A, name="model-a")
FILES_B = fx.package_files(MODEL_B, name="model-b")


def _root():
    d = fx.tmpdir("upd")
    _dirs.append(d)
    return d + "/models"


def _fresh(**kw):
    """A device with model A installed and confirmed."""
    root = _root()
    s = Slots(root, **kw)
    fx.write_package(root, {})  # creates root
    fx.write_package(root + "/a", FILES_A)
    pkg = s.boot()
    assert pkg.name == "model-a" and s.pointer["slot"] == "a"
    return root


def _valid(pkg):
    # What "boots a valid model" means: the package re-reads cleanly from
    # its folder (manifest, sha256) and passes its self-test on a runtime.
    again = package.read(pkg.source)
    assert bytes(again.model) == bytes(pkg.model)
    again.open(runtime=fx.FakeRuntime())
    return again.name


def test_install_switches_and_confirms():
    root = _fresh()
    s = Slots(root)
    s.boot()
    pkg = s.install(FILES_B, health_check=lambda p: True)
    assert pkg.name == "model-b" and s.pointer["slot"] == "b" and s.state == "ok"
    assert Slots(root).boot().name == "model-b"
    # And back again into slot a.
    s.install(FILES_A, health_check=lambda p: True)
    assert Slots(root).boot().name == "model-a"


def test_refused_package_leaves_old_model_running():
    root = _fresh()
    s = Slots(root)
    s.boot()
    bad = dict(FILES_B)
    model = bytearray(MODEL_B)
    model[10] ^= 1
    bad["model.tflite"] = bytes(model)
    with raises(UpdateError, "E_INTEGRITY") as r:
        s.install(bad)
    assert r.value.package_error.code == package.E_INTEGRITY
    assert s.pointer["slot"] == "a" and Slots(root).boot().name == "model-a"


def test_self_test_failure_refused_with_runtime():
    root = _fresh()
    s = Slots(root, runtime=fx.FakeRuntime())
    s.boot()
    bad = dict(FILES_B)
    out = bytearray(bad["golden_output.bin"])
    out[0] ^= 1
    bad["golden_output.bin"] = bytes(out)
    with raises(UpdateError) as r:
        s.install(bad)
    assert r.value.package_error.code == package.E_SELFTEST
    assert Slots(root, runtime=fx.FakeRuntime()).boot().name == "model-a"


def test_health_check_failure_rolls_back():
    root = _fresh()
    s = Slots(root)
    s.boot()
    with raises(UpdateError, "health check"):
        s.install(FILES_B, health_check=lambda p: False)
    assert s.pointer["slot"] == "a" and s.state == "ok"

    def crash(p):
        raise RuntimeError("inference crashed")

    with raises(UpdateError):
        s.install(FILES_B, health_check=crash)
    assert Slots(root).boot().name == "model-a"


def test_trial_not_confirmed_is_rolled_back_after_max_boots():
    root = _fresh()
    s = Slots(root, max_trial_boots=2)
    s.boot()
    s.install(FILES_B)  # no health check: stays on trial
    assert s.state == "trial"
    with raises(UpdateError, "on trial"):
        s.install(FILES_A)
    # Two boots that never confirm (the app crashes before it can).
    for _ in range(2):
        b = Slots(root, max_trial_boots=2)
        assert b.boot().name == "model-b" and b.state == "trial"
    b = Slots(root, max_trial_boots=2)
    assert b.boot().name == "model-a" and b.state == "ok"


def test_boot_health_check_confirms_or_rolls_back():
    root = _fresh()
    s = Slots(root)
    s.boot()
    s.install(FILES_B)
    b = Slots(root)
    assert b.boot(health_check=lambda p: True).name == "model-b" and b.state == "ok"
    root = _fresh()
    s = Slots(root)
    s.boot()
    s.install(FILES_B)
    b = Slots(root)
    assert b.boot(health_check=lambda p: p.name != "model-b").name == "model-a"
    assert Slots(root).boot().name == "model-a"


def test_corrupted_active_slot_falls_back_to_the_other():
    root = _fresh()
    s = Slots(root)
    s.boot()
    s.install(FILES_B, health_check=lambda p: True)
    with open(root + "/b/model.tflite", "r+b") as f:  # bit rot in the active model
        f.seek(100)
        f.write(b"\x00\x01")
    b = Slots(root)
    assert b.boot().name == "model-a" and b.pointer["slot"] == "a"
    assert ("invalid", "b", package.E_INTEGRITY) in b.events


def test_no_valid_model_uses_fallback_or_raises():
    root = _root()
    fx.write_package(root, {})
    with raises(UpdateError, "no valid model"):
        Slots(root).boot()

    class Factory:
        MANIFEST = FILES_A["manifest.json"]
        MODEL = FILES_A["model.tflite"]
        GOLDEN_INPUT = FILES_A["golden_input.bin"]
        GOLDEN_OUTPUT = FILES_A["golden_output.bin"]

    s = Slots(root)
    assert s.boot(fallback=Factory).name == "model-a" and s.package.storage == "frozen"


def test_pointer_encoding_detects_damage():
    rec = {"seq": 3, "slot": "b", "state": "trial", "prev": "a", "boots": 0}
    data = update.encode_pointer(rec)
    assert update.decode_pointer(data) == rec
    for cut in range(len(data)):
        assert update.decode_pointer(data[:cut]) is None
    flipped = bytearray(data)
    flipped[10] ^= 0x04
    assert update.decode_pointer(bytes(flipped)) is None
    assert update.decode_pointer(b"\xff\xfe") is None


def test_install_from_folder():
    root = _fresh()
    src = _root() + "-src"
    fx.write_package(src, FILES_B)
    s = Slots(root)
    s.boot()
    s.install(src, health_check=lambda p: True)
    assert Slots(root).boot().name == "model-b"
    fx.rmtree(src)


def _run_cut_everywhere(torn, no_replace=False, health=True):
    # First a clean run to count the steps of one update.
    root = _fresh()
    fs = FaultFS(no_replace=no_replace)
    s = Slots(root, fs=fs)
    s.boot()
    s.install(FILES_B, health_check=(lambda p: True) if health else None)
    total = fs.steps
    switch = None
    for i, what in enumerate(fs.log):
        if what[0] == "rename" and switch is None:
            switch = i + 1  # the step that makes the new pointer current
    assert total > 10 and switch is not None
    seen = {}
    for cut in range(1, total + 1):
        teardown()
        root = _fresh()
        fs = FaultFS(cut, torn=torn, no_replace=no_replace)
        s = Slots(root, fs=fs)
        s.boot()
        with raises(PowerLoss):
            s.install(FILES_B, health_check=(lambda p: True) if health else None)
        # Power back: boot with a healthy filesystem.
        b = Slots(root, fs=FaultFS(no_replace=no_replace))
        pkg = b.boot()
        name = _valid(pkg)
        # Before the pointer switched, the old model; from then on the new.
        if no_replace:
            assert name in ("model-a", "model-b")
        else:
            assert name == ("model-a" if cut <= switch else "model-b"), (cut, switch, name)
        seen[name] = seen.get(name, 0) + 1
        # The device can always update afterwards.
        if b.state == "trial":
            b.confirm()
        nxt = "model-a" if name == "model-b" else "model-b"
        b.install(FILES_A if nxt == "model-a" else FILES_B, health_check=lambda p: True)
        assert _valid(Slots(root).boot()) == nxt
    assert seen.get("model-a", 0) > 0 and seen.get("model-b", 0) > 0
    return total


def test_power_loss_at_every_step_of_an_update():
    assert _run_cut_everywhere(torn=False) > 10


def test_power_loss_with_torn_writes():
    _run_cut_everywhere(torn=True)


def test_power_loss_on_filesystem_without_replacing_rename():
    _run_cut_everywhere(torn=True, no_replace=True)


def test_power_loss_during_trial_boots_and_rollback():
    # An update left on trial; every boot step and the rollback may be cut.
    root = _fresh()
    s = Slots(root)
    s.boot()
    s.install(FILES_B)
    with open(root + "/current", "rb") as f:
        state = [f.read()]
    fs = FaultFS()
    Slots(root, fs=fs).boot(health_check=lambda p: False)  # counts the steps of a failing check
    total = fs.steps
    assert total >= 2
    for cut in range(1, total + 1):
        with open(root + "/current", "wb") as f:
            f.write(state[0])
        with raises(PowerLoss):
            Slots(root, fs=FaultFS(cut, torn=True)).boot(health_check=lambda p: False)
        b = Slots(root)
        assert _valid(b.boot(health_check=lambda p: False)) == "model-a"


def test_real_runtime_update_with_kws_health_check():
    # Slots verified by the real runtime (ops, tensors, golden self-test);
    # the health check runs the keyword pipeline on a real "yes".
    import tinyml
    from array import array

    from tinyml.kws import KWS

    good = fx.micro_speech_files()
    root = _root()
    # The update keeps two copies of the real package (slots a and b): boards
    # whose filesystem is a RAM disk carved from a small heap cannot hold them.
    need = 2 * sum(len(v) for v in good.values())
    st = os.statvfs(root[: root.rindex("/")])
    if st[0] * st[3] < need:
        import gc

        raise SkipTest("two slots need %d bytes; the filesystem has %d free (heap %d bytes)"
                       % (need, st[0] * st[3], gc.mem_free() + gc.mem_alloc()))
    fx.write_package(root, {})
    fx.write_package(root + "/a", FILES_A)  # a model this firmware would refuse (fake bytes)
    s = Slots(root, runtime=tinyml)
    with raises(UpdateError, "no valid model"):
        s.boot()
    fx.write_package(root + "/a", good)
    s = Slots(root, runtime=tinyml)
    assert s.boot().name == "micro-speech"
    yes = "tflite-micro/yes_1000ms.wav"
    quiet = 8000  # half a second of silence

    def hears_yes(pkg):
        k = KWS.from_package(pkg)
        got = []
        buf = array("h", bytes(2 * 1600))
        fx.play((quiet, yes, quiet, quiet), buf, lambda n: k.feed(buf, n, lambda d: got.append(d.label)))
        return got == ["yes"] and k.dropped == 0

    # A new version of the same model passes; a broken golden file does not.
    import json

    m = json.loads(good["manifest.json"])
    m["version"] = "1.1.0"
    newer = dict(good)
    newer["manifest.json"] = json.dumps(m).encode()
    s.install(newer, health_check=hears_yes)
    assert s.pointer["slot"] == "b" and Slots(root, runtime=tinyml).boot().version == "1.1.0"
    broken = dict(newer)
    out = bytearray(broken["golden_output.bin"])
    out[0] ^= 0x40
    broken["golden_output.bin"] = bytes(out)
    with raises(UpdateError) as r:
        s.install(broken, health_check=hears_yes)
    assert r.value.package_error.code == package.E_SELFTEST
    assert Slots(root, runtime=tinyml).boot().version == "1.1.0"
