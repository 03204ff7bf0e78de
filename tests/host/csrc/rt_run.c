// Host driver for builds of the runtime with compile-time switches (op set,
// TML_ERROR_TEXT, TML_KERNELS_FLOAT32, TML_FAST_NONE), used by
// test_opset.py: loads a model, runs every input record of a file through
// it and prints "OK <arena_used> <output hex>..." or "ERR <status> <message>".
#include <stdio.h>
#include <stdlib.h>

#include "tml_interp.h"

static unsigned char *rt_read(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)*size + 1);
    if (buf != NULL && fread(buf, 1, (size_t)*size, f) != (size_t)*size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        return 2;
    }
    long model_size = 0, in_size = 0;
    unsigned char *model = rt_read(argv[1], &model_size);
    unsigned char *inputs = argc > 2 ? rt_read(argv[2], &in_size) : NULL;
    static unsigned char arena[1 << 20];
    tml_interp_t it;
    tml_error_t err;
    if (model == NULL || tml_interp_init(&it, model, (size_t)model_size, arena, sizeof(arena), &err) != TML_OK) {
        printf("ERR %d %s\n", model == NULL ? -1 : (int)err.status, model == NULL ? "no model" : err.msg);
        return 0;
    }
    printf("OK %u", (unsigned)tml_interp_arena_used(&it));
    tml_tensor_t *in = tml_interp_input(&it, 0);
    const tml_tensor_t *out = tml_interp_output(&it, 0);
    for (long pos = 0; inputs != NULL && pos + (long)in->bytes <= in_size; pos += in->bytes) {
        for (uint32_t i = 0; i < in->bytes; i++) {
            ((unsigned char *)in->data)[i] = inputs[pos + i];
        }
        if (tml_interp_invoke(&it, &err) != TML_OK) {
            printf(" invoke-error:%s", err.msg);
            break;
        }
        printf(" ");
        for (uint32_t i = 0; i < out->bytes; i++) {
            printf("%02x", ((const unsigned char *)out->data)[i]);
        }
    }
    printf("\n");
    free(model);
    free(inputs);
    return 0;
}
