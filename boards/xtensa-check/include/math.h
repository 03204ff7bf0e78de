/* C standard math declarations for the Xtensa compile check (see string.h). */
#ifndef MPYML_XTENSA_CHECK_MATH_H
#define MPYML_XTENSA_CHECK_MATH_H
#define HUGE_VAL (__builtin_huge_val())
#define INFINITY (__builtin_inff())
#define NAN (__builtin_nanf(""))
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf(x)
#define isfinite(x) __builtin_isfinite(x)
#define signbit(x) __builtin_signbit(x)
double frexp(double x, int *e);
double ldexp(double x, int e);
double round(double x);
double floor(double x);
double ceil(double x);
double trunc(double x);
double fabs(double x);
double sqrt(double x);
double exp(double x);
double log(double x);
double log2(double x);
double log10(double x);
double pow(double x, double y);
double sin(double x);
double cos(double x);
double tanh(double x);
double fmod(double x, double y);
long lround(double x);
float frexpf(float x, int *e);
float ldexpf(float x, int e);
float roundf(float x);
float floorf(float x);
float ceilf(float x);
float fabsf(float x);
float sqrtf(float x);
float expf(float x);
float logf(float x);
float log2f(float x);
float powf(float x, float y);
float sinf(float x);
float cosf(float x);
float tanhf(float x);
long lroundf(float x);
#endif
