// libFuzzer harness of the int8 runtime: load + plan + invoke of arbitrary
// bytes, under AddressSanitizer and UndefinedBehaviorSanitizer.
//
//   make fuzz-smoke                 # 60 s, seeded with the real models
//   make fuzz FUZZ_SECONDS=3600     # longer runs; findings land in build/fuzz/
//
// The model gets a 16-byte aligned heap block of exactly its size, so a read
// past its end is caught. A model that loads is loaded again into an arena
// of exactly arena_used bytes (its own heap block), so a write past the
// arena is caught too, and then invoked.
#define _POSIX_C_SOURCE 200112L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tml_interp.h"

#define FUZZ_ARENA_MAX (4u << 20)

static void *fuzz_alloc(size_t n) {
    void *p = NULL;
    return posix_memalign(&p, 16, n ? n : 1) == 0 ? p : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *model = (uint8_t *)fuzz_alloc(size);
    uint8_t *arena = (uint8_t *)fuzz_alloc(FUZZ_ARENA_MAX);
    if (model == NULL || arena == NULL) {
        free(model);
        free(arena);
        return 0;
    }
    memcpy(model, data, size);
    tml_interp_t it;
    tml_error_t err;
    if (tml_interp_init(&it, model, size, arena, FUZZ_ARENA_MAX, &err) == TML_OK) {
        uint32_t used = tml_interp_arena_used(&it);
        free(arena);
        arena = (uint8_t *)fuzz_alloc(used);
        if (arena != NULL && tml_interp_init(&it, model, size, arena, used, &err) == TML_OK) {
            for (uint32_t i = 0; i < tml_interp_input_count(&it); i++) {
                tml_tensor_t *t = tml_interp_input(&it, i);
                memset(t->data, (int)(i * 37 + size), t->bytes);
            }
            tml_interp_invoke(&it, &err);
        }
        // Smaller arenas exercise every allocation failure path; each must
        // fail cleanly, and report no more than the size that works.
        uint32_t smaller[4] = { used - 16, used / 2, used / 5, (uint32_t)(size * 7) % (used ? used : 1) };
        for (int k = 0; k < 4; k++) {
            if (used < 16 || smaller[k] >= used) {
                continue;
            }
            free(arena);
            arena = (uint8_t *)fuzz_alloc(smaller[k]);
            if (arena == NULL) {
                break;
            }
            tml_status_t st = tml_interp_init(&it, model, size, arena, smaller[k], &err);
            if (st != TML_ERR_ARENA_SMALL || err.needed > used || (err.needed_exact && err.needed != used)) {
                abort();
            }
        }
    }
    free(arena);
    free(model);
    return 0;
}
