// mpyml._native.AudioFrontend: the fixed-point audio frontend for CPython,
// with the same API as the device's tinyml.AudioFrontend.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "tml_cpython.h"
#include "tml_fe.h"

typedef struct {
    PyObject_HEAD
    void *state;          // 8-byte aligned view into state_mem
    void *state_mem;
    size_t state_size;
    tml_fe_config_t cfg;
    tml_fe_info_t info;
    uint16_t *frame;      // one frame of features
    int has_map;
    tml_fe_int8_map_t map;
    double float_scale, input_scale;
    int zero_point;
} FrontendObject;

static uint32_t fe_float_bits(double v) {
    float f = (float)v;
    uint32_t bits;
    memcpy(&bits, &f, sizeof(bits));
    return bits;
}

static double fe_bits_float(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof(f));
    return (double)f;
}

static int fe_set_map(FrontendObject *self, double input_scale, long zero_point, double float_scale) {
    const char *msg = "";
    tml_status_t s = tml_fe_int8_map_init(&self->map, fe_float_bits(float_scale), fe_float_bits(input_scale),
        (int32_t)zero_point, &msg);
    if (s != TML_OK || zero_point < -128 || zero_point > 127) {
        PyErr_Format(PyExc_ValueError, "int8 mapping: %s", zero_point < -128 || zero_point > 127 ?
            "zero_point must be in [-128, 127]" : msg);
        return -1;
    }
    self->has_map = 1;
    self->float_scale = float_scale;
    self->input_scale = input_scale;
    self->zero_point = (int)zero_point;
    return 0;
}

static void fe_dealloc(FrontendObject *self) {
    PyMem_Free(self->state_mem);
    PyMem_Free(self->frame);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int fe_init(FrontendObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"sample_rate", "window_size", "window_step", "num_channels", "upper_band_limit",
        "lower_band_limit", "smoothing_bits", "even_smoothing", "odd_smoothing", "min_signal_remaining",
        "enable_pcan", "pcan_strength", "pcan_offset", "gain_bits", "enable_log", "scale_shift", "input_scale",
        "zero_point", "float_scale", NULL};
    int sample_rate = 16000, window_size = 25, window_step = 10, num_channels = 32, smoothing_bits = 10;
    double upper = 7500.0, lower = 125.0, even = 0.025, odd = 0.06, msr = 0.05, strength = 0.95, offset = 80.0;
    int enable_pcan = 1, enable_log = 1, gain_bits = 21, scale_shift = 6;
    PyObject *input_scale = Py_None;
    long zero_point = 0;
    double float_scale = 10.0 / 256.0;
    if (PyTuple_GET_SIZE(args) != 0) {
        PyErr_SetString(PyExc_TypeError, "AudioFrontend takes keyword arguments only");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|iiiiddidddpddipiOld", kwlist, &sample_rate, &window_size,
        &window_step, &num_channels, &upper, &lower, &smoothing_bits, &even, &odd, &msr, &enable_pcan, &strength,
        &offset, &gain_bits, &enable_log, &scale_shift, &input_scale, &zero_point, &float_scale)) {
        return -1;
    }
    tml_fe_config_t *c = &self->cfg;
    c->sample_rate = sample_rate;
    c->window_size_ms = window_size;
    c->window_step_ms = window_step;
    c->num_channels = num_channels;
    c->upper_band_limit = fe_float_bits(upper);
    c->lower_band_limit = fe_float_bits(lower);
    c->smoothing_bits = smoothing_bits;
    c->even_smoothing = fe_float_bits(even);
    c->odd_smoothing = fe_float_bits(odd);
    c->min_signal_remaining = fe_float_bits(msr);
    c->enable_pcan = enable_pcan;
    c->pcan_strength = fe_float_bits(strength);
    c->pcan_offset = fe_float_bits(offset);
    c->gain_bits = gain_bits;
    c->enable_log = enable_log;
    c->scale_shift = scale_shift;

    const char *msg = "";
    size_t state_size = tml_fe_state_size(c);
    if (state_size == 0) {
        tml_fe_check(c, &msg);
        PyErr_Format(PyExc_ValueError, "unsupported frontend configuration: %s", msg);
        return -1;
    }
    PyMem_Free(self->state_mem);
    PyMem_Free(self->frame);
    self->state = NULL;
    self->state_mem = NULL;
    self->frame = NULL;
    self->state_size = state_size;
    self->state_mem = PyMem_Malloc(self->state_size + 8);
    self->frame = PyMem_Malloc((size_t)num_channels * sizeof(uint16_t));
    if (self->state_mem == NULL || self->frame == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->state = (void *)(((uintptr_t)self->state_mem + 7u) & ~(uintptr_t)7u);
    tml_status_t s = tml_fe_init(self->state, self->state_size, c, &msg);
    if (s != TML_OK) {
        self->state = NULL;
        PyErr_Format(PyExc_ValueError, "unsupported frontend configuration: %s", msg);
        return -1;
    }
    tml_fe_get_info(self->state, &self->info);
    self->has_map = 0;
    if (input_scale != Py_None) {
        double is = PyFloat_AsDouble(input_scale);
        if (is == -1.0 && PyErr_Occurred()) {
            return -1;
        }
        if (fe_set_map(self, is, zero_point, float_scale) != 0) {
            return -1;
        }
    }
    return 0;
}

