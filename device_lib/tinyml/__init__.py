"""tinyml: on-device half of mpyml.

The native parts (inference runtime, audio frontend, int8 helpers) come from
the `_tinyml` C module compiled into the firmware or installed as a native
`.mpy`; everything else in this package is plain MicroPython.

    import tinyml
    print(tinyml.version())
    tinyml.dot_s8(b"\\x01\\x02", b"\\x03\\x04")  # -> 11
"""

try:
    from _tinyml import *  # noqa: F401,F403
    from _tinyml import version as _native_version
except ImportError:  # firmware or host without the native module
    _native_version = None

__version__ = "0.1.0"

# Public classes of the submodules, imported on first access so that
# `import tinyml` stays cheap on small boards. Importing the submodule
# directly (`from tinyml.ring import RingBuffer`) costs the least RAM.
_LAZY = {
    "RingBuffer": "ring",
    "Hopper": "ring",
    "Recognizer": "postprocess",
    "Detection": "postprocess",
    "InputGate": "gate",
    "Config": "config",
    "LogRing": "logring",
    "DutyCycle": "duty",
    "SimClock": "clock",
    "WavSource": "sources",
    "RawStreamSource": "sources",
    "I2SMic": "i2s",
    "ImuSource": "imu",
    "KWS": "kws",
    "Slots": "update",
    "PackageError": "package",
}


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        # `from tinyml import <submodule>` asks the package first: import it.
        try:
            __import__("tinyml." + name)
        except ImportError:
            raise AttributeError(name)
        return globals()[name]
    value = getattr(__import__("tinyml." + mod, None, None, [name]), name)
    globals()[name] = value
    return value


def version():
    """Version of the package; the native core's version must agree."""
    if _native_version is None:
        raise ImportError("the _tinyml native module is not available on this build")
    native = _native_version()
    if native != __version__:
        raise RuntimeError("tinyml %s with native core %s" % (__version__, native))
    return native
