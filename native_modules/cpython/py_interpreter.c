// mpyml._native.Interpreter / Tensor: the int8 runtime for CPython, with the
// API of the device's _tinyml.Interpreter so host tools evaluate with exactly
// the arithmetic the device runs.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <structmember.h>
#include <time.h>

#include "tml_cpython.h"
#include "tml_interp.h"

typedef struct {
    PyObject_HEAD
    PyObject *model_obj;        // keeps the model bytes alive
    Py_buffer model;            // held for the interpreter's lifetime: zero-copy
    int have_model;
    void *arena_mem;
    size_t arena_size;
    tml_interp_t it;
    int ready;
} py_interp_t;

typedef struct {
    PyObject_HEAD
    py_interp_t *owner;
    tml_tensor_t *t;
    int32_t index;              // model tensor index
    Py_ssize_t shape[TML_MAX_DIMS];
    Py_ssize_t strides[TML_MAX_DIMS];
} py_tensor_t;

static PyTypeObject py_tensor_type;

// Automatic arena sizing stops here: a larger plan means a broken model.
#define PY_ARENA_LIMIT (512u << 20)

// Type name and buffer-protocol format of a tensor element type.
static const char *py_type_name(uint8_t type) {
    switch (type) {
        case TML_TYPE_FLOAT32: return "float32";
        case TML_TYPE_FLOAT16: return "float16";
        case TML_TYPE_INT32: return "int32";
        case TML_TYPE_UINT8: return "uint8";
        case TML_TYPE_INT64: return "int64";
        case TML_TYPE_BOOL: return "bool";
        case TML_TYPE_INT16: return "int16";
        case TML_TYPE_INT8: return "int8";
        case 10: return "float64";
        case 12: return "uint64";
        case 15: return "uint32";
        case 16: return "uint16";
        default: return "unknown";
    }
}

static const char *py_type_format(uint8_t type, Py_ssize_t *itemsize) {
    switch (type) {
        case TML_TYPE_FLOAT32: *itemsize = 4; return "f";
        case TML_TYPE_FLOAT16: *itemsize = 2; return "e";
        case TML_TYPE_INT32: *itemsize = 4; return "i";
        case TML_TYPE_UINT8: *itemsize = 1; return "B";
        case TML_TYPE_INT64: *itemsize = 8; return "q";
        case TML_TYPE_BOOL: *itemsize = 1; return "?";
        case TML_TYPE_INT16: *itemsize = 2; return "h";
        case TML_TYPE_INT8: *itemsize = 1; return "b";
        case 10: *itemsize = 8; return "d";
        case 12: *itemsize = 8; return "Q";
        case 15: *itemsize = 4; return "I";
        case 16: *itemsize = 2; return "H";
        default: *itemsize = 1; return "B";
    }
}

static PyObject *py_interp_error(const tml_error_t *err) {
    PyErr_SetString(PyExc_ValueError, err->msg[0] ? err->msg : tml_error_str(err->status));
    return NULL;
}

// ---------------------------------------------------------------------------
// Tensor

static PyObject *py_tensor_new_for(py_interp_t *owner, tml_tensor_t *t) {
    py_tensor_t *self = PyObject_New(py_tensor_t, &py_tensor_type);
    if (self == NULL) {
        return NULL;
    }
    Py_INCREF(owner);
    self->owner = owner;
    self->t = t;
    self->index = (int32_t)(t - owner->it.tensors);
    Py_ssize_t itemsize;
    py_type_format(t->type, &itemsize);
    Py_ssize_t stride = itemsize;
    for (int i = (int)t->ndim - 1; i >= 0; i--) {
        self->shape[i] = t->dims[i];
        self->strides[i] = stride;
        stride *= t->dims[i];
    }
    return (PyObject *)self;
}

static void py_tensor_dealloc(py_tensor_t *self) {
    Py_XDECREF(self->owner);
    PyObject_Del(self);
}

