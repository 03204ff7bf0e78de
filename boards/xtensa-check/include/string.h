/* Declarations of the C library string functions the portable core uses.
 * Debian's gcc-xtensa-lx106 ships no C library headers; this folder stands
 * in for them so the core can be compile-checked for the Xtensa ISA (the
 * prototypes are the C standard's). */
#ifndef MPYML_XTENSA_CHECK_STRING_H
#define MPYML_XTENSA_CHECK_STRING_H
#include <stddef.h>
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
#endif
