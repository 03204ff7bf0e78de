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


def version():
    """Version of the package; the native core's version must agree."""
    if _native_version is None:
        raise ImportError("the _tinyml native module is not available on this build")
    native = _native_version()
    if native != __version__:
        raise RuntimeError("tinyml %s with native core %s" % (__version__, native))
    return native
