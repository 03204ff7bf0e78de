"""I2C IMU source (MPU-6050 register map and compatibles) with calibration.

``read(out)`` stores one calibrated frame ``ax, ay, az, gx, gy, gz`` as
integers into ``out`` (``array("h")`` of 6): accelerations in raw LSB of
the configured range (``lsb_per_g`` per g), rates in gyro LSB
(``lsb_per_dps`` per degree/s). ``readinto(buf)`` fills a buffer with
whole frames. Both work on a preallocated I2C buffer and allocate nothing.

Calibration from stationary data: the device lies still with one axis
vertical. ``calibrate`` averages ``n`` frames; gyro offsets are the means,
the two horizontal accelerometer axes' offsets are their means, and the
accelerometer gain makes the vertical axis read exactly 1 g. The result
is accepted only if plausible (device still, gravity within tolerance,
offsets small); otherwise ``ValueError`` says which check failed.
Calibrations are stored with a CRC-32 and refused when it does not match.

    from machine import I2C, Pin
    from tinyml.imu import ImuSource, calibrate, Calibration

    imu = ImuSource(I2C(0, scl=Pin(5), sda=Pin(4)))
    cal = calibrate(imu, n=200)            # keep the board still
    cal.save("imu_cal.json")
    imu.calibration = Calibration.load("imu_cal.json")
    frame = array("h", bytes(12))
    imu.read(frame)

``i2c`` is anything with ``readfrom_mem_into``, ``readfrom_mem`` and
``writeto_mem`` (``machine.I2C``, ``SoftI2C``, or a fake in tests).
"""

import json
from array import array

WHO_AM_I = 0x75
PWR_MGMT_1 = 0x6B
GYRO_CONFIG = 0x1B
ACCEL_CONFIG = 0x1C
DATA = 0x3B  # ACCEL_XOUT_H: 14 bytes ax ay az temp gx gy gz, big-endian
KNOWN_IDS = (0x68, 0x70, 0x71, 0x73, 0x98)

ACCEL_RANGES = {2: 0, 4: 1, 8: 2, 16: 3}  # g -> AFS_SEL
GYRO_RANGES = {250: 0, 500: 1, 1000: 2, 2000: 3}  # dps -> FS_SEL

_Q = 12  # accelerometer gain: Q12 fixed point (4096 = 1.0); products stay small ints on 32-bit ports


def _crc32(data):
    try:
        from binascii import crc32

        return crc32(data) & 0xFFFFFFFF
    except ImportError:
        crc = 0xFFFFFFFF
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
        return crc ^ 0xFFFFFFFF


class Calibration:
    """Offsets (LSB) and accelerometer gain (Q12) for the six axes."""

    def __init__(self, accel_offset=(0, 0, 0), accel_gain_q12=(4096, 4096, 4096), gyro_offset=(0, 0, 0)):
        for name, v in (("accel_offset", accel_offset), ("accel_gain_q12", accel_gain_q12),
                        ("gyro_offset", gyro_offset)):
            if len(v) != 3:
                raise ValueError("%s needs 3 values, got %d" % (name, len(v)))
            for x in v:
                if isinstance(x, bool) or not isinstance(x, int):
                    raise TypeError("%s values must be ints, got %r" % (name, x))
        for g in accel_gain_q12:
            if not 2048 <= g <= 8192:
                raise ValueError("accel_gain_q12 %d is outside 0.5..2.0 (2048..8192)" % g)
        self.accel_offset = array("i", accel_offset)
        self.accel_gain_q12 = array("i", accel_gain_q12)
        self.gyro_offset = array("i", gyro_offset)

    def _payload(self):
        vals = list(self.accel_offset) + list(self.accel_gain_q12) + list(self.gyro_offset)
        return ("imu-cal-1:" + ",".join(str(v) for v in vals)).encode()

    def crc32(self):
        return _crc32(self._payload())

    def to_dict(self):
        return {"version": 1, "accel_offset": list(self.accel_offset),
                "accel_gain_q12": list(self.accel_gain_q12), "gyro_offset": list(self.gyro_offset),
                "crc32": self.crc32()}

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise TypeError("calibration must be an object")
        if d.get("version") != 1:
            raise ValueError("calibration version %r is not supported (1)" % (d.get("version"),))
        for key in ("accel_offset", "accel_gain_q12", "gyro_offset", "crc32"):
            if key not in d:
                raise ValueError("calibration is missing %r" % key)
        cal = cls(d["accel_offset"], d["accel_gain_q12"], d["gyro_offset"])
        if cal.crc32() != d["crc32"]:
            raise ValueError("calibration checksum mismatch (stored %r, computed %d)" % (d["crc32"], cal.crc32()))
        return cal

    def save(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(self.to_dict()))
        import os

        try:
            os.rename(tmp, path)
        except OSError:
            os.remove(path)
            os.rename(tmp, path)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            text = f.read()
        try:
            from tinyml.config import json_complete

            if not json_complete(text):
                raise ValueError  # truncated: MicroPython's parser may accept it
            d = json.loads(text)
        except ValueError:
            raise ValueError("%s: calibration is not valid JSON" % path)
        try:
            return cls.from_dict(d)
        except (ValueError, TypeError) as e:
            raise ValueError("%s: %s" % (path, e))


