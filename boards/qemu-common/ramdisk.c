// _ramdisk.RAMBlockDev: a block device over a buffer in memory, for the
// littlefs that gives the qemu boards a writable filesystem.
//
// Its methods copy with memcpy and never allocate on the heap. That matters:
// littlefs calls the block device from inside its operations, including
// from the finaliser of a file object the garbage collector frees while it
// is still open. During a collection the heap is locked, so a block device
// written in Python (slices, bytes copies) raises MemoryError there; the
// exception unwinds out of lfs2_file_close before the file is unlinked from
// littlefs's list of open files, the collector frees the object anyway, and
// the next littlefs call walks into freed memory. An allocating block device
// can also start a collection in the middle of a littlefs operation, whose
// finalisers then re-enter littlefs. Neither can happen here.

#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"
#include "extmod/vfs.h"

typedef struct _ramdisk_obj_t {
    mp_obj_base_t base;
    mp_obj_t store;      // keeps a heap buffer alive
    uint8_t *data;
    size_t block_size;
    size_t block_count;
} ramdisk_obj_t;

static mp_obj_t ramdisk_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 1, 2, false);
    mp_buffer_info_t info;
    mp_get_buffer_raise(args[0], &info, MP_BUFFER_RW);
    mp_int_t block = n_args > 1 ? mp_obj_get_int(args[1]) : 512;
    if (block < 128 || (block & (block - 1)) != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("block_size must be a power of two, at least 128"));
    }
    if (info.len / (size_t)block < 2) {
        mp_raise_ValueError(MP_ERROR_TEXT("buffer holds fewer than 2 blocks"));
    }
    ramdisk_obj_t *self = mp_obj_malloc(ramdisk_obj_t, type);
    self->store = args[0];
    self->data = info.buf;
    self->block_size = block;
    self->block_count = info.len / (size_t)block;
    return MP_OBJ_FROM_PTR(self);
}

// The byte range of (block, offset, len), checked against the disk.
static uint8_t *ramdisk_range(ramdisk_obj_t *self, mp_obj_t block_in, size_t n_args, const mp_obj_t *offset_in,
    size_t len) {
    mp_int_t block = mp_obj_get_int(block_in);
    mp_int_t offset = n_args > 3 ? mp_obj_get_int(*offset_in) : 0;
    size_t size = self->block_size * self->block_count;
    if (block < 0 || offset < 0 || (size_t)block >= self->block_count
        || (size_t)offset > size - (size_t)block * self->block_size
        || len > size - (size_t)block * self->block_size - (size_t)offset) {
        mp_raise_ValueError(MP_ERROR_TEXT("block range outside the disk"));
    }
    return self->data + (size_t)block * self->block_size + (size_t)offset;
}

static mp_obj_t ramdisk_readblocks(size_t n_args, const mp_obj_t *args) {
    ramdisk_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t buf;
    mp_get_buffer_raise(args[2], &buf, MP_BUFFER_WRITE);
    memcpy(buf.buf, ramdisk_range(self, args[1], n_args, &args[3], buf.len), buf.len);
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ramdisk_readblocks_obj, 3, 4, ramdisk_readblocks);

static mp_obj_t ramdisk_writeblocks(size_t n_args, const mp_obj_t *args) {
    ramdisk_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t buf;
    mp_get_buffer_raise(args[2], &buf, MP_BUFFER_READ);
    memcpy(ramdisk_range(self, args[1], n_args, &args[3], buf.len), buf.buf, buf.len);
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ramdisk_writeblocks_obj, 3, 4, ramdisk_writeblocks);

static mp_obj_t ramdisk_ioctl(mp_obj_t self_in, mp_obj_t op_in, mp_obj_t arg_in) {
    ramdisk_obj_t *self = MP_OBJ_TO_PTR(self_in);
    (void)arg_in;
    switch (mp_obj_get_int(op_in)) {
        case MP_BLOCKDEV_IOCTL_INIT:
        case MP_BLOCKDEV_IOCTL_DEINIT:
        case MP_BLOCKDEV_IOCTL_SYNC:
        case MP_BLOCKDEV_IOCTL_BLOCK_ERASE: // RAM needs no erase
            return MP_OBJ_NEW_SMALL_INT(0);
        case MP_BLOCKDEV_IOCTL_BLOCK_COUNT:
            return MP_OBJ_NEW_SMALL_INT(self->block_count);
        case MP_BLOCKDEV_IOCTL_BLOCK_SIZE:
            return MP_OBJ_NEW_SMALL_INT(self->block_size);
        default:
            return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
}
static MP_DEFINE_CONST_FUN_OBJ_3(ramdisk_ioctl_obj, ramdisk_ioctl);

static const mp_rom_map_elem_t ramdisk_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&ramdisk_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&ramdisk_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&ramdisk_ioctl_obj) },
};
static MP_DEFINE_CONST_DICT(ramdisk_locals_dict, ramdisk_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    ramdisk_type,
    MP_QSTR_RAMBlockDev,
    MP_TYPE_FLAG_NONE,
    make_new, ramdisk_make_new,
    locals_dict, &ramdisk_locals_dict
    );

static const mp_rom_map_elem_t ramdisk_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__ramdisk) },
    { MP_ROM_QSTR(MP_QSTR_RAMBlockDev), MP_ROM_PTR(&ramdisk_type) },
};
static MP_DEFINE_CONST_DICT(ramdisk_module_globals, ramdisk_module_globals_table);

const mp_obj_module_t mp_module_ramdisk = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&ramdisk_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__ramdisk, mp_module_ramdisk);