static int py_tensor_getbuffer(py_tensor_t *self, Py_buffer *view, int flags) {
    tml_tensor_t *t = self->t;
    Py_ssize_t itemsize;
    const char *fmt = py_type_format(t->type, &itemsize);
    if (t->data == NULL) {
        PyErr_SetString(PyExc_ValueError, "tensor has no memory");
        view->obj = NULL;
        return -1;
    }
    view->buf = t->data;
    view->obj = (PyObject *)self;
    Py_INCREF(self);
    view->len = (Py_ssize_t)t->bytes;
    view->readonly = t->is_const;
    if (t->is_const && (flags & PyBUF_WRITABLE)) {
        Py_DECREF(self);
        view->obj = NULL;
        PyErr_SetString(PyExc_BufferError, "constant tensor is read-only");
        return -1;
    }
    view->itemsize = itemsize;
    view->format = (flags & PyBUF_FORMAT) ? (char *)fmt : NULL;
    view->ndim = t->ndim;
    view->shape = (flags & PyBUF_ND) ? self->shape : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? self->strides : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    if (!(flags & PyBUF_ND)) {
        // A flat byte view (e.g. bytes(t)) is only consistent as unsigned bytes.
        view->itemsize = 1;
        view->format = (flags & PyBUF_FORMAT) ? "B" : NULL;
        view->ndim = 1;
    }
    return 0;
}

static PyBufferProcs py_tensor_as_buffer = {
    (getbufferproc)py_tensor_getbuffer,
    NULL,
};

static PyObject *py_tensor_shape(py_tensor_t *self, void *closure) {
    (void)closure;
    PyObject *tup = PyTuple_New(self->t->ndim);
    if (tup == NULL) {
        return NULL;
    }
    for (int i = 0; i < self->t->ndim; i++) {
        PyTuple_SET_ITEM(tup, i, PyLong_FromLong(self->t->dims[i]));
    }
    return tup;
}

static PyObject *py_tensor_dtype(py_tensor_t *self, void *closure) {
    (void)closure;
    return PyUnicode_FromString(py_type_name(self->t->type));
}

static PyObject *py_tensor_scale(py_tensor_t *self, void *closure) {
    (void)closure;
    return PyFloat_FromDouble(self->t->n_quant ? self->t->scale : 0.0);
}

static PyObject *py_tensor_zero_point(py_tensor_t *self, void *closure) {
    (void)closure;
    return PyLong_FromLong(self->t->n_quant ? self->t->zero_point : 0);
}

static PyObject *py_tensor_nbytes(py_tensor_t *self, void *closure) {
    (void)closure;
    return PyLong_FromUnsignedLong(self->t->bytes);
}

static PyObject *py_tensor_index(py_tensor_t *self, void *closure) {
    (void)closure;
    return PyLong_FromLong(self->index);
}

static PyObject *py_tensor_is_const(py_tensor_t *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(self->t->is_const);
}

