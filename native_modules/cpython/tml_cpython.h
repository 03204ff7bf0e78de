// Shared declarations of the CPython glue files of mpyml._native.
#ifndef TML_CPYTHON_H
#define TML_CPYTHON_H

#include <Python.h>
#include "tml_common.h"

// Set ValueError (TypeError for type errors) from a core status; returns NULL.
PyObject *tml_py_status_error(tml_status_t status, const char *context);

// Get a contiguous buffer of 8-bit elements; sets TypeError and returns -1 otherwise.
int tml_py_get_int8_buffer(PyObject *obj, Py_buffer *view, const char *what);

// Add AudioFrontend (py_frontend.c) to the module.
int tml_py_add_frontend(PyObject *m);

// Add Interpreter and Tensor (py_interpreter.c) to the module.
int tml_py_add_interpreter(PyObject *m);

#endif
