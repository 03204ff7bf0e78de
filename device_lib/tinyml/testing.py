"""A small test runner for MicroPython (and CPython).

Test files are modules named ``test_*.py`` holding functions named
``test_*``. A test passes when it returns, fails when it raises, and is
skipped when it raises ``SkipTest``. Optional module-level ``setup()`` and
``teardown()`` run around every test of that module.

    # tests/device/test_example.py
    from tinyml.testing import SkipTest, raises

    def test_sum():
        assert sum([1, 2]) == 3

    def test_bad_input():
        with raises(ValueError, "invalid"):
            int("x")

    def test_i2s():
        raise SkipTest("no I2S on this port")

Run a folder or files, from the shell of a port with a filesystem::

    micropython -c "import tinyml.testing as t; t.main(['tests/device'])"

The run ends with the line ``N passed, N failed`` (``, N skipped`` follows
when tests were skipped) and exits with status 1 when anything failed.
"""

import sys

try:
    import os
except ImportError:  # ports without a filesystem
    os = None

try:
    import gc
except ImportError:
    gc = None


class SkipTest(Exception):
    """Raise inside a test to skip it, with the reason as the argument."""


class raises:
    """Context manager asserting that its block raises ``exc_type``.

    ``match`` is a substring the exception's message must contain. After the
    block, ``.value`` holds the exception that was raised.
    """

    def __init__(self, exc_type, match=None):
        self.exc_type = exc_type
        self.match = match
        self.value = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        name = getattr(self.exc_type, "__name__", str(self.exc_type))
        if exc_type is None:
            raise AssertionError("%s was not raised" % name)
        if not issubclass(exc_type, self.exc_type):
            return False  # a different exception: let it propagate
        if self.match is not None and self.match not in str(exc):
            raise AssertionError("%s message %r does not contain %r" % (name, str(exc), self.match))
        self.value = exc
        return True


def assert_close(a, b, tol=1e-6):
    """Assert two numbers (or equal-length sequences) agree within ``tol``."""
    if isinstance(a, (int, float)):
        a, b = [a], [b]
    if len(a) != len(b):
        raise AssertionError("lengths differ: %d != %d" % (len(a), len(b)))
    for i in range(len(a)):
        if abs(a[i] - b[i]) > tol:
            raise AssertionError("element %d: %r != %r (tol %r)" % (i, a[i], b[i], tol))


def _print_exception(exc):
    if hasattr(sys, "print_exception"):
        sys.print_exception(exc)
    else:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)


def _collect():
    if gc is not None:
        gc.collect()


class Result:
    """Counts of one run; ``failures`` lists ``(test id, exception)``."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []

    def summary(self):
        line = "%d passed, %d failed" % (self.passed, self.failed)
        if self.skipped:
            line += ", %d skipped" % self.skipped
        return line


def _fail(result, test_id, exc):
    result.failed += 1
    result.failures.append((test_id, exc))
    print("FAIL %s" % test_id)
    _print_exception(exc)


def run_module(mod, name, result, pattern=None, verbose=False):
    """Run the ``test_*`` functions of an imported module into ``result``."""
    names = sorted(n for n in dir(mod) if n.startswith("test_") and callable(getattr(mod, n)))
    setup = getattr(mod, "setup", None)
    teardown = getattr(mod, "teardown", None)
    for fname in names:
        test_id = "%s::%s" % (name, fname)
        if pattern is not None and pattern not in test_id:
            continue
        _collect()
        try:
            if setup is not None:
                setup()
            try:
                getattr(mod, fname)()
            finally:
                if teardown is not None:
                    teardown()
        except SkipTest as e:
            result.skipped += 1
            print("SKIP %s: %s" % (test_id, e.args[0] if e.args else ""))
            continue
        except Exception as e:  # noqa: BLE001 - every failure is reported
            _fail(result, test_id, e)
            continue
        result.passed += 1
        if verbose:
            print("PASS %s" % test_id)


def _is_dir(path):
    try:
        return (os.stat(path)[0] & 0x4000) != 0
    except OSError:
        return False


def discover(paths):
    """Expand folders into their ``test_*.py`` files, sorted; keep files."""
    files = []
    for path in paths:
        if os is not None and _is_dir(path):
            for entry in sorted(os.listdir(path)):
                if entry.startswith("test_") and entry.endswith(".py"):
                    files.append(path.rstrip("/") + "/" + entry)
        else:
            files.append(path)
    return files


def run_file(path, result, pattern=None, verbose=False):
    """Import one test file by path and run its tests."""
    slash = path.rfind("/")
    folder = path[:slash] if slash >= 0 else "."
    modname = path[slash + 1 :]
    if modname.endswith(".py"):
        modname = modname[:-3]
    sys.path.insert(0, folder)
    try:
        try:
            mod = __import__(modname)
        except SkipTest as e:
            result.skipped += 1
            print("SKIP %s: %s" % (path, e.args[0] if e.args else ""))
            return
        except Exception as e:  # noqa: BLE001 - an import error fails the file
            _fail(result, path, e)
            return
        run_module(mod, modname + ".py", result, pattern, verbose)
    finally:
        sys.path.pop(0)
        # Unload the module so a long suite does not keep every test in RAM.
        sys.modules.pop(modname, None)
        _collect()


def main(paths=None, pattern=None, verbose=False, exit=True):
    """Run tests from files and folders; print the summary; exit 1 on failure.

    ``pattern`` keeps only tests whose id (``file.py::test_name``) contains it.
    Returns the ``Result`` when ``exit`` is false.
    """
    if paths is None:
        paths = ["tests/device"]
    elif isinstance(paths, str):
        paths = [paths]
    result = Result()
    for path in discover(paths):
        run_file(path, result, pattern, verbose)
    print(result.summary())
    if not exit:
        return result
    if result.failed:
        sys.exit(1)
    if result.passed == 0:
        # A run that executed nothing is reported as a failure, not a success.
        print("no tests were run")
        sys.exit(1)
    sys.exit(0)


def allocated(fn, n=100, warmup=10):
    """Heap bytes allocated by ``n`` calls of ``fn()`` after ``warmup`` calls.

    The collector is off while measuring, so the ``gc.mem_alloc()`` delta
    is exactly what the calls allocated (0 for allocation-free code).
    """
    for _ in range(warmup):
        fn()
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for _ in range(n):
            fn()
        return gc.mem_alloc() - before
    finally:
        gc.enable()
