// The table of registered kernels, looked up by the interpreter through
// tml_op_find(). Firmware for a fixed set of models builds a smaller one:
// `mpyml build --model PKG` defines TML_OPS_HEADER, a header that sets
// TML_OPS_SELECTED and TML_ENABLE_OP_<NAME> for each operator the models
// use; the linker then drops the kernels no entry refers to.
// max_version is the highest schema op version the converter emits for the
// types these kernels implement; prepare() rejects the types they do not.
#include "tml_kernels.h"

#ifdef TML_OPS_HEADER
#include TML_OPS_HEADER
#endif

#define TML_KERNEL(code, version, name, fn) \
    { code, version, name, tml_##fn##_prepare, tml_##fn##_eval }

const tml_op_registration_t tml_op_registry[] = {
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_ADD)
    TML_KERNEL(TML_OP_ADD, 5, "ADD", add),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_AVERAGE_POOL_2D)
    TML_KERNEL(TML_OP_AVERAGE_POOL_2D, 3, "AVERAGE_POOL_2D", avgpool2d),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_CONCATENATION)
    TML_KERNEL(TML_OP_CONCATENATION, 4, "CONCATENATION", concatenation),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_CONV_2D)
    TML_KERNEL(TML_OP_CONV_2D, 7, "CONV_2D", conv2d),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_DEPTHWISE_CONV_2D)
    TML_KERNEL(TML_OP_DEPTHWISE_CONV_2D, 7, "DEPTHWISE_CONV_2D", dwconv2d),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_DEQUANTIZE)
    TML_KERNEL(TML_OP_DEQUANTIZE, 6, "DEQUANTIZE", dequantize),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_FULLY_CONNECTED)
    TML_KERNEL(TML_OP_FULLY_CONNECTED, 12, "FULLY_CONNECTED", fully_connected),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_LOGISTIC)
    TML_KERNEL(TML_OP_LOGISTIC, 3, "LOGISTIC", logistic),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_MAX_POOL_2D)
    TML_KERNEL(TML_OP_MAX_POOL_2D, 3, "MAX_POOL_2D", maxpool2d),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_MUL)
    TML_KERNEL(TML_OP_MUL, 7, "MUL", mul),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_RELU)
    TML_KERNEL(TML_OP_RELU, 3, "RELU", relu),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_RELU6)
    TML_KERNEL(TML_OP_RELU6, 3, "RELU6", relu6),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_RESHAPE)
    TML_KERNEL(TML_OP_RESHAPE, 2, "RESHAPE", reshape),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_SOFTMAX)
    TML_KERNEL(TML_OP_SOFTMAX, 3, "SOFTMAX", softmax),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_TANH)
    TML_KERNEL(TML_OP_TANH, 3, "TANH", tanh),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_PAD)
    TML_KERNEL(TML_OP_PAD, 4, "PAD", pad),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_MEAN)
    TML_KERNEL(TML_OP_MEAN, 3, "MEAN", mean),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_PADV2)
    TML_KERNEL(TML_OP_PADV2, 4, "PADV2", pad),
#endif
#if !defined(TML_OPS_SELECTED) || defined(TML_ENABLE_OP_QUANTIZE)
    TML_KERNEL(TML_OP_QUANTIZE, 3, "QUANTIZE", quantize),
#endif
    { 0, 0, NULL, NULL, NULL },
};
