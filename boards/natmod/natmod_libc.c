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