static int fe_ready(FrontendObject *self) {
    if (self->state == NULL) {
        PyErr_SetString(PyExc_ValueError, "AudioFrontend is not initialised");
        return 0;
    }
    return 1;
}

// process(samples, features_out) -> int
static PyObject *fe_process(FrontendObject *self, PyObject *args) {
    PyObject *in_obj, *out_obj;
    if (!PyArg_ParseTuple(args, "OO", &in_obj, &out_obj) || !fe_ready(self)) {
        return NULL;
    }
    Py_buffer in, out;
    if (PyObject_GetBuffer(in_obj, &in, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) != 0) {
        return NULL;
    }
    const char *fmt = in.format ? in.format : "B";
    if (fmt[0] == '<' || fmt[0] == '=' || fmt[0] == '@') {
        fmt++;
    }
    int is_i16 = in.itemsize == 2 && strcmp(fmt, "h") == 0;
    int is_bytes = in.itemsize == 1 && (strcmp(fmt, "B") == 0 || strcmp(fmt, "b") == 0 || strcmp(fmt, "c") == 0);
    if (!is_i16 && !is_bytes) {
        PyBuffer_Release(&in);
        PyErr_Format(PyExc_ValueError, "samples must be int16 (array('h'), int16 ndarray or bytes), got format '%s'",
            fmt);
        return NULL;
    }
    if (is_bytes && (in.len & 1)) {
        PyBuffer_Release(&in);
        PyErr_SetString(PyExc_ValueError, "samples byte buffer has an odd length: it must hold whole int16 samples");
        return NULL;
    }
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&in);
        return NULL;
    }
    const char *ofmt = out.format ? out.format : "B";
    if (ofmt[0] == '<' || ofmt[0] == '=' || ofmt[0] == '@') {
        ofmt++;
    }
    const Py_ssize_t nch = self->info.num_channels;
    int out_i8 = out.itemsize == 1 && (strcmp(ofmt, "b") == 0 || strcmp(ofmt, "B") == 0);
    int out_u16 = out.itemsize == 2 && strcmp(ofmt, "H") == 0;
    const char *err = NULL;
    Py_ssize_t items = out.itemsize ? out.len / out.itemsize : 0;
    if (!out_i8 && !out_u16) {
        err = "features_out must be an int8 or uint16 buffer";
    } else if (items == 0 || items % nch != 0 || (out.ndim == 2 && out.shape[1] != nch) || out.ndim > 2) {
        err = "features_out must hold N frames x num_channels values";
    } else if (out_i8 && !self->has_map) {
        err = "int8 features_out needs the int8 mapping (set_input_quantization or input_scale=)";
    }
    if (err) {
        PyBuffer_Release(&in);
        PyBuffer_Release(&out);
        PyErr_Format(PyExc_ValueError, "%s (num_channels=%d)", err, (int)nch);
        return NULL;
    }
    const int16_t *samples = (const int16_t *)in.buf;
    size_t n = (size_t)in.len / 2;
    const size_t frames = (size_t)(items / nch);
    long produced = 0;
    Py_BEGIN_ALLOW_THREADS
    while (n > 0) {
        size_t used;
        int got = tml_fe_process(self->state, samples, n, &used, self->frame);
        samples += used;
        n -= used;
        if (!got) {
            continue;
        }
        produced++;
        // Shift older frames out, append the new one as the last row.
        if (out_u16) {
            uint16_t *o = (uint16_t *)out.buf;
            memmove(o, o + nch, (frames - 1) * (size_t)nch * sizeof(uint16_t));
            memcpy(o + (frames - 1) * (size_t)nch, self->frame, (size_t)nch * sizeof(uint16_t));
        } else {
            int8_t *o = (int8_t *)out.buf;
            memmove(o, o + nch, (frames - 1) * (size_t)nch);
            for (Py_ssize_t i = 0; i < nch; i++) {
                o[(frames - 1) * (size_t)nch + (size_t)i] = tml_fe_int8_map_apply(&self->map, self->frame[i]);
            }
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    return PyLong_FromLong(produced);
}

static PyObject *fe_reset(FrontendObject *self, PyObject *noargs) {
    (void)noargs;
    if (!fe_ready(self)) {
        return NULL;
    }
    tml_fe_reset(self->state);
    Py_RETURN_NONE;
}

// set_input_quantization(scale, zero_point, float_scale=10/256)
static PyObject *fe_set_quant(FrontendObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"scale", "zero_point", "float_scale", NULL};
    double scale, float_scale = 10.0 / 256.0;
    long zp;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "dl|d", kwlist, &scale, &zp, &float_scale) || !fe_ready(self)) {
        return NULL;
    }
    if (fe_set_map(self, scale, zp, float_scale) != 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

// map_int8(feature) -> int: one uint16 feature through the int8 mapping.
static PyObject *fe_map_int8(FrontendObject *self, PyObject *arg) {
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (!self->has_map) {
        PyErr_SetString(PyExc_ValueError, "no int8 mapping configured");
        return NULL;
    }
    if (v < 0 || v > 65535) {
        PyErr_SetString(PyExc_ValueError, "feature must be in [0, 65535]");
        return NULL;
    }
    return PyLong_FromLong(tml_fe_int8_map_apply(&self->map, (uint16_t)v));
}

static PyObject *fe_config(FrontendObject *self, PyObject *noargs) {
    (void)noargs;
    if (!fe_ready(self)) {
        return NULL;
    }
    const tml_fe_config_t *c = &self->cfg;
    return Py_BuildValue("{s:i,s:i,s:i,s:i,s:d,s:d,s:i,s:d,s:d,s:d,s:O,s:d,s:d,s:i,s:O,s:i}",
        "sample_rate", c->sample_rate, "window_size", c->window_size_ms, "window_step", c->window_step_ms,
        "num_channels", c->num_channels, "upper_band_limit", fe_bits_float(c->upper_band_limit),
        "lower_band_limit", fe_bits_float(c->lower_band_limit), "smoothing_bits", c->smoothing_bits,
        "even_smoothing", fe_bits_float(c->even_smoothing), "odd_smoothing", fe_bits_float(c->odd_smoothing),
        "min_signal_remaining", fe_bits_float(c->min_signal_remaining), "enable_pcan",
        c->enable_pcan ? Py_True : Py_False, "pcan_strength", fe_bits_float(c->pcan_strength), "pcan_offset",
        fe_bits_float(c->pcan_offset), "gain_bits", c->gain_bits, "enable_log", c->enable_log ? Py_True : Py_False,
        "scale_shift", c->scale_shift);
}

// _tables() -> (window, weights, unweights, start_index, end_index): for tests.
static PyObject *fe_tables(FrontendObject *self, PyObject *noargs) {
    (void)noargs;
    if (!fe_ready(self)) {
        return NULL;
    }
    size_t nw = (size_t)self->info.window_samples, ns = (size_t)self->info.fft_size / 2 + 1;
    int16_t *buf = PyMem_Malloc((nw + 2 * ns) * sizeof(int16_t));
    if (buf == NULL) {
        return PyErr_NoMemory();
    }
    tml_fe_window_table(self->state, buf, nw);
    tml_fe_weight_table(self->state, buf + nw, buf + nw + ns, ns);
    PyObject *r = Py_BuildValue("(y#y#y#ii)", (const char *)buf, (Py_ssize_t)(nw * 2), (const char *)(buf + nw),
        (Py_ssize_t)(ns * 2), (const char *)(buf + nw + ns), (Py_ssize_t)(ns * 2), self->info.start_index,
        self->info.end_index);
    PyMem_Free(buf);
    return r;
}

static PyObject *fe_get_int(FrontendObject *self, void *which) {
    if (!fe_ready(self)) {
        return NULL;
    }
    switch ((intptr_t)which) {
        case 0:
            return PyLong_FromSize_t(self->state_size);
        case 1:
            return PyLong_FromLong(self->info.num_channels);
        case 2:
            return PyLong_FromLong(self->info.window_samples);
        case 3:
            return PyLong_FromLong(self->info.step_samples);
        case 4:
            return PyLong_FromLong(self->info.fft_size);
        default:
            return PyLong_FromLong(self->cfg.sample_rate);
    }
}

static PyGetSetDef fe_getset[] = {
    {"state_size", (getter)fe_get_int, NULL, "Bytes of frontend state.", (void *)0},
    {"num_channels", (getter)fe_get_int, NULL, "Features per frame.", (void *)1},
    {"window_samples", (getter)fe_get_int, NULL, "Window length in samples.", (void *)2},
    {"step_samples", (getter)fe_get_int, NULL, "Hop length in samples.", (void *)3},
    {"fft_size", (getter)fe_get_int, NULL, "FFT length.", (void *)4},
    {"sample_rate", (getter)fe_get_int, NULL, "Sample rate in Hz.", (void *)5},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef fe_methods[] = {
    {"process", (PyCFunction)fe_process, METH_VARARGS,
     "process(samples, features_out) -> int: feed int16 samples; completed frames are appended to the rolling "
     "window features_out (N x num_channels, int8 or uint16), older frames shift out. Returns frames produced."},
    {"reset", (PyCFunction)fe_reset, METH_NOARGS, "Forget all audio seen so far."},
    {"set_input_quantization", (PyCFunction)(void (*)(void))fe_set_quant, METH_VARARGS | METH_KEYWORDS,
     "set_input_quantization(scale, zero_point, float_scale=10/256): int8 mapping for a model's input tensor."},
    {"map_int8", (PyCFunction)fe_map_int8, METH_O, "map_int8(feature) -> int8 value of one uint16 feature."},
    {"config", (PyCFunction)fe_config, METH_NOARGS, "The frontend parameters as a dict."},
    {"_tables", (PyCFunction)fe_tables, METH_NOARGS, "Internal tables (for tests)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject FrontendType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mpyml._native.AudioFrontend",
    .tp_basicsize = sizeof(FrontendObject),
    .tp_dealloc = (destructor)fe_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "AudioFrontend(**config): fixed-point audio frontend (TFLM microfrontend arithmetic).",
    .tp_methods = fe_methods,
    .tp_getset = fe_getset,
    .tp_init = (initproc)fe_init,
    .tp_new = PyType_GenericNew,
};

// Module-level helpers for tests of the init-time float emulation.
static PyObject *fe_mel_bits(PyObject *self, PyObject *arg) {
    (void)self;
    unsigned long b = PyLong_AsUnsignedLong(arg);
    if (PyErr_Occurred()) {
        return NULL;
    }
    return PyLong_FromUnsignedLong(tml_fe_test_mel_bits((uint32_t)b));
}

static PyObject *fe_pcan_gain(PyObject *self, PyObject *args) {
    (void)self;
    unsigned int sb, ob, x;
    int gb, ib;
    if (!PyArg_ParseTuple(args, "IIiiI", &sb, &ob, &gb, &ib, &x)) {
        return NULL;
    }
    return PyLong_FromLong(tml_fe_test_pcan_gain(sb, ob, gb, ib, x));
}

static PyMethodDef fe_module_methods[] = {
    {"_fe_mel_bits", fe_mel_bits, METH_O, "Mel value (float bits) of a frequency (float bits)."},
    {"_fe_pcan_gain", fe_pcan_gain, METH_VARARGS, "One PCAN gain curve entry."},
    {NULL, NULL, 0, NULL},
};

int tml_py_add_frontend(PyObject *m) {
    if (PyType_Ready(&FrontendType) < 0) {
        return -1;
    }
    Py_INCREF(&FrontendType);
    if (PyModule_AddObject(m, "AudioFrontend", (PyObject *)&FrontendType) < 0) {
        Py_DECREF(&FrontendType);
        return -1;
    }
    return PyModule_AddFunctions(m, fe_module_methods);
}
