// Bounds-checked reading of flatbuffers (the .tflite container format).
//
// Every access is checked against the buffer size before a byte is read, and
// every multi-byte value is assembled from single bytes: the model may sit at
// any address (flash, a bytes object) and Cortex-M0 faults on unaligned word
// loads. Positions are byte offsets into the buffer; 0 means "absent" (no
// table or vector can start at offset 0, which holds the root offset).
//
// Errors are sticky: an access that finds malformed bytes returns 0 and sets
// `bad`, which stays set. A reader checks `bad` once after a group of
// accesses instead of after each one; accesses made after an error are still
// bounds-checked (a 0 table is rejected) and only return 0.
#ifndef TML_FB_H
#define TML_FB_H

#include <stdint.h>
#include <string.h>

typedef struct tml_fb {
    const uint8_t *buf;
    uint32_t size;  // at least 8 (root offset and file identifier), below 2^31
    uint32_t n;     // element count of the last vector or string read
    uint32_t bad;   // set by the first malformed access (a word: cheap to test)
} tml_fb_t;

// Little-endian value at p (any alignment).
uint32_t tml_fb_u32(const uint8_t *p);

static inline uint16_t tml_fb_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline int32_t tml_fb_i32(const uint8_t *p) {
    return (int32_t)tml_fb_u32(p);
}

static inline uint64_t tml_fb_u64(const uint8_t *p) {
    return (uint64_t)tml_fb_u32(p) | ((uint64_t)tml_fb_u32(p + 4) << 32);
}

static inline int64_t tml_fb_i64(const uint8_t *p) {
    return (int64_t)tml_fb_u64(p);
}

static inline float tml_fb_f32(const uint8_t *p) {
    uint32_t u = tml_fb_u32(p);
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

// What tml_fb_get() reads from field `id` (schema order from 0): one small
// constant per call site. Scalars of 1, 4 or 8 bytes give the field's
// position; vectors (elements of 1, 4 or 8 bytes) and strings give the
// position of their first element and set fb->n to their length; a table
// gives the sub-table's position, its header checked.
enum {
    TML_FB_S1 = 0, TML_FB_S4, TML_FB_S8, TML_FB_V1, TML_FB_V4, TML_FB_V8, TML_FB_STR, TML_FB_TAB,
};
#define TML_FB_SPEC(id, kind) (((unsigned)(id) << 3) | (unsigned)(kind))

// Field `id` of `table` as described by `spec` (TML_FB_SPEC). An absent
// field gives 0 (and fb->n = 0), as does a malformed one, which also sets
// fb->bad. A string's terminating NUL must be inside the buffer.
uint32_t tml_fb_get(tml_fb_t *fb, uint32_t table, unsigned spec);

// tml_fb_get of n fields of one table (specs of fields below 32): out[2k]
// the result of specs[k], out[2k + 1] its length (fb->n).
void tml_fb_gets(tml_fb_t *fb, uint32_t table, const uint8_t *specs, unsigned n, uint32_t *out);

// Value of scalar field `id` (spec kind TML_FB_S1: the byte, unsigned;
// TML_FB_S4: the 32-bit word), or `dflt` when absent or malformed.
uint32_t tml_fb_val(tml_fb_t *fb, uint32_t table, unsigned spec, uint32_t dflt);

// `table` with its header checked: its vtable and the table's own extent
// lie inside the buffer. 0 (and fb->bad set) when not.
uint32_t tml_fb_check(tml_fb_t *fb, uint32_t table);

// Element i of a vector of tables (elems from tml_fb_get with TML_FB_V4),
// its header checked.
uint32_t tml_fb_elem(tml_fb_t *fb, uint32_t elems, uint32_t i);

#endif // TML_FB_H
