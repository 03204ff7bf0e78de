# tinyml.imu: ImuSource over a fake I2C MPU-6050, calibration and its
# plausibility checks, checksummed persistence.
import json
import os
from array import array

from tinyml.config import Config
from tinyml.imu import ACCEL_CONFIG, GYRO_CONFIG, PWR_MGMT_1, Calibration, ImuSource, calibrate
from tinyml.testing import allocated, raises

PATH = "/tmp/mpyml_devtest_imu.json"


def teardown():
    for p in (PATH, PATH + ".tmp"):
        try:
            os.remove(p)
        except OSError:
            pass


class FakeMPU:
    """An I2C bus with one MPU-6050 lying still (or shaking)."""

    def __init__(self, addr=0x68, who=0x68, accel=(300, -200, 16875), gyro=(50, -30, 12), noise=3, seed=1):
        self.addr = addr
        self.who = who
        self.accel = accel
        self.gyro = gyro
        self.noise = noise
        self.seed = seed
        self.regs = {}
        self.vals = array("i", [accel[0], accel[1], accel[2], 0, gyro[0], gyro[1], gyro[2]])

    def _rand(self):
        if not self.noise:
            return 0
        # a small-int generator: the fake must not allocate on 32-bit ports
        self.seed = self.seed * 171 % 30269
        return self.seed % (2 * self.noise + 1) - self.noise

    def _check(self, addr):
        if addr != self.addr:
            raise OSError(19)  # ENODEV, as machine.I2C reports a missing device

    def readfrom_mem(self, addr, reg, n):
        self._check(addr)
        if reg == 0x75:
            return bytes([self.who])
        return bytes(n)

    def writeto_mem(self, addr, reg, data):
        self._check(addr)
        self.regs[reg] = bytes(data)

    def readfrom_mem_into(self, addr, reg, buf):
        self._check(addr)
        assert reg == 0x3B and len(buf) == 14
        vals = self.vals  # preallocated: the fake must not allocate either
        for i in range(7):
            v = vals[i] + (self._rand() if i != 3 else 0)
            v &= 0xFFFF
            buf[2 * i] = v >> 8
            buf[2 * i + 1] = v & 0xFF


def test_probe_and_configuration():
    bus = FakeMPU()
    imu = ImuSource(bus, accel_range=4, gyro_range=500)
    assert bus.regs[PWR_MGMT_1] == b"\x00"
    assert bus.regs[ACCEL_CONFIG] == bytes([1 << 3]) and bus.regs[GYRO_CONFIG] == bytes([1 << 3])
    assert imu.lsb_per_g == 8192 and imu.lsb_per_dps == 65
    with raises(ValueError, "not MPU-6050 compatible (WHO_AM_I=0x42)"):
        ImuSource(FakeMPU(who=0x42))
    with raises(OSError, "no I2C device answers at address 0x69"):
        ImuSource(FakeMPU(), addr=0x69)
    with raises(ValueError, "accel_range"):
        ImuSource(FakeMPU(), accel_range=3)


def test_raw_frames_decode_signed_big_endian():
    imu = ImuSource(FakeMPU(accel=(-1, -32768, 32767), gyro=(-300, 0, 5), noise=0))
    f = array("i", bytes(24))
    imu.read_raw(f)
    assert list(f) == [-1, -32768, 32767, -300, 0, 5]


def test_calibration_from_stationary_data():
    imu = ImuSource(FakeMPU())
    cal = calibrate(imu, n=200)
    assert abs(cal.accel_offset[0] - 300) <= 1 and abs(cal.accel_offset[1] + 200) <= 1
    assert cal.accel_offset[2] == 0  # the vertical axis sets the gain instead
    assert list(cal.gyro_offset) == [50, -30, 12] or all(abs(a - b) <= 1 for a, b in zip(cal.gyro_offset, (50, -30, 12)))
    want_gain = 16384 * 4096 // 16875
    assert all(abs(g - want_gain) <= 2 for g in cal.accel_gain_q12), list(cal.accel_gain_q12)
    imu.calibration = cal
    out = array("h", bytes(12))
    sums = [0] * 6
    for _ in range(100):
        imu.read(out)
        for i in range(6):
            sums[i] += out[i]
    mean = [s // 100 for s in sums]
    assert abs(mean[0]) <= 5 and abs(mean[1]) <= 5
    assert abs(mean[2] - 16384) <= 10  # exactly 1 g after calibration
    assert all(abs(m) <= 2 for m in mean[3:6])


def test_implausible_calibrations_are_refused():
    cases = [
        (FakeMPU(noise=2000), "device moved during calibration: accelerometer noise"),
        (FakeMPU(accel=(0, 0, 21000)), "implausible gravity: 1.282 g measured on axis 2"),
        (FakeMPU(accel=(4000, 0, 16384)), "implausible accelerometer offset on axis 0"),
        (FakeMPU(gyro=(0, 5000, 0)), "implausible gyro offset on axis 1"),
        (FakeMPU(accel=(0, 0, 0)), "implausible gravity"),
    ]
    for bus, msg in cases:
        with raises(ValueError, msg):
            calibrate(ImuSource(bus), n=50)
    with raises(ValueError, "at least 10 frames"):
        calibrate(ImuSource(FakeMPU()), n=3)


def test_gravity_on_another_axis():
    cal = calibrate(ImuSource(FakeMPU(accel=(120, -16000, -90))), n=50)
    assert abs(cal.accel_offset[0] - 120) <= 1 and cal.accel_offset[1] == 0 and abs(cal.accel_offset[2] + 90) <= 1


def test_persisted_calibration_is_checksummed():
    cal = calibrate(ImuSource(FakeMPU()), n=50)
    cal.save(PATH)
    back = Calibration.load(PATH)
    assert back.to_dict() == cal.to_dict()
    with open(PATH) as f:
        d = json.loads(f.read())
    d["gyro_offset"][0] += 1  # a flipped bit in storage
    with open(PATH, "w") as f:
        f.write(json.dumps(d))
    with raises(ValueError, "calibration checksum mismatch"):
        Calibration.load(PATH)
    d = cal.to_dict()
    d["version"] = 2
    with raises(ValueError, "version"):
        Calibration.from_dict(d)
    d = cal.to_dict()
    del d["crc32"]
    with raises(ValueError, "missing 'crc32'"):
        Calibration.from_dict(d)
    with open(PATH, "w") as f:
        f.write("{")  # truncated
    with raises(ValueError, "not valid JSON"):
        Calibration.load(PATH)
    with raises(ValueError, "accel_gain_q12"):
        Calibration(accel_gain_q12=(100, 4096, 4096))
    # the CRC is the standard CRC-32 of the canonical text
    import binascii

    assert cal.crc32() == binascii.crc32(cal._payload()) & 0xFFFFFFFF


def test_calibration_in_config():
    cal = calibrate(ImuSource(FakeMPU()), n=50)
    cfg = Config({"calibration": {"imu": cal.to_dict()}})
    again = Calibration.from_dict(cfg["calibration"]["imu"])
    assert again.crc32() == cal.crc32()


def test_read_and_readinto_are_allocation_free():
    imu = ImuSource(FakeMPU(noise=0))
    imu.calibration = Calibration((300, -200, 0), (3977, 3977, 3977), (50, -30, 12))
    out = array("h", bytes(12))
    assert allocated(lambda: imu.read(out), n=100) == 0
    assert list(out) == [0, 0, (16875 * 3977) >> 12, 0, 0, 0]
    buf = array("h", bytes(2 * 6 * 4 + 2))
    assert imu.readinto(buf) == 24
    assert buf[2] == buf[8] == buf[20] and buf[24] == 0
