// os module additions of the mpyml qemu boards; included by extmod/modos.c
// (MICROPY_PY_OS_INCLUDEFILE), like the hardware ports' own modos.c.

#include "py/runtime.h"

// os.urandom(n): the emulated boards have no entropy source, so this is a
// xorshift generator. It gives distinct names for temporary files and
// keeps runs reproducible; it is not for cryptography.
static uint32_t qemu_os_rng_state = 0x2545f491;

static mp_obj_t mp_os_urandom(mp_obj_t num) {
    mp_int_t n = mp_obj_get_int(num);
    if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("negative length"));
    }
    vstr_t vstr;
    vstr_init_len(&vstr, n);
    for (mp_int_t i = 0; i < n; i++) {
        uint32_t x = qemu_os_rng_state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        qemu_os_rng_state = x;
        vstr.buf[i] = (char)(x >> 24);
    }
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mp_os_urandom_obj, mp_os_urandom);

// os.getenv/putenv/unsetenv over a dict in RAM: mpyml passes the host's
// MPYML_* variables in when it starts a run, so tests find their data the
// same way as on the Unix port.
MP_REGISTER_ROOT_POINTER(mp_obj_t qemu_os_environ);

static mp_obj_t qemu_os_environ_dict(void) {
    if (MP_STATE_VM(qemu_os_environ) == MP_OBJ_NULL) {
        MP_STATE_VM(qemu_os_environ) = mp_obj_new_dict(0);
    }
    return MP_STATE_VM(qemu_os_environ);
}

static mp_obj_t mp_os_getenv(size_t n_args, const mp_obj_t *args) {
    mp_obj_t dflt = n_args > 1 ? args[1] : mp_const_none;
    mp_obj_dict_t *d = MP_OBJ_TO_PTR(qemu_os_environ_dict());
    mp_obj_str_get_str(args[0]); // names are str
    mp_map_elem_t *e = mp_map_lookup(&d->map, args[0], MP_MAP_LOOKUP);
    return e == NULL ? dflt : e->value;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mp_os_getenv_obj, 1, 2, mp_os_getenv);

static mp_obj_t mp_os_putenv(mp_obj_t key, mp_obj_t value) {
    mp_obj_str_get_str(key);
    mp_obj_str_get_str(value);
    mp_obj_dict_store(qemu_os_environ_dict(), key, value);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(mp_os_putenv_obj, mp_os_putenv);

static mp_obj_t mp_os_unsetenv(mp_obj_t key) {
    mp_obj_dict_t *d = MP_OBJ_TO_PTR(qemu_os_environ_dict());
    mp_map_lookup(&d->map, key, MP_MAP_LOOKUP_REMOVE_IF_FOUND);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mp_os_unsetenv_obj, mp_os_unsetenv);
