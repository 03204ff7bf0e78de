// Bounds-checked reading of flatbuffers (the .tflite container format).
//
// Every access is checked against the buffer size before a byte is read, and
// every multi-byte value is assembled from single bytes: the model may sit at
// any address (flash, a bytes object) and Cortex-M0 faults on unaligned word
// loads. Positions are byte offsets into the buffer; 0 means "absent" (no
// table or vector can start at offset 0, which holds the root offset).
#ifndef TML_FB_H
#define TML_FB_H

#include <stdint.h>
#include <string.h>

typedef struct tml_fb {
    const uint8_t *buf;
    uint32_t size;
} tml_fb_t;

static inline uint16_t tml_fb_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t tml_fb_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
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

// All functions return 0 on success and -1 when the bytes are malformed.
// An absent field is not an error: its position (or count) comes back as 0.

// Check the header of the table at `table`: its vtable and the table's own
// extent lie inside the buffer.
int tml_fb_table_ok(const tml_fb_t *fb, uint32_t table);

// Position of scalar field `id` (schema order from 0) of `width` bytes.
int tml_fb_field(const tml_fb_t *fb, uint32_t table, unsigned id, uint32_t width, uint32_t *pos);

// Sub-table referenced by field `id`, header checked.
int tml_fb_table(const tml_fb_t *fb, uint32_t table, unsigned id, uint32_t *sub);

// Vector referenced by field `id`: position of its first element and its
// length, checked to fit with elements of `elem_size` bytes.
int tml_fb_vector(const tml_fb_t *fb, uint32_t table, unsigned id, uint32_t elem_size,
    uint32_t *elems, uint32_t *count);

// Element i of a vector of tables (elems from tml_fb_vector, elem_size 4),
// header checked.
int tml_fb_vector_table(const tml_fb_t *fb, uint32_t elems, uint32_t i, uint32_t *sub);

// String referenced by field `id`: its characters, length, and the NUL
// terminator the format requires, all inside the buffer.
int tml_fb_string(const tml_fb_t *fb, uint32_t table, unsigned id, uint32_t *chars, uint32_t *len);

#endif // TML_FB_H
