// Bounds-checked flatbuffer access; see tml_fb.h. Every comparison is
// written so that it cannot overflow: sizes are subtracted from the buffer
// size only after checking they are smaller.
#include "tml_fb.h"

uint32_t tml_fb_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t tml_fb_bad(tml_fb_t *fb) {
    fb->bad = 1;
    return 0;
}

// Locate the vtable of a table: its position (UINT32_MAX when malformed),
// the vtable's size in sizes[0] and the table's in sizes[1].
static uint32_t tml_fb_vtable(const tml_fb_t *fb, uint32_t table, uint32_t sizes[2]) {
    if (table < 4 || table > fb->size - 4) {     // size >= 8 (tml_fb_t)
        return UINT32_MAX;
    }
    // table - soffset, modulo 2^32: a result below 0 or past the end wraps
    // to at least 2^31, above any buffer size (sizes are below 2^31).
    uint32_t v = table - tml_fb_u32(fb->buf + table);
    if (v > fb->size - 4) {
        return UINT32_MAX;
    }
    uint32_t vs = tml_fb_u16(fb->buf + v);
    uint32_t ts = tml_fb_u16(fb->buf + v + 2);
    if (vs < 4 || (vs & 1) || vs > fb->size - v || ts < 4 || ts > fb->size - table) {
        return UINT32_MAX;
    }
    sizes[0] = vs;
    sizes[1] = ts;
    return v;
}

uint32_t tml_fb_check(tml_fb_t *fb, uint32_t table) {
    uint32_t sizes[2];
    return tml_fb_vtable(fb, table, sizes) != UINT32_MAX ? table : tml_fb_bad(fb);
}

// Follow the uoffset stored at `pos` (4 bytes inside the buffer) to its target.
static uint32_t tml_fb_deref(tml_fb_t *fb, uint32_t pos) {
    uint32_t off = tml_fb_u32(fb->buf + pos);
    if (off == 0 || off >= fb->size - pos) {
        return tml_fb_bad(fb);
    }
    return pos + off;
}

uint32_t tml_fb_get(tml_fb_t *fb, uint32_t table, unsigned spec) {
    const unsigned kind = spec & 7u, id = spec >> 3;
    uint32_t sizes[2];
    fb->n = 0;
    const uint32_t vt = tml_fb_vtable(fb, table, sizes);
    if (vt == UINT32_MAX) {
        return tml_fb_bad(fb);
    }
    const uint32_t vs = sizes[0], ts = sizes[1];
    if (id > 0x7ff0u || 4u + 2u * id + 2u > vs) {
        return 0;   // field added after this model was written: default
    }
    uint32_t off = tml_fb_u16(fb->buf + vt + 4 + 2 * id);
    if (off == 0) {
        return 0;
    }
    // A field may not overlap the table's vtable offset nor leave the table;
    // vectors, strings and tables are reached through a 4-byte offset.
    uint32_t width = kind == TML_FB_S1 ? 1 : kind == TML_FB_S8 ? 8 : 4;
    if (off < 4 || width > ts || off > ts - width) {
        return tml_fb_bad(fb);
    }
    uint32_t pos = table + off;
    if (kind <= TML_FB_S8) {
        return pos;
    }
    if ((pos = tml_fb_deref(fb, pos)) == 0) {
        return 0;
    }
    if (kind == TML_FB_TAB) {
        return tml_fb_check(fb, pos);
    }
    // Vector or string: a length word, then the elements.
    if (pos > fb->size - 4) {
        return tml_fb_bad(fb);
    }
    uint32_t n = tml_fb_u32(fb->buf + pos);
    uint32_t room = fb->size - pos - 4;
    unsigned shift = kind == TML_FB_V4 ? 2 : kind == TML_FB_V8 ? 3 : 0;
    if (n > (room >> shift)) {
        return tml_fb_bad(fb);
    }
    // The terminating NUL of a string must be inside the buffer too.
    if (kind == TML_FB_STR && (n >= room || fb->buf[pos + 4 + n] != 0)) {
        return tml_fb_bad(fb);
    }
    fb->n = n;
    return pos + 4;
}

void tml_fb_gets(tml_fb_t *fb, uint32_t table, const uint8_t *specs, unsigned n, uint32_t *out) {
    for (unsigned k = 0; k < n; k++, out += 2) {
        out[0] = tml_fb_get(fb, table, specs[k]);
        out[1] = fb->n;
    }
}

uint32_t tml_fb_val(tml_fb_t *fb, uint32_t table, unsigned spec, uint32_t dflt) {
    uint32_t pos = tml_fb_get(fb, table, spec);
    if (pos == 0) {
        return dflt;
    }
    return (spec & 7u) == TML_FB_S1 ? fb->buf[pos] : tml_fb_u32(fb->buf + pos);
}

uint32_t tml_fb_elem(tml_fb_t *fb, uint32_t elems, uint32_t i) {
    // The caller got elems and the count from tml_fb_get, so elems + 4 * i + 4
    // is inside the buffer; check again to be safe against misuse.
    // (4 * i + 4 <= size - elems exactly when i < (size - elems) / 4.)
    if (elems > fb->size || i >= (fb->size - elems) / 4) {
        return tml_fb_bad(fb);
    }
    uint32_t pos = tml_fb_deref(fb, elems + 4 * i);
    return pos != 0 ? tml_fb_check(fb, pos) : 0;
}
