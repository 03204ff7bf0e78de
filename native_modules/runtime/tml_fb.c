// Bounds-checked flatbuffer access; see tml_fb.h. Every comparison is
// written so that it cannot overflow: sizes are subtracted from the buffer
// size only after checking they are smaller.
#include "tml_fb.h"

// Locate the vtable of a table and return its two sizes.
static int tml_fb_vtable(const tml_fb_t *fb, uint32_t table, uint32_t *vt, uint32_t *vt_size, uint32_t *t_size) {
    if (fb->size < 4 || table < 4 || table > fb->size - 4) {
        return -1;
    }
    int64_t v = (int64_t)table - (int64_t)tml_fb_i32(fb->buf + table);
    if (v < 0 || v > (int64_t)fb->size - 4) {
        return -1;
    }
    uint32_t vs = tml_fb_u16(fb->buf + v);
    uint32_t ts = tml_fb_u16(fb->buf + v + 2);
    if (vs < 4 || (vs & 1) || vs > fb->size - (uint32_t)v || ts < 4 || ts > fb->size - table) {
        return -1;
    }
    *vt = (uint32_t)v;
    *vt_size = vs;
    *t_size = ts;
    return 0;
}

int tml_fb_table_ok(const tml_fb_t *fb, uint32_t table) {
    uint32_t vt, vs, ts;
    return tml_fb_vtable(fb, table, &vt, &vs, &ts);
}

int tml_fb_field(const tml_fb_t *fb, uint32_t table, unsigned id, uint32_t width, uint32_t *pos) {
    uint32_t vt, vs, ts;
    *pos = 0;
    if (tml_fb_vtable(fb, table, &vt, &vs, &ts) != 0) {
        return -1;
    }
    if (id > 0x7ff0u || 4u + 2u * id + 2u > vs) {
        return 0;   // field added after this model was written: default
    }
    uint32_t off = tml_fb_u16(fb->buf + vt + 4 + 2 * id);
    if (off == 0) {
        return 0;
    }
    // A field may not overlap the table's vtable offset nor leave the table.
    if (off < 4 || width > ts || off > ts - width) {
        return -1;
    }
    *pos = table + off;
    return 0;
}

// Follow the uoffset stored in field `id` to its target.
static int tml_fb_ref(const tml_fb_t *fb, uint32_t table, unsigned id, uint32_t *target) {
    uint32_t pos;
    *target = 0;
    if (tml_fb_field(fb, table, id, 4, &pos) != 0) {
        return -1;
    }
    if (pos == 0) {
        return 0;
    }
    uint32_t off = tml_fb_u32(fb->buf + pos);
    if (off == 0 || off >= fb->size - pos) {
        return -1;
    }
    *target = pos + off;
    return 0;
}

int tml_fb_table(const tml_fb_t *fb, uint32_t table, unsigned id, uint32_t *sub) {
    if (tml_fb_ref(fb, table, id, sub) != 0) {
        return -1;
    }
    if (*sub != 0 && tml_fb_table_ok(fb, *sub) != 0) {
        *sub = 0;
        return -1;
    }
    return 0;
}

// Check a vector header at `v` (length word then elements).
static int tml_fb_vector_at(const tml_fb_t *fb, uint32_t v, uint32_t elem_size, uint32_t *elems, uint32_t *count) {
    if (v > fb->size - 4) {
        return -1;
    }
    uint32_t n = tml_fb_u32(fb->buf + v);
    uint32_t room = fb->size - v - 4;
    if (elem_size != 0 && n > room / elem_size) {
        return -1;
    }
    *elems = v + 4;
    *count = n;
    return 0;
}

int tml_fb_vector(const tml_fb_t *fb, uint32_t table, unsigned id, uint32_t elem_size,
    uint32_t *elems, uint32_t *count) {
    uint32_t v;
    *elems = 0;
    *count = 0;
    if (tml_fb_ref(fb, table, id, &v) != 0) {
        return -1;
    }
    if (v == 0) {
        return 0;
    }
    return tml_fb_vector_at(fb, v, elem_size, elems, count);
}

int tml_fb_vector_table(const tml_fb_t *fb, uint32_t elems, uint32_t i, uint32_t *sub) {
    *sub = 0;
    // The caller got elems/count from tml_fb_vector, so elems + 4 * i + 4
    // is inside the buffer; check again to be safe against misuse.
    if (elems > fb->size || i > (fb->size - elems) / 4 || 4u * i + 4u > fb->size - elems) {
        return -1;
    }
    uint32_t pos = elems + 4 * i;
    uint32_t off = tml_fb_u32(fb->buf + pos);
    if (off == 0 || off >= fb->size - pos) {
        return -1;
    }
    if (tml_fb_table_ok(fb, pos + off) != 0) {
        return -1;
    }
    *sub = pos + off;
    return 0;
}

int tml_fb_string(const tml_fb_t *fb, uint32_t table, unsigned id, uint32_t *chars, uint32_t *len) {
    if (tml_fb_vector(fb, table, id, 1, chars, len) != 0) {
        return -1;
    }
    if (*chars == 0) {
        return 0;
    }
    // The terminating NUL must be inside the buffer too.
    if (*len >= fb->size - *chars || fb->buf[*chars + *len] != 0) {
        *chars = 0;
        *len = 0;
        return -1;
    }
    return 0;
}