static PyGetSetDef py_tensor_getset[] = {
    {"is_const", (getter)py_tensor_is_const, NULL, "data is a constant in the model bytes", NULL},
    {"shape", (getter)py_tensor_shape, NULL, "dimensions (tuple)", NULL},
    {"dtype", (getter)py_tensor_dtype, NULL, "element type name ('int8', 'float32', ...)", NULL},
    {"scale", (getter)py_tensor_scale, NULL, "quantization scale (0.0 when not quantized)", NULL},
    {"zero_point", (getter)py_tensor_zero_point, NULL, "quantization zero point", NULL},
    {"nbytes", (getter)py_tensor_nbytes, NULL, "size of the data in bytes", NULL},
    {"index", (getter)py_tensor_index, NULL, "tensor index in the model", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

// Integer range of a quantized element type.
static int py_quant_range(uint8_t type, long *lo, long *hi) {
    switch (type) {
        case TML_TYPE_INT8: *lo = -128; *hi = 127; return 1;
        case TML_TYPE_UINT8: *lo = 0; *hi = 255; return 1;
        case TML_TYPE_INT16: *lo = -32768; *hi = 32767; return 1;
        case TML_TYPE_INT32: *lo = INT32_MIN; *hi = INT32_MAX; return 1;
        default: return 0;
    }
}

// quantize(x) -> int: round(x / scale) + zero_point, saturated to the type.
static PyObject *py_tensor_quantize(py_tensor_t *self, PyObject *arg) {
    long lo, hi;
    if (!self->t->n_quant || !py_quant_range(self->t->type, &lo, &hi)) {
        PyErr_SetString(PyExc_ValueError, "tensor is not quantized");
        return NULL;
    }
    double x = PyFloat_AsDouble(arg);
    if (x == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (isnan(x)) {
        PyErr_SetString(PyExc_ValueError, "cannot quantize NaN");
        return NULL;
    }
    double q = round(x / (double)self->t->scale) + self->t->zero_point;
    q = q < lo ? lo : (q > hi ? hi : q);
    return PyLong_FromLong((long)q);
}

// dequantize(q) -> float: scale * (q - zero_point).
static PyObject *py_tensor_dequantize(py_tensor_t *self, PyObject *arg) {
    if (!self->t->n_quant) {
        PyErr_SetString(PyExc_ValueError, "tensor is not quantized");
        return NULL;
    }
    long q = PyLong_AsLong(arg);
    if (q == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyFloat_FromDouble((double)self->t->scale * (double)(q - self->t->zero_point));
}

static PyMethodDef py_tensor_methods[] = {
    {"quantize", (PyCFunction)py_tensor_quantize, METH_O, "quantize(x) -> int with this tensor's scale/zero point."},
    {"dequantize", (PyCFunction)py_tensor_dequantize, METH_O, "dequantize(q) -> float with this tensor's scale/zero point."},
    {NULL, NULL, 0, NULL},
};

static PyObject *py_tensor_repr(py_tensor_t *self) {
    PyObject *shape = py_tensor_shape(self, NULL);
    if (shape == NULL) {
        return NULL;
    }
    PyObject *r = PyUnicode_FromFormat("<Tensor %d %s %R>", (int)self->index, py_type_name(self->t->type), shape);
    Py_DECREF(shape);
    return r;
}

static PyTypeObject py_tensor_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mpyml._native.Tensor",
    .tp_doc = "A tensor of an Interpreter; supports the buffer protocol (read and write).",
    .tp_basicsize = sizeof(py_tensor_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)py_tensor_dealloc,
    .tp_as_buffer = &py_tensor_as_buffer,
    .tp_getset = py_tensor_getset,
    .tp_methods = py_tensor_methods,
    .tp_repr = (reprfunc)py_tensor_repr,
};

// ---------------------------------------------------------------------------
// Interpreter

static void py_interp_release(py_interp_t *self) {
    self->ready = 0;
    if (self->have_model) {
        PyBuffer_Release(&self->model);
        self->have_model = 0;
    }
    Py_CLEAR(self->model_obj);
    PyMem_Free(self->arena_mem);
    self->arena_mem = NULL;
}

static void py_interp_dealloc(py_interp_t *self) {
    py_interp_release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

// Initialise into a fresh arena of `size` bytes (16 spare bytes keep the
// usable part at `size` whatever the allocator's alignment).
static tml_status_t py_interp_try(py_interp_t *self, size_t size, tml_error_t *err) {
    PyMem_Free(self->arena_mem);
    self->arena_mem = PyMem_Malloc(size + 16);
    self->arena_size = size;
    if (self->arena_mem == NULL) {
        PyErr_NoMemory();
        return TML_ERR_ARG;
    }
    uintptr_t a = (uintptr_t)self->arena_mem;
    uint8_t *aligned = (uint8_t *)self->arena_mem + ((16 - (a & 15)) & 15);
    return tml_interp_init(&self->it, (const uint8_t *)self->model.buf, (size_t)self->model.len, aligned, size, err);
}

static int py_interp_init(py_interp_t *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"model", "arena_size", NULL};
    PyObject *model;
    PyObject *arena_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O", kwlist, &model, &arena_obj)) {
        return -1;
    }
    if (self->have_model || self->arena_mem != NULL) {
        // Tensors handed out point into the current arena: never swap it.
        PyErr_SetString(PyExc_RuntimeError, "Interpreter is already initialised");
        return -1;
    }
    if (PyObject_GetBuffer(model, &self->model, PyBUF_SIMPLE) != 0) {
        return -1;
    }
    self->have_model = 1;
    Py_INCREF(model);
    self->model_obj = model;
    tml_error_t err;
    tml_status_t st;
    if (arena_obj != Py_None) {
        Py_ssize_t size = PyLong_AsSsize_t(arena_obj);
        if (size == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (size < 0 || size > 0x7fff0000) {
            PyErr_SetString(PyExc_ValueError, "arena_size out of range");
            return -1;
        }
        st = py_interp_try(self, (size_t)size, &err);
    } else {
        // Grow until the plan fits, then settle on exactly what it needs.
        size_t size = 1024;
        st = TML_ERR_ARENA_SMALL;
        for (int tries = 0; tries < 64 && st == TML_ERR_ARENA_SMALL; tries++) {
            st = py_interp_try(self, size, &err);
            if (st == TML_ERR_ARENA_SMALL && err.needed == 0) {
                break;  // a kernel's own limit, not the arena size
            }
            if (st == TML_ERR_ARENA_SMALL) {
                size_t next = err.needed_exact ? err.needed : err.needed + err.needed / 4 + 1024;
                size = next > size ? next : size * 2;
                if (size > PY_ARENA_LIMIT) {
                    PyErr_Format(PyExc_ValueError, "model needs an arena of more than %u bytes", (unsigned)PY_ARENA_LIMIT);
                    return -1;
                }
            }
        }
        if (st == TML_OK && tml_interp_arena_used(&self->it) < size) {
            st = py_interp_try(self, tml_interp_arena_used(&self->it), &err);
        }
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    if (st != TML_OK) {
        py_interp_error(&err);
        return -1;
    }
    self->ready = 1;
    return 0;
}

static int py_interp_check(py_interp_t *self) {
    if (!self->ready) {
        PyErr_SetString(PyExc_ValueError, "interpreter not initialised");
        return -1;
    }
    return 0;
}

static PyObject *py_interp_tensor_at(py_interp_t *self, PyObject *arg, int output) {
    if (py_interp_check(self) != 0) {
        return NULL;
    }
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred()) {
        return NULL;
    }
    uint32_t n = output ? tml_interp_output_count(&self->it) : tml_interp_input_count(&self->it);
    if (i < 0 || (unsigned long)i >= n) {
        PyErr_Format(PyExc_IndexError, "%s index %ld out of range (model has %u)", output ? "output" : "input", i, n);
        return NULL;
    }
    tml_tensor_t *t = output ? tml_interp_output(&self->it, (uint32_t)i) : tml_interp_input(&self->it, (uint32_t)i);
    return py_tensor_new_for(self, t);
}

static PyObject *py_interp_input(py_interp_t *self, PyObject *arg) {
    return py_interp_tensor_at(self, arg, 0);
}

static PyObject *py_interp_output(py_interp_t *self, PyObject *arg) {
    return py_interp_tensor_at(self, arg, 1);
}

// tensor(i) -> Tensor by model index (for tools and tests); ValueError for a
// tensor no op uses (it has no memory).
static PyObject *py_interp_tensor(py_interp_t *self, PyObject *arg) {
    if (py_interp_check(self) != 0) {
        return NULL;
    }
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred()) {
        return NULL;
    }
    tml_tensor_t *t = i < 0 ? NULL : tml_interp_tensor(&self->it, (uint32_t)i);
    if (t == NULL) {
        PyErr_Format(PyExc_IndexError, "tensor index %ld out of range", i);
        return NULL;
    }
    return py_tensor_new_for(self, t);
}

static PyObject *py_interp_invoke(py_interp_t *self, PyObject *noargs) {
    (void)noargs;
    if (py_interp_check(self) != 0) {
        return NULL;
    }
    tml_error_t err;
    if (tml_interp_invoke(&self->it, &err) != TML_OK) {
        return py_interp_error(&err);
    }
    Py_RETURN_NONE;
}

// profile() -> tuple: run the model once, like invoke(), and return the
// nanoseconds (monotonic clock) each operator took, in graph order. Each op
// is charged the time since the previous one ended, so the figures add up
// to the whole invoke (as the device's Interpreter.profile()).
typedef struct {
    int64_t last;
    int64_t *ns;
} py_profile_t;

static int64_t py_profile_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void py_profile_hook(void *user, uint32_t op, int end) {
    py_profile_t *prof = user;
    const int64_t now = py_profile_now();
    if (end) {
        prof->ns[op] = now - prof->last;
        prof->last = now;
    } else if (op == 0) {
        prof->last = now;
    }
}

static PyObject *py_interp_profile(py_interp_t *self, PyObject *noargs) {
    (void)noargs;
    if (py_interp_check(self) != 0) {
        return NULL;
    }
    uint32_t n = tml_interp_op_count(&self->it);
    int64_t *ns = PyMem_Calloc(n ? n : 1, sizeof(int64_t));
    if (ns == NULL) {
        return PyErr_NoMemory();
    }
    py_profile_t prof = { 0, ns };
    self->it.profile = py_profile_hook;
    self->it.profile_user = &prof;
    tml_error_t err;
    tml_status_t st = tml_interp_invoke(&self->it, &err);
    self->it.profile = NULL;
    self->it.profile_user = NULL;
    PyObject *result = NULL;
    if (st != TML_OK) {
        py_interp_error(&err);
    } else if ((result = PyTuple_New(n)) != NULL) {
        for (uint32_t i = 0; i < n; i++) {
            PyObject *v = PyLong_FromLongLong((long long)ns[i]);
            if (v == NULL) {
                Py_CLEAR(result);
                break;
            }
            PyTuple_SET_ITEM(result, i, v);
        }
    }
    PyMem_Free(ns);
    return result;
}

// invoke_many(inputs, outputs, n): run n times; input 0 is filled from
// consecutive slices of `inputs`, output 0 appended to `outputs` (both
// buffers of n * tensor bytes). Saves a Python round trip per sample when
// host tools evaluate whole data sets.
static PyObject *py_interp_invoke_many(py_interp_t *self, PyObject *args) {
    PyObject *in_obj, *out_obj;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OOn", &in_obj, &out_obj, &n)) {
        return NULL;
    }
    if (py_interp_check(self) != 0) {
        return NULL;
    }
    tml_tensor_t *ti = tml_interp_input(&self->it, 0);
    tml_tensor_t *to = tml_interp_output(&self->it, 0);
    if (ti == NULL || to == NULL) {
        PyErr_SetString(PyExc_ValueError, "model has no input or output");
        return NULL;
    }
    Py_buffer in, out;
    if (PyObject_GetBuffer(in_obj, &in, PyBUF_C_CONTIGUOUS) != 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&in);
        return NULL;
    }
    PyObject *result = NULL;
    if (n < 0 || in.len != n * (Py_ssize_t)ti->bytes || out.len != n * (Py_ssize_t)to->bytes) {
        PyErr_Format(PyExc_ValueError, "buffers must hold %zd inputs of %u bytes and outputs of %u bytes",
            n, (unsigned)ti->bytes, (unsigned)to->bytes);
    } else {
        tml_error_t err;
        tml_status_t st = TML_OK;
        for (Py_ssize_t k = 0; k < n && st == TML_OK; k++) {
            memcpy(ti->data, (const uint8_t *)in.buf + k * ti->bytes, ti->bytes);
            st = tml_interp_invoke(&self->it, &err);
            memcpy((uint8_t *)out.buf + k * to->bytes, to->data, to->bytes);
        }
        if (st != TML_OK) {
            py_interp_error(&err);
        } else {
            result = Py_None;
            Py_INCREF(result);
        }
    }
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    return result;
}

