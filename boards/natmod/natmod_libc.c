// C library functions that the _tinyml glue and the portable core call and
// that a dynamic native module cannot take from the toolchain's libc (no
// libc is linked into a .mpy). Built only into natmods (mpyml.natmod).

#include <stddef.h>

size_t strlen(const char *s) {
    const char *p = s;
    while (*p) {
        ++p;
    }
    return (size_t)(p - s);
}

void *memcpy(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) {
        *d++ = *s++;
    }
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    unsigned char *d = dst;
    while (n--) {
        *d++ = (unsigned char)c;
    }
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--) {
            *d++ = *s++;
        }
    } else {
        d += n;
        s += n;
        while (n--) {
            *--d = *--s;
        }
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a;
    const unsigned char *y = b;
    for (; n; n--, x++, y++) {
        if (*x != *y) {
            return *x - *y;
        }
    }
    return 0;
}

// With -fno-math-errno GCC turns `(long)round(x)` into a call to lround on
// x86-64, which MicroPython's libm lacks. The volatile keeps this body from
// being turned into a call to itself.
double round(double x);

long lround(double x) {
    volatile double r = round(x);
    return (long)r;
}