class ImuSource:
    def __init__(self, i2c, addr=0x68, accel_range=2, gyro_range=250, calibration=None, check_id=True):
        if accel_range not in ACCEL_RANGES:
            raise ValueError("accel_range must be one of %s g, got %r" % (sorted(ACCEL_RANGES), accel_range))
        if gyro_range not in GYRO_RANGES:
            raise ValueError("gyro_range must be one of %s dps, got %r" % (sorted(GYRO_RANGES), gyro_range))
        self.i2c = i2c
        self.addr = addr
        if check_id:
            try:
                ident = i2c.readfrom_mem(addr, WHO_AM_I, 1)[0]
            except OSError as e:
                raise OSError("no I2C device answers at address 0x%02x (%s)" % (addr, e))
            if ident not in KNOWN_IDS:
                raise ValueError("device at 0x%02x is not MPU-6050 compatible (WHO_AM_I=0x%02x)" % (addr, ident))
        i2c.writeto_mem(addr, PWR_MGMT_1, b"\x00")  # wake up, internal clock
        i2c.writeto_mem(addr, ACCEL_CONFIG, bytes([ACCEL_RANGES[accel_range] << 3]))
        i2c.writeto_mem(addr, GYRO_CONFIG, bytes([GYRO_RANGES[gyro_range] << 3]))
        self.lsb_per_g = 32768 // accel_range
        self.lsb_per_dps = 32768 // gyro_range  # rounded: 131, 65, 32, 16
        self._raw = bytearray(14)
        self._frame = array("i", bytes(24))
        self.calibration = calibration if calibration is not None else Calibration()
        self.frames = 0

    def read_raw(self, out):
        """One uncalibrated frame into ``out[0:6]``."""
        raw = self._raw
        self.i2c.readfrom_mem_into(self.addr, DATA, raw)
        for i in range(6):
            j = 2 * i if i < 3 else 2 * i + 2  # skip the temperature word
            v = (raw[j] << 8) | raw[j + 1]
            out[i] = v - 65536 if v & 0x8000 else v
        self.frames += 1
        return out

    def read(self, out):
        """One calibrated frame into ``out[0:6]`` (saturated to int16)."""
        f = self.read_raw(self._frame)
        cal = self.calibration
        for i in range(3):
            v = ((f[i] - cal.accel_offset[i]) * cal.accel_gain_q12[i]) >> _Q
            out[i] = 32767 if v > 32767 else -32768 if v < -32768 else v
            v = f[i + 3] - cal.gyro_offset[i]
            out[i + 3] = 32767 if v > 32767 else -32768 if v < -32768 else v
        return out

    def readinto(self, buf):
        """Fill ``buf`` with whole calibrated frames; return values stored."""
        frames = len(buf) // 6
        out = self._frame
        for k in range(frames):
            self.read(out)
            base = 6 * k
            for i in range(6):
                buf[base + i] = out[i]
        return frames * 6


def _isqrt(n):
    if n <= 0:
        return 0
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


def calibrate(imu, n=200, sleep_ms=None, max_accel_noise=0.02, max_gyro_noise=1.0, gravity_tolerance=0.1,
              max_accel_offset=0.15, max_gyro_offset=20.0):
    """Measure ``n`` stationary frames and return a plausible ``Calibration``.

    Limits: accelerometer noise (std, g), gyro noise (std, dps), allowed
    deviation of the measured gravity from 1 g (fraction), horizontal
    accelerometer offsets (g), gyro offsets (dps). ``sleep_ms(ms)`` is
    called between frames when given (sensor sample period).
    """
    if n < 10:
        raise ValueError("calibration needs at least 10 frames, got %d" % n)
    frame = array("i", bytes(24))
    sums = [0] * 6
    sq = [0] * 6
    for _ in range(n):
        imu.read_raw(frame)
        for i in range(6):
            v = frame[i]
            sums[i] += v
            sq[i] += v * v
        if sleep_ms is not None:
            sleep_ms(5)
    mean = [(sums[i] * 2 + n) // (2 * n) for i in range(6)]  # rounded
    std = [_isqrt(max(0, sq[i] * n - sums[i] * sums[i])) // n for i in range(6)]
    g = imu.lsb_per_g
    dps = imu.lsb_per_dps
    worst = max(std[0:3])
    if worst > max_accel_noise * g:
        raise ValueError("device moved during calibration: accelerometer noise %.3f g > %.3f g"
                         % (worst / g, max_accel_noise))
    worst = max(std[3:6])
    if worst > max_gyro_noise * dps:
        raise ValueError("device moved during calibration: gyro noise %.2f dps > %.2f dps" % (worst / dps, max_gyro_noise))
    up = 0
    for i in (1, 2):
        if abs(mean[i]) > abs(mean[up]):
            up = i
    measured = abs(mean[up])
    if abs(measured - g) > gravity_tolerance * g:
        raise ValueError("implausible gravity: %.3f g measured on axis %d (1 g +- %.0f%% expected)"
                         % (measured / g, up, gravity_tolerance * 100))
    offsets = [0, 0, 0]
    for i in range(3):
        if i != up:
            if abs(mean[i]) > max_accel_offset * g:
                raise ValueError("implausible accelerometer offset on axis %d: %.3f g (limit %.3f g)"
                                 % (i, mean[i] / g, max_accel_offset))
            offsets[i] = mean[i]
    for i in range(3):
        if abs(mean[3 + i]) > max_gyro_offset * dps:
            raise ValueError("implausible gyro offset on axis %d: %.1f dps (limit %.1f dps)"
                             % (i, mean[3 + i] / dps, max_gyro_offset))
    gain = (g << _Q) // measured
    return Calibration(offsets, [gain, gain, gain], mean[3:6])
