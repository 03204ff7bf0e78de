// The table of registered kernels, looked up by the interpreter through
// tml_op_find(). Firmware for a fixed set of models can build a smaller one.
// max_version is the highest schema op version the converter emits for the
// types these kernels implement; prepare() rejects the types they do not.
#include "tml_kernels.h"

#define TML_KERNEL(code, version, name, fn) \
    { code, version, name, tml_##fn##_prepare, tml_##fn##_eval }

const tml_op_registration_t tml_op_registry[] = {
    TML_KERNEL(TML_OP_ADD, 5, "ADD", add),
    TML_KERNEL(TML_OP_AVERAGE_POOL_2D, 3, "AVERAGE_POOL_2D", avgpool2d),
    TML_KERNEL(TML_OP_CONCATENATION, 4, "CONCATENATION", concatenation),
    TML_KERNEL(TML_OP_CONV_2D, 7, "CONV_2D", conv2d),
    TML_KERNEL(TML_OP_DEPTHWISE_CONV_2D, 7, "DEPTHWISE_CONV_2D", dwconv2d),
    TML_KERNEL(TML_OP_DEQUANTIZE, 6, "DEQUANTIZE", dequantize),
    TML_KERNEL(TML_OP_FULLY_CONNECTED, 12, "FULLY_CONNECTED", fully_connected),
    TML_KERNEL(TML_OP_LOGISTIC, 3, "LOGISTIC", logistic),
    TML_KERNEL(TML_OP_MAX_POOL_2D, 3, "MAX_POOL_2D", maxpool2d),
    TML_KERNEL(TML_OP_MUL, 7, "MUL", mul),
    TML_KERNEL(TML_OP_RELU, 3, "RELU", relu),
    TML_KERNEL(TML_OP_RELU6, 3, "RELU6", relu6),
    TML_KERNEL(TML_OP_RESHAPE, 2, "RESHAPE", reshape),
    TML_KERNEL(TML_OP_SOFTMAX, 3, "SOFTMAX", softmax),
    TML_KERNEL(TML_OP_TANH, 3, "TANH", tanh),
    TML_KERNEL(TML_OP_PAD, 4, "PAD", pad),
    TML_KERNEL(TML_OP_MEAN, 3, "MEAN", mean),
    TML_KERNEL(TML_OP_PADV2, 4, "PADV2", pad),
    TML_KERNEL(TML_OP_QUANTIZE, 3, "QUANTIZE", quantize),
    { 0, 0, NULL, NULL, NULL },
};
