"""The emulated Cortex-M boards: the device suite on real ARM code (qemu-m0 =
the RP2040's instruction set), the ROMFS images that carry test files there,
and what makes each board what it claims to be."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from mpyml import romfs
from mpyml.firmware import elf_size, elf_symbol, firmware_path, qemu_config
from mpyml.boards import get_board

from devsuite import run_and_check

MPYML = [sys.executable, "-m", "mpyml.cli"]


def _firmware(board: str):
    path = firmware_path(board)  # raises with the build command when missing
    assert path.is_file()
    return path


def test_device_suite_passes_on_qemu_m0(capsys, root):
    # The whole suite, on the RP2040's instruction set with the RP2040
    # firmware's heap size (see test_qemu_m0_is_an_rp2040_sized_board).
    _firmware("qemu-m0")
    files = sorted((root / "tests" / "device").glob("test_*.py"))
    assert len(files) >= 17
    # Skipped only for what the emulated board lacks: a microphone. (The
    # time module runs on a board timer: test_duty.py::test_system_clock.)
    run_and_check("qemu-m0", capsys, f"device suite on qemu-m0 (Cortex-M0, QEMU micro:bit), all {len(files)} modules",
                  [root / "tests" / "device"],
                  allowed_skips={"test_i2s.py::test_real_microphone"})


def _write(folder, name, body):
    (folder / name).write_text(textwrap.dedent(body))


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m4"])
def test_runner_outcomes_and_files_reach_the_board(board, tmp_path):
    _firmware(board)
    data = tmp_path / "data"
    data.mkdir()
    (data / "blob.bin").write_bytes(bytes(range(256)) * 40)
    _write(tmp_path, "helper.py", "VALUE = 41\n")
    _write(tmp_path, "test_b.py", """
        import os, sys
        from tinyml.testing import SkipTest
        import helper
        HERE = __file__.rsplit("/", 1)[0]
        BLOB = "data/blob.bin"  # named relative to this file: packed for the run
        def test_platform():
            assert sys.platform == "qemu"
        def test_helper_import():
            assert helper.VALUE + 1 == 42
        def test_data_file_zero_copy():
            with open(HERE + "/" + BLOB, "rb") as f:
                view = memoryview(f)  # ROMFS files map straight from memory
                assert len(view) == 10240 and view[257] == 1 and view[-1] == 255
        def test_relative_paths_and_listdir():
            os.chdir(HERE)
            assert sorted(os.listdir("data")) == ["blob.bin"]
            assert os.stat("./data/../data/blob.bin")[6] == 10240
        def test_tmp_is_writable():
            with open("/tmp/x.txt", "w") as f:
                f.write("abc")
            assert open("/tmp/x.txt").read() == "abc"
            os.remove("/tmp/x.txt")
        def test_writes_overlay_the_image():
            with open(HERE + "/data/new.bin", "wb") as f:
                f.write(b"xy")
            assert sorted(os.listdir(HERE + "/data")) == ["blob.bin", "new.bin"]
            os.remove(HERE + "/data/new.bin")
            try:
                os.remove(HERE + "/" + BLOB)  # packed files are read-only
            except OSError:
                return
            raise AssertionError("a file of the image was removed")
        def test_urandom():
            assert len(os.urandom(8)) == 8 and os.urandom(4) != os.urandom(4)
        def test_fail():
            assert 1 == 2, "one is not two"
        def test_skip():
            raise SkipTest("not here")
    """)
    r = subprocess.run([*MPYML, "test-device", "--board", board, str(tmp_path / "test_b.py")],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    out = r.stdout
    assert r.returncode == 1, out + r.stderr
    assert out.strip().splitlines()[-1] == "7 passed, 1 failed, 1 skipped", out + r.stderr
    assert "FAIL test_b.py::test_fail" in out and "one is not two" in out
    assert "SKIP test_b.py::test_skip: not here" in out


def test_empty_run_fails_on_qemu(tmp_path):
    _firmware("qemu-m0")
    _write(tmp_path, "test_c.py", "X = 1\n")
    r = subprocess.run([*MPYML, "test-device", "--board", "qemu-m0", str(tmp_path)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 1
    assert "0 passed, 0 failed" in r.stdout and "no tests were run" in r.stdout


def test_m4_board_is_hard_float_with_fpu_enabled_at_reset():
    elf = _firmware("qemu-m4")
    attrs = subprocess.run(["arm-none-eabi-readelf", "-A", str(elf)], capture_output=True, text=True).stdout
    assert "Tag_ABI_VFP_args: VFP registers" in attrs
    assert "Tag_FP_arch: VFPv4-D16" in attrs
    # The vector table at address 0 is the board's: reset enables CP10/CP11 first.
    assert elf_symbol(elf, "mpyml_fpu_isr_vector") == 0
    from mpyml.qemu import QemuSession

    with QemuSession("qemu-m4") as s:
        r = s.repl.exec("import sys\nprint(sys.implementation._machine)\nprint(1.5 * 2.25 + 0.125)\n", timeout=60)
    assert r.ok, r.error
    machine, value = r.output.split("\r\n")[:2]
    assert "Cortex-M4F" in machine and value == "3.5"
    assert s.proc.returncode == 0  # machine.reset() ended QEMU


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m3", "qemu-m4"])
def test_images_fit_their_memory(board):
    b = get_board(board)
    config = qemu_config(b)
    elf = _firmware(board)
    size = elf_size(elf)
    ram_end = config.ram_origin + config.ram_bytes
    assert ram_end - elf_symbol(elf, "_ebss") >= config.stack_reserve_bytes
    if board == "qemu-m0":
        assert size.flash < b.flash_bytes
        # person_detect needs an ~82 KB arena: the heap leaves room for it.
        assert config.heap_bytes >= 200 * 1024


def test_qemu_m0_is_an_rp2040_sized_board():
    # The firmware gets the RP2040's 264 KB of RAM; QEMU's SRAM goes on
    # after it, and that part holds the RAM disk of test runs (the flash
    # filesystem of a real board), never the heap.
    import re

    config = qemu_config(get_board("qemu-m0"))
    pico = get_board("RPI_PICO")
    assert config.ram_bytes == pico.ram_bytes == 264 * 1024
    sram = int(re.search(r"nrf51-soc\.sram-size=(\d+)", " ".join(config.qemu_args)).group(1))
    ram_end = config.ram_origin + config.ram_bytes
    assert ram_end <= config.ramdisk_addr and config.ramdisk_addr + config.ramdisk_bytes <= config.ram_origin + sram
    elf = _firmware("qemu-m0")
    assert elf_symbol(elf, "_ebss") <= ram_end - config.stack_reserve_bytes
    # The heap is no larger than the real Pico firmware's (`make test` builds it).
    from mpyml.paths import build_dir
    from mpyml.rp2 import gc_heap_bytes

    pico_elf = build_dir("RPI_PICO") / "firmware.elf"
    assert pico_elf.is_file(), "no RP2040 image: run `make firmware-rp2` (make test builds it)"
    pico_heap = gc_heap_bytes(pico_elf)
    assert pico_heap is not None and 0 < config.heap_bytes <= pico_heap


def test_romfs_roundtrip_and_alignment():
    files = {
        "/a/b/model.tflite": bytes(range(7)) * 1000,
        "/a/x.py": b"print(1)\n",
        "/top.bin": b"",
        "/a/b/c/deep.txt": b"z" * 3,
    }
    image = romfs.build_image(files)
    assert image[:3] == b"\xd2\xcd\x31" and len(image) % 2 == 0
    assert romfs.read_image(image) == files
    # Every file's data starts on a 16-byte boundary of the image.
    for content in files.values():
        if content:
            assert image.index(content) % romfs.ALIGN == 0


@pytest.mark.parametrize("bad", [{"/a/..": b""}, {"/a": b"1", "/a/b": b"2"}, {"": b"x"}])
def test_romfs_rejects_bad_trees(bad):
    with pytest.raises(ValueError):
        romfs.build_image(bad)


def test_varuint_padding_keeps_value():
    for v in (0, 1, 127, 128, 300, 1 << 20):
        for width in (0, 4, 6):
            enc = romfs.varuint(v, width)
            assert len(enc) >= width
            assert romfs._read_varuint(enc + b"\xff", 0) == (v, len(enc))


def test_instruction_counts_are_deterministic(testdata):
    from mpyml.bench_board import bench_board

    _firmware("qemu-m0")
    first = bench_board("qemu-m0", testdata, ["hello_world_int8", "micro_speech_quantized"], runs=2)
    second = bench_board("qemu-m0", testdata, ["hello_world_int8", "micro_speech_quantized"], runs=2)
    assert [r.instructions for r in first] == [r.instructions for r in second]
    hello, speech = first
    # micro_speech has 336,000 MACs: at least one instruction per MAC, and
    # far more work than the 3-layer hello_world model.
    assert speech.instructions > 336_000 and speech.instructions > 50 * hello.instructions
    assert 0 < speech.arena_used < 16_384


def test_run_script_on_qemu(tmp_path):
    _firmware("qemu-m0")
    ok = tmp_path / "ok.py"
    ok.write_text("import sys\nprint('on', sys.platform, sys.argv[1:])\n")
    r = subprocess.run([*MPYML, "run", "--board", "qemu-m0", str(ok), "x"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "on qemu ['x']" in r.stdout, r.stdout + r.stderr
    bad = tmp_path / "bad.py"
    bad.write_text("raise ValueError('no good')\n")
    r = subprocess.run([*MPYML, "run", "--board", "qemu-m0", str(bad)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "ValueError: no good" in r.stderr


def test_a_crashing_device_ends_the_run_with_its_fault_report(tmp_path):
    _firmware("qemu-m3")
    script = tmp_path / "fault.py"
    script.write_text("import machine\nprint('before')\nmachine.mem32[0xfffffff0]\n")
    r = subprocess.run([*MPYML, "run", "--board", "qemu-m3", str(script)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "before" in r.stdout and "error: the device crashed" in r.stderr and "R15:" in r.stderr
    assert "Traceback" not in r.stderr


def test_ram_block_device_checks_its_arguments(tmp_path):
    # The qemu boards' block device for the littlefs of test runs (C).
    _firmware("qemu-m3")
    script = tmp_path / "bdev.py"
    script.write_text(textwrap.dedent("""
        from _ramdisk import RAMBlockDev
        d = RAMBlockDev(bytearray(4096), 512)
        print(d.ioctl(4, 0), d.ioctl(5, 0), d.ioctl(6, 3), d.ioctl(99, 0))
        d.writeblocks(7, b"abc", 509)
        got = bytearray(3)
        d.readblocks(7, got, 509)
        print(bytes(got))
        for bad in (lambda: d.readblocks(8, bytearray(1)), lambda: d.writeblocks(7, b"abcd", 509),
                    lambda: d.readblocks(-1, bytearray(1)), lambda: RAMBlockDev(bytearray(4096), 100),
                    lambda: RAMBlockDev(bytearray(600), 512), lambda: RAMBlockDev(b"read-only" * 100)):
            try:
                bad()
                print("accepted")
            except (ValueError, TypeError) as e:
                print(type(e).__name__, e)
    """))
    r = subprocess.run([*MPYML, "run", "--board", "qemu-m3", str(script)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[:2] == ["8 512 0 -22", "b'abc'"]
    assert lines[2:5] == ["ValueError block range outside the disk"] * 3
    assert lines[5] == "ValueError block_size must be a power of two, at least 128"
    assert lines[6] == "ValueError buffer holds fewer than 2 blocks"
    assert lines[7].startswith("TypeError")


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m3", "qemu-m4"])
def test_time_module_follows_virtual_time(tmp_path, board):
    # The boards' time module (boards/qemu-common/modtime_qemu.c) runs on a
    # timer of its own, clocked by QEMU's virtual time (1 ns per instruction
    # under -icount), so the figures are instruction counts, not wall-clock
    # time. The benchmark's timer (bench_board.TIMERS) runs beside it.
    from mpyml.bench_board import TIMERS

    _firmware(board)
    setup, ns_per_tick = TIMERS[qemu_config(get_board(board)).timer]
    script = tmp_path / "clock.py"
    script.write_text(setup + textwrap.dedent("""
        import time
        d = time.ticks_diff
        t0, u0, c0 = time.ticks_ms(), time.ticks_us(), time.ticks_cpu()
        time.sleep_ms(20)
        t1, u1, c1 = time.ticks_ms(), time.ticks_us(), time.ticks_cpu()
        print("sleep_ms", d(t1, t0), d(u1, u0), d(c1, c0))
        u0 = time.ticks_us(); time.sleep_us(500); print("sleep_us", d(time.ticks_us(), u0))
        t0 = time.ticks_ms(); time.sleep(0.05); print("sleep", d(time.ticks_ms(), t0))
        u0 = time.ticks_us(); time.sleep(0.0025); print("sleep_frac", d(time.ticks_us(), u0))
        time.sleep_ms(-5); time.sleep_us(0)
        # What the benchmark does to its timer before each measurement.
        u0 = time.ticks_us(); _restart(); _restart(); print("restart", d(time.ticks_us(), u0))
        ns = time.time_ns(); s = time.time()
        print("time", s - (ns // 10**9 - 946684800), s >= 0)
        print("localtime", time.localtime(0), time.gmtime(86400 * 366 + 3723), time.mktime(time.localtime(86400 * 366)))
        print("add", d(time.ticks_add(0, -1), 0), d(time.ticks_add(t1, 100), t1))
        errors = []
        for bad in (lambda: time.sleep_ms("x"), lambda: time.ticks_add(0, 1 << 40), lambda: time.sleep(-0.5),
                    lambda: time.sleep(float("nan")), lambda: time.sleep(1e9), lambda: time.sleep("1")):
            try:
                bad()
                errors.append("accepted")
            except (TypeError, ValueError, OverflowError) as e:
                errors.append(type(e).__name__)
        print("errors", *errors)
    """))
    r = subprocess.run([*MPYML, "run", "--board", board, str(script)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in r.stdout.strip().splitlines()}
    ms, us, cpu = map(int, out["sleep_ms"].split())
    # Sleeps last what they ask for plus the few hundred instructions of the
    # calls around them (< 100 us of virtual time).
    assert ms in (20, 21) and 20_000 <= us < 20_100
    # ticks_cpu counts the same virtual time on the other timer.
    assert abs(cpu * ns_per_tick / 1000 - us) < 50
    assert 500 <= int(out["sleep_us"]) < 600
    assert int(out["sleep"]) in (50, 51)
    assert 0 <= int(out["restart"]) < 100
    assert out["time"] in ("0 True", "1 True")
    assert out["localtime"] == "(2000, 1, 1, 0, 0, 0, 5, 1) (2001, 1, 1, 1, 2, 3, 0, 1) 31622400"
    assert out["add"] == "-1 100"
    assert 2_500 <= int(out["sleep_frac"]) < 2_600
    assert out["errors"] == "TypeError OverflowError ValueError ValueError OverflowError TypeError"
