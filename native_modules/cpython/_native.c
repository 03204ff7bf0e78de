// mpyml._native: the native core (runtime, frontend, helpers) for CPython,
// with the same API as the device's _tinyml module, so host tools evaluate
// with exactly the arithmetic the device runs.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "tml_common.h"
#include "tml_cpython.h"

PyObject *tml_py_status_error(tml_status_t status, const char *context) {
    PyObject *type = status == TML_ERR_UNSUPPORTED_TYPE ? PyExc_TypeError : PyExc_ValueError;
    PyErr_Format(type, "%s: %s", context, tml_error_str(status));
    return NULL;
}

int tml_py_get_int8_buffer(PyObject *obj, Py_buffer *view, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) != 0) {
        return -1;
    }
    const char *f = view->format ? view->format : "B";
    if (view->itemsize != 1 || (strcmp(f, "b") != 0 && strcmp(f, "B") != 0 && strcmp(f, "c") != 0)) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_TypeError, "%s must hold 8-bit elements", what);
        return -1;
    }
    return 0;
}

static PyObject *native_version(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(tml_version());
}

static PyObject *native_error_str(PyObject *self, PyObject *arg) {
    (void)self;
    long code = PyLong_AsLong(arg);
    if (code == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyUnicode_FromString(tml_error_str((tml_status_t)code));
}

static PyObject *native_dot_s8(PyObject *self, PyObject *args, PyObject *kwargs) {
    (void)self;
    static char *kwlist[] = {"a", "b", "a_offset", "b_offset", NULL};
    PyObject *a_obj, *b_obj;
    long a_off = 0, b_off = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|ll", kwlist, &a_obj, &b_obj, &a_off, &b_off)) {
        return NULL;
    }
    Py_buffer a, b;
    if (tml_py_get_int8_buffer(a_obj, &a, "a") != 0) {
        return NULL;
    }
    if (tml_py_get_int8_buffer(b_obj, &b, "b") != 0) {
        PyBuffer_Release(&a);
        return NULL;
    }
    PyObject *result = NULL;
    if (a.len != b.len) {
        PyErr_Format(PyExc_ValueError, "length mismatch: %zd != %zd", a.len, b.len);
    } else if (a_off < -255 || a_off > 255 || b_off < -255 || b_off > 255) {
        PyErr_SetString(PyExc_ValueError, "offsets must be in [-255, 255]");
    } else {
        int64_t r = tml_dot_s8((const int8_t *)a.buf, (const int8_t *)b.buf, (size_t)a.len, (int32_t)a_off, (int32_t)b_off);
        result = PyLong_FromLongLong(r);
    }
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    return result;
}

static PyMethodDef native_methods[] = {
    {"version", native_version, METH_NOARGS, "Version of the native core."},
    {"error_str", native_error_str, METH_O, "Message of a native status code."},
    {"dot_s8", (PyCFunction)(void (*)(void))native_dot_s8, METH_VARARGS | METH_KEYWORDS,
     "dot_s8(a, b, a_offset=0, b_offset=0) -> int: inner product of two int8 buffers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "mpyml._native", "mpyml native core for the host.", -1, native_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
    PyObject *m = PyModule_Create(&native_module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "ERROR_COUNT", TML_ERR_COUNT) != 0) {
        Py_DECREF(m);
        return NULL;
    }
    // Components register their types here, one call each, e.g.
    // if (tml_py_add_runtime(m) != 0) { Py_DECREF(m); return NULL; }
    if (tml_py_add_frontend(m) != 0) {
        Py_DECREF(m);
        return NULL;
    }
    if (tml_py_add_interpreter(m) != 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
