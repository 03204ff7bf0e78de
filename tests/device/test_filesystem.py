# File handles a program forgets to close: the garbage collector's
# finaliser closes them, and the filesystem must stay sound afterwards. On
# the qemu boards /tmp is a littlefs on a RAM block device; a block device
# that allocated on the heap once crashed the board here (littlefs calls it
# from the finaliser, while the heap is locked).
import gc
import os

DATA = bytes(range(256)) * 3 + b"end"  # 771 bytes: more than one littlefs cache line
_dirs = []


def setup():
    d = "/tmp/mpyml-devtest-fs-%d" % int.from_bytes(os.urandom(4), "little")
    os.mkdir(d)
    _dirs.append(d)


def teardown():
    while _dirs:
        d = _dirs.pop()
        for name in os.listdir(d):
            os.remove(d + "/" + name)
        os.rmdir(d)


def _leak_writer(path):
    f = open(path, "wb")
    f.write(DATA)  # written, never closed or flushed


def _leak_reader(path):
    f = open(path, "rb")
    f.read(10)


def _leak_listing(path):
    it = os.ilistdir(path)
    next(it)  # a directory iteration left half-way


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _churn(d, rounds):
    # Ordinary work after the leaks: create, append, rename, list, remove.
    for i in range(rounds):
        p = "%s/c%d" % (d, i)
        with open(p, "wb") as f:
            f.write(DATA[: 100 + i])
        with open(p, "ab") as f:
            f.write(b"+")
        os.rename(p, p + ".x")
        assert _read(p + ".x") == DATA[: 100 + i] + b"+"
        assert ("c%d.x" % i) in os.listdir(d)
        os.remove(p + ".x")


def test_leaked_handles_are_closed_by_the_collector_and_the_filesystem_keeps_working():
    d = _dirs[-1]
    with open(d + "/kept", "wb") as f:
        f.write(DATA)
    leaked = []
    for i in range(8):
        p = "%s/w%d" % (d, i)
        leaked.append(p)
        _leak_writer(p)
        _leak_reader(d + "/kept")
        _leak_listing(d)
        gc.collect()  # the finalisers run here, some while others are still open
        _churn(d, 2)
    gc.collect()
    _churn(d, 6)
    # A leaked writer is either finalised (closed: all its data is there) or
    # still open (nothing committed yet); never a torn or broken file.
    contents = [_read(p) for p in leaked]
    for p, c in zip(leaked, contents):
        assert c in (b"", DATA), (p, len(c))
    assert contents.count(DATA) >= 1, "no leaked handle was finalised"
    assert _read(d + "/kept") == DATA
    assert sorted(os.listdir(d)) == sorted(["kept"] + ["w%d" % i for i in range(8)])


def test_many_leaks_in_a_loop():
    d = _dirs[-1]
    for i in range(40):
        _leak_writer("%s/x%d" % (d, i % 5))  # reopening truncates a file another leaked handle holds
        if i % 7 == 0:
            gc.collect()
    gc.collect()
    _churn(d, 3)
    for i in range(5):
        assert _read("%s/x%d" % (d, i)) in (b"", DATA)
