# Runs on the device (here: the Unix-port firmware built by `mpyml build`).
# Shows the native module at work: an int8 dot product over two buffers,
# checked against the same sum in plain Python.
import array
import time

import tinyml

print("tinyml", tinyml.version())

n = 4096
a = array.array("b", ((i * 37) % 256 - 128 for i in range(n)))
b = array.array("b", ((i * 91 + 7) % 256 - 128 for i in range(n)))
a_zero, b_zero = -3, 5

t0 = time.ticks_us()
native = tinyml.dot_s8(a, b, -a_zero, -b_zero)
t1 = time.ticks_us()
python = sum((a[i] - a_zero) * (b[i] - b_zero) for i in range(n))
t2 = time.ticks_us()

print("dot_s8 over %d int8 pairs: native %d in %d us, Python %d in %d us" % (
    n, native, time.ticks_diff(t1, t0), python, time.ticks_diff(t2, t1)))
assert native == python, "native and Python results differ"
try:
    tinyml.dot_s8(a, b[:10])
except ValueError as e:
    print("wrong length rejected:", e)
print("ok")