static PyObject *py_interp_arena_used(py_interp_t *self, void *closure) {
    (void)closure;
    if (py_interp_check(self) != 0) {
        return NULL;
    }
    return PyLong_FromUnsignedLong(tml_interp_arena_used(&self->it));
}

static PyObject *py_interp_arena_size(py_interp_t *self, void *closure) {
    (void)closure;
    return PyLong_FromSize_t(self->arena_size);
}

static PyObject *py_interp_ops(py_interp_t *self, void *closure) {
    (void)closure;
    if (py_interp_check(self) != 0) {
        return NULL;
    }
    uint32_t n = tml_interp_op_count(&self->it);
    PyObject *list = PyList_New(n);
    if (list == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(tml_interp_op_name(&self->it, i));
        if (s == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, s);
    }
    return list;
}

static PyObject *py_interp_num_inputs(py_interp_t *self, void *closure) {
    (void)closure;
    return PyLong_FromUnsignedLong(self->ready ? tml_interp_input_count(&self->it) : 0);
}

static PyObject *py_interp_num_outputs(py_interp_t *self, void *closure) {
    (void)closure;
    return PyLong_FromUnsignedLong(self->ready ? tml_interp_output_count(&self->it) : 0);
}

static PyObject *py_interp_model(py_interp_t *self, void *closure) {
    (void)closure;
    PyObject *m = self->model_obj ? self->model_obj : Py_None;
    Py_INCREF(m);
    return m;
}

