"""A/B model update: two package slots and a small pointer file.

Layout under ``root`` (default ``/models``)::

    a/  b/        two package folders (docs/model-package.md)
    current       the pointer: which slot runs, and whether it is on trial
    current.tmp   the next pointer while it is being written

The pointer is one JSON line plus a checksum line; it is replaced by writing
``current.tmp`` completely and renaming it over ``current``, so at every
instant ``current`` holds either the old or the new pointer. The active slot
is never written; a new package goes to the other slot, is verified (sha256,
manifest, optionally the runtime checks and the golden self-test), and only
then does the pointer switch, in state ``trial``. A health check confirms
the new model or rolls back; a model that keeps the device from confirming
it (``max_trial_boots`` boots on trial) is rolled back at boot.

    from tinyml.update import Slots
    slots = Slots("/models", runtime=tinyml, features=frontend_params)
    pkg = slots.boot(health_check=my_check)      # at every start
    slots.install({"manifest.json": m, "model.tflite": t, ...}, health_check=my_check)
"""

import hashlib
import json

try:
    import os
except ImportError:
    os = None

from binascii import hexlify

from . import package

SLOTS = ("a", "b")
STATE_OK = "ok"
STATE_TRIAL = "trial"
_CHUNK = 512


class UpdateError(Exception):
    """An update was refused or rolled back; the running model is unchanged.

    ``package_error`` holds the ``PackageError`` when verification failed.
    """

    def __init__(self, message, package_error=None):
        super().__init__(message)
        self.package_error = package_error


class PosixFS:
    """The filesystem operations the updater uses (all writes go through
    here, so tests can cut the power after any one of them)."""

    def open(self, path, mode):
        return open(path, mode)

    def rename(self, src, dst):
        os.rename(src, dst)

    def remove(self, path):
        os.remove(path)

    def mkdir(self, path):
        os.mkdir(path)

    def listdir(self, path):
        return os.listdir(path)

    def exists(self, path):
        try:
            os.stat(path)
            return True
        except OSError:
            return False


def _checksum(text):
    return hexlify(hashlib.sha256(text.encode()).digest()).decode()[:16]


def encode_pointer(rec):
    line = json.dumps(rec)
    return (line + "\n" + _checksum(line) + "\n").encode()


def decode_pointer(data):
    """The pointer record, or None when the bytes are not a complete one."""
    try:
        text = data.decode()
    except (UnicodeError, ValueError):
        return None
    parts = text.split("\n")
    if len(parts) != 3 or parts[2] != "" or _checksum(parts[0]) != parts[1]:
        return None
    try:
        rec = json.loads(parts[0])
    except ValueError:
        return None
    if not isinstance(rec, dict) or rec.get("slot") not in SLOTS or rec.get("state") not in (STATE_OK, STATE_TRIAL):
        return None
    if not isinstance(rec.get("seq"), int) or not isinstance(rec.get("boots"), int):
        return None
    if rec["state"] == STATE_TRIAL and rec.get("prev") not in SLOTS:
        return None
    return rec


def _other(slot):
    return "b" if slot == "a" else "a"


