# tinyml.logring.LogRing: sampling policy, ring wrap, resume, checksums.
import os
import struct
from array import array

from tinyml.logring import DETECT, HEADER_SIZE, REJECT, WINDOW, LogRing, record_size, size
from tinyml.testing import allocated, raises

PATH = "/tmp/mpyml_devtest_log.bin"


def teardown():
    try:
        os.remove(PATH)
    except OSError:
        pass


def records(buf, capacity, n_scores):
    """(seq, kind, index, label, scores) of the valid slots, by seq."""
    rs = record_size(n_scores)
    out = []
    for i in range(capacity):
        off = HEADER_SIZE + i * rs
        seq, t, idx, kind, cause, label, n = struct.unpack_from("<IIIBBbB", buf, off)
        if seq:
            sc = [((buf[off + 28 + j] + 128) & 255) - 128 for j in range(n)]
            out.append((seq, kind, idx, cause, label, sc, t))
    out.sort()
    return out


def test_validation():
    with raises(ValueError, "too small"):
        LogRing(bytearray(10), capacity=4, n_scores=2)
    with raises(TypeError, "target"):
        LogRing(42)
    with raises(ValueError, "n_scores"):
        LogRing(bytearray(10000), capacity=4, n_scores=200)
    with raises(ValueError, "capacity"):
        LogRing(bytearray(10000), capacity=0)


def test_every_nth_plus_rejected_windows():
    buf = bytearray(size(64, 3))
    log = LogRing(buf, capacity=64, n_scores=3, every=10)
    sc = array("b", [-128, 5, 100])
    for i in range(1, 51):
        cause = 3 if i in (7, 23) else 0
        log.window(i, i * 20, cause=cause, scores=sc, label=2)
    got = records(buf, 64, 3)
    kinds = [(r[2], r[1]) for r in got]
    assert kinds == [(7, REJECT), (10, WINDOW), (20, WINDOW), (23, REJECT), (30, WINDOW), (40, WINDOW),
                     (50, WINDOW)], kinds
    assert got[0][3] == 3 and got[1][3] == 0
    assert got[1][5] == [-128, 5, 100] and got[1][4] == 2 and got[1][6] == 200
    assert log.written == 7


def test_ring_overwrites_oldest():
    buf = bytearray(size(5, 0))
    log = LogRing(buf, capacity=5, n_scores=0, every=1)
    for i in range(12):
        log.window(i, i)
    got = records(buf, 5, 0)
    assert [r[2] for r in got] == [7, 8, 9, 10, 11]
    assert [r[0] for r in got] == [8, 9, 10, 11, 12]


def test_file_log_resumes_after_reopen():
    log = LogRing(PATH, capacity=4, n_scores=2, every=1)
    for i in range(3):
        log.window(i, 100 * i, scores=array("b", [i, -i]))
    log.close()
    assert os.stat(PATH)[6] == size(4, 2)
    log = LogRing(PATH, capacity=4, n_scores=2, every=1)
    assert log.seq == 3
    for i in range(3, 6):
        log.window(i, 100 * i)
    log.record(DETECT, 6, 600, label=1, score=200, lo=-40000, hi=123, level=70000, extra=0xBEEF)
    log.close()
    with open(PATH, "rb") as f:
        data = f.read()
    got = records(data, 4, 2)
    assert [(r[0], r[2]) for r in got] == [(4, 3), (5, 4), (6, 5), (7, 6)]
    assert got[-1][1] == DETECT
    slot = 6 % 4  # seq 7 went to slot (7 - 1) % 4
    f = struct.unpack_from("<IIIBBbBhhhHHH", data, HEADER_SIZE + slot * record_size(2))
    assert f[0] == 7 and f[5] == 1 and f[7] == 200
    assert (f[8], f[9], f[10], f[12]) == (-32768, 123, 65535, 0xBEEF)  # saturated fields, extra
    # another geometry starts a new log
    log = LogRing(PATH, capacity=3, n_scores=2, every=1)
    assert log.seq == 0
    log.close()


def test_corrupt_record_is_not_resumed_from():
    buf = bytearray(size(4, 0))
    log = LogRing(buf, capacity=4, n_scores=0, every=1)
    for i in range(3):
        log.window(i, i)
    # damage the newest record (seq 3, slot 2): a torn write
    off = HEADER_SIZE + 2 * record_size(0)
    buf[off + 8] ^= 0xFF
    again = LogRing(buf, capacity=4, n_scores=0, every=1)
    assert again.seq == 2  # the damaged record does not count


def test_window_logging_is_allocation_free():
    buf = bytearray(size(32, 4))
    log = LogRing(buf, capacity=32, n_scores=4, every=3)
    sc = array("b", [1, 2, 3, 4])
    st = [0]

    def step():
        st[0] += 1
        log.window(st[0], st[0] * 10, cause=2 if st[0] % 5 == 0 else 0, scores=sc, label=1, score=90, lo=-300, hi=70000, level=20)

    assert allocated(step, n=300) == 0


def test_file_logging_is_allocation_free():
    # On every board: the qemu boards' /tmp is a littlefs whose block device
    # (C) allocates nothing either.
    sc = array("b", [1, 2, 3, 4])
    st = [0]
    f = LogRing(PATH, capacity=16, n_scores=4, every=2)

    def fstep():
        st[0] += 1
        f.window(st[0], st[0], scores=sc)

    assert allocated(fstep, n=100) == 0
    f.close()