static PyMethodDef py_interp_methods[] = {
    {"input", (PyCFunction)py_interp_input, METH_O, "input(i) -> Tensor"},
    {"output", (PyCFunction)py_interp_output, METH_O, "output(i) -> Tensor"},
    {"tensor", (PyCFunction)py_interp_tensor, METH_O, "tensor(i) -> Tensor by model index"},
    {"invoke", (PyCFunction)py_interp_invoke, METH_NOARGS, "Run the model once."},
    {"profile", (PyCFunction)py_interp_profile, METH_NOARGS,
     "profile() -> tuple: run the model once; nanoseconds each operator took, in graph order."},
    {"invoke_many", (PyCFunction)py_interp_invoke_many, METH_VARARGS,
     "invoke_many(inputs, outputs, n): n runs, input 0 from and output 0 into consecutive slices."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef py_interp_getset[] = {
    {"arena_used", (getter)py_interp_arena_used, NULL, "bytes of arena the model needs", NULL},
    {"arena_size", (getter)py_interp_arena_size, NULL, "bytes of arena allocated", NULL},
    {"ops", (getter)py_interp_ops, NULL, "operator names in graph order", NULL},
    {"num_inputs", (getter)py_interp_num_inputs, NULL, "number of graph inputs", NULL},
    {"num_outputs", (getter)py_interp_num_outputs, NULL, "number of graph outputs", NULL},
    {"model", (getter)py_interp_model, NULL, "the model object (used in place, never copied)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject py_interp_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mpyml._native.Interpreter",
    .tp_doc = "Interpreter(model, arena_size=None): the mpyml int8 runtime over .tflite bytes (used zero-copy).",
    .tp_basicsize = sizeof(py_interp_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)py_interp_init,
    .tp_dealloc = (destructor)py_interp_dealloc,
    .tp_methods = py_interp_methods,
    .tp_getset = py_interp_getset,
};

int tml_py_add_interpreter(PyObject *m) {
    if (PyType_Ready(&py_tensor_type) < 0 || PyType_Ready(&py_interp_type) < 0) {
        return -1;
    }
    Py_INCREF(&py_interp_type);
    if (PyModule_AddObject(m, "Interpreter", (PyObject *)&py_interp_type) != 0) {
        Py_DECREF(&py_interp_type);
        return -1;
    }
    Py_INCREF(&py_tensor_type);
    if (PyModule_AddObject(m, "Tensor", (PyObject *)&py_tensor_type) != 0) {
        Py_DECREF(&py_tensor_type);
        return -1;
    }
    return 0;
}