class Slots:
    """Two model slots with an atomic pointer. See the module docstring."""

    def __init__(self, root="/models", fs=None, runtime=None, features=None, self_test=True, max_trial_boots=3):
        if max_trial_boots < 1:
            raise ValueError("max_trial_boots must be >= 1")
        self.root = root.rstrip("/")
        self.fs = fs if fs is not None else PosixFS()
        self.runtime = runtime
        self.features = features
        self.self_test = self_test
        self.max_trial_boots = max_trial_boots
        self.pointer = None  # the record in effect after boot()
        self.package = None
        self.events = []  # what boot()/install() did, for logs and tests

    # -- paths and pointer ---------------------------------------------------
    def slot_path(self, slot):
        return self.root + "/" + slot

    def _ptr(self):
        return self.root + "/current"

    def _read_file(self, path):
        try:
            with self.fs.open(path, "rb") as f:
                return f.read(4096)
        except OSError:
            return None

    def read_pointer(self):
        """The valid pointer record, or None. ``current`` wins; ``current.tmp``
        counts only when ``current`` is missing or damaged (a filesystem
        whose rename does not replace: see ``_write_pointer``)."""
        data = self._read_file(self._ptr())
        rec = decode_pointer(data) if data is not None else None
        if rec is None:
            data = self._read_file(self._ptr() + ".tmp")
            rec = decode_pointer(data) if data is not None else None
        return rec

    def _write_pointer(self, rec):
        data = encode_pointer(rec)
        tmp = self._ptr() + ".tmp"
        with self.fs.open(tmp, "wb") as f:
            f.write(data)
        try:
            self.fs.rename(tmp, self._ptr())
        except OSError:
            # FAT cannot rename over an existing file: remove, then rename.
            # In between, read_pointer() falls back to the complete tmp.
            if not self.fs.exists(self._ptr()):
                raise
            self.fs.remove(self._ptr())
            self.fs.rename(tmp, self._ptr())
        self.pointer = rec

    # -- verification --------------------------------------------------------
    def verify(self, slot, self_test=None):
        """The slot's package after every check; raises PackageError."""
        pkg = package.read_folder(self.slot_path(slot))
        if self.runtime is not None:
            st = self.self_test if self_test is None else self_test
            pkg.open(features=self.features, runtime=self.runtime, self_test=st)
        return pkg

    def _try(self, slot):
        try:
            return self.verify(slot)
        except package.PackageError as e:
            self.events.append(("invalid", slot, e.code))
            return None

    # -- boot ----------------------------------------------------------------
    def boot(self, health_check=None, fallback=None):
        """Pick a valid model (see the module docstring) and return its
        Package. ``fallback``: a package source (e.g. a frozen module) used
        when neither slot holds a valid package."""
        rec = self.read_pointer()
        if rec is None:
            return self._boot_scan(fallback)
        slot = rec["slot"]
        if rec["state"] == STATE_TRIAL:
            if rec["boots"] >= self.max_trial_boots:
                self.events.append(("rollback", slot, "not confirmed after %d boots" % rec["boots"]))
                return self._fall_back_to(rec, rec["prev"], fallback)
            trial = dict(rec)
            trial["boots"] = rec["boots"] + 1
            self._write_pointer(trial)
            pkg = self._try(slot)
            if pkg is None:
                self.events.append(("rollback", slot, "trial slot invalid"))
                return self._fall_back_to(trial, rec["prev"], fallback)
            self.package = pkg
            if health_check is not None:
                if self._healthy(pkg, health_check):
                    self.confirm()
                else:
                    self.events.append(("rollback", slot, "health check failed"))
                    return self._fall_back_to(trial, rec["prev"], fallback)
            return pkg
        pkg = self._try(slot)
        if pkg is not None:
            self.pointer = rec
            self.package = pkg
            return pkg
        return self._fall_back_to(rec, _other(slot), fallback)

    def _boot_scan(self, fallback):
        for slot in SLOTS:
            pkg = self._try(slot)
            if pkg is not None:
                self._write_pointer({"seq": 1, "slot": slot, "state": STATE_OK, "prev": None, "boots": 0})
                self.events.append(("adopt", slot))
                self.package = pkg
                return pkg
        return self._use_fallback(fallback)

    def _fall_back_to(self, rec, slot, fallback):
        pkg = self._try(slot)
        if pkg is None:
            return self._use_fallback(fallback)
        self._write_pointer({"seq": rec["seq"] + 1, "slot": slot, "state": STATE_OK, "prev": None, "boots": 0})
        self.events.append(("switch", slot))
        self.package = pkg
        return pkg

    def _use_fallback(self, fallback):
        if fallback is None:
            raise UpdateError("no valid model in %s (slots a and b refused) and no fallback" % self.root)
        pkg = package.read(fallback)
        if self.runtime is not None:
            pkg.open(features=self.features, runtime=self.runtime, self_test=self.self_test)
        self.events.append(("fallback", pkg.name))
        self.pointer = None
        self.package = pkg
        return pkg

    def _healthy(self, pkg, health_check):
        try:
            return bool(health_check(pkg))
        except Exception as e:  # noqa: BLE001 - a crashing check is a failed check
            self.events.append(("health-error", repr(e)))
            return False

    # -- state changes -------------------------------------------------------
    @property
    def state(self):
        return None if self.pointer is None else self.pointer["state"]

    def confirm(self):
        """Keep the model on trial (after its health check passed)."""
        rec = self.pointer
        if rec is None or rec["state"] != STATE_TRIAL:
            raise UpdateError("nothing on trial to confirm")
        self._write_pointer({"seq": rec["seq"] + 1, "slot": rec["slot"], "state": STATE_OK, "prev": None, "boots": 0})
        self.events.append(("confirm", rec["slot"]))

    def rollback(self):
        """Return to the previous slot (which must still verify)."""
        rec = self.pointer
        if rec is None or rec["state"] != STATE_TRIAL:
            raise UpdateError("nothing on trial to roll back")
        pkg = self._try(rec["prev"])
        if pkg is None:
            raise UpdateError("previous slot %s no longer verifies; keeping %s" % (rec["prev"], rec["slot"]))
        self._write_pointer({"seq": rec["seq"] + 1, "slot": rec["prev"], "state": STATE_OK, "prev": None, "boots": 0})
        self.events.append(("rollback", rec["slot"], "requested"))
        self.package = pkg
        return pkg

    # -- install -------------------------------------------------------------
    def install(self, files, health_check=None):
        """Write a package into the inactive slot, verify, switch, check.

        ``files``: ``{name: bytes or readable stream}`` (``manifest.json``,
        the model and golden files) or a folder path to copy from. Returns
        the new Package (state ``trial`` without ``health_check``, else
        ``ok``); raises UpdateError, with the old model still active, when
        verification or the health check fails.
        """
        rec = self.pointer if self.pointer is not None else self.read_pointer()
        if rec is None:
            raise UpdateError("no model pointer yet: call boot() first")
        if rec["state"] == STATE_TRIAL:
            raise UpdateError("slot %s is on trial: confirm() or rollback() first" % rec["slot"])
        self.pointer = rec
        target = _other(rec["slot"])
        if isinstance(files, str):
            files = self._folder_sources(files)
        if "manifest.json" not in files:
            raise UpdateError("an update needs manifest.json")
        self._clear(target)
        for name in files:
            if name != "manifest.json":
                self._write_file(target, name, files[name])
        self._write_file(target, "manifest.json", files["manifest.json"])  # last: completes the slot
        try:
            pkg = self.verify(target)
        except package.PackageError as e:
            self.events.append(("refused", target, e.code))
            raise UpdateError("new package refused (%s); still running slot %s" % (e, rec["slot"]), e)
        self._write_pointer({"seq": rec["seq"] + 1, "slot": target, "state": STATE_TRIAL, "prev": rec["slot"],
                             "boots": 0})
        self.events.append(("trial", target))
        self.package = pkg
        if health_check is None:
            return pkg
        if self._healthy(pkg, health_check):
            self.confirm()
            return pkg
        self.rollback()
        raise UpdateError("new package failed its health check; rolled back to slot %s" % rec["slot"])

    def _folder_sources(self, folder):
        out = {}
        for name in self.fs.listdir(folder):
            out[name] = _LazyFile(self.fs, folder.rstrip("/") + "/" + name)
        return out

    def _clear(self, slot):
        path = self.slot_path(slot)
        if not self.fs.exists(self.root):
            self.fs.mkdir(self.root)
        if not self.fs.exists(path):
            self.fs.mkdir(path)
            return
        names = self.fs.listdir(path)
        # The manifest goes first: from then on the slot is plainly invalid.
        if "manifest.json" in names:
            self.fs.remove(path + "/manifest.json")
        for name in names:
            if name != "manifest.json":
                self.fs.remove(path + "/" + name)

    def _write_file(self, slot, name, src):
        package._plain_name(name, "file name")
        dst = self.slot_path(slot) + "/" + name
        with self.fs.open(dst, "wb") as f:
            if isinstance(src, (bytes, bytearray, memoryview)):
                mv = memoryview(src)
                for i in range(0, len(mv), _CHUNK):
                    f.write(mv[i:i + _CHUNK])
                return
            opened = src.open() if isinstance(src, _LazyFile) else src
            buf = bytearray(_CHUNK)
            try:
                while True:
                    n = opened.readinto(buf)
                    if not n:
                        break
                    f.write(memoryview(buf)[:n])
            finally:
                if opened is not src:
                    opened.close()


class _LazyFile:
    def __init__(self, fs, path):
        self.fs = fs
        self.path = path

    def open(self):
        return self.fs.open(self.path, "rb")
