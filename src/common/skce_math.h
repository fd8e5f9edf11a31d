/* Vectorizable elementary functions for the loss kernels.
 *
 * libm's exp() is a scalar call that stops the compiler from vectorizing a
 * row loop; these branch-free versions (range reduction + polynomial, 2^n
 * built from exponent bits) vectorize under `#pragma omp simd` and keep IEEE
 * semantics without -ffast-math: exp(-inf) = 0, exp(+inf) = inf,
 * exp(NaN) = NaN, correct gradual underflow.  Accuracy: < 2 ulp (measured
 * max 1.06 ulp in double, 1.01 in float against expl; minimax polynomials of
 * degree 11 / 6 on |r| <= ln2/2, see skce_exp_poly_*).
 */
#ifndef SKCE_MATH_H
#define SKCE_MATH_H

#include <stdint.h>
#include <string.h>
#include <stddef.h>

#if defined(_OPENMP) || defined(SKCE_HAVE_OMP_SIMD)
#define SKCE_PRAGMA(x) _Pragma(#x)
#define SKCE_SIMD SKCE_PRAGMA(omp simd)
#define SKCE_SIMD_REDUCTION(op, var) SKCE_PRAGMA(omp simd reduction(op : var))
#else
#define SKCE_SIMD
#define SKCE_SIMD_REDUCTION(op, var)
#endif

#if defined(__GNUC__)
#define SKCE_INLINE static inline __attribute__((always_inline))
#else
#define SKCE_INLINE static inline
#endif

/* Function multiversioning: the block kernels are compiled for x86-64-v3
 * (AVX2 + FMA) and for the baseline, and the loader picks one (glibc ifunc),
 * so the default build is portable yet vectorizes 4 doubles / 8 floats wide.
 * An AVX-512 clone measured no faster here; -Dnative=true builds for the
 * host instead. */
#if defined(SKCE_ENABLE_DISPATCH) && defined(__GNUC__) && !defined(__clang__) \
    && defined(__x86_64__) && defined(__linux__)
#define SKCE_DISPATCH \
    __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SKCE_DISPATCH
#endif

SKCE_INLINE double skce_bits_to_f64(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
SKCE_INLINE uint64_t skce_f64_to_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
SKCE_INLINE float skce_bits_to_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
SKCE_INLINE uint32_t skce_f32_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* 2^k for an integer-valued k in [-1022, 1023] given as t = k + shifter:
 * the low mantissa bits of t hold k, and shifting (k + bias) into the
 * exponent field needs only integer add and left shift (AVX2 has both). */
SKCE_INLINE double skce_pow2_f64(double t)
{
    return skce_bits_to_f64((skce_f64_to_bits(t) + 1023u) << 52);
}

SKCE_INLINE float skce_pow2_f32(float t)
{
    return skce_bits_to_f32((skce_f32_to_bits(t) + 127u) << 23);
}

/* exp(r) for |r| <= ln2/2 (plus a little), as 1 + (r + r^2 Q(r)) with Q a
 * minimax fit of (exp(r) - 1 - r) / r^2 weighted by r^2 / exp(r), i.e. for
 * the relative error of the result: degree 9 in double (3.6e-18 before
 * rounding), degree 4 in float (3.1e-9), where Taylor needed degrees 11 and
 * 5.  Q is evaluated by Estrin's scheme: its dependency chain is ~5
 * operations instead of Horner's 10, so the out-of-order core overlaps many
 * elements (a Horner chain made these loops latency-bound); its rounding
 * errors are damped by r^2 <= 0.12, and the result rounds like Horner's
 * last two steps (measured < 1.1 ulp against expl). */
SKCE_INLINE double skce_exp_poly_f64(double r)
{
    const double r2 = r * r, r4 = r2 * r2;
    const double p0 = 0x1.000000000000ap-1 + r * 0x1.55555555554fap-3;
    const double p1 = 0x1.555555555088bp-5 + r * 0x1.1111111127b9ep-7;
    const double p2 = 0x1.6c16c18426a54p-10 + r * 0x1.a01a012a699aep-13;
    const double p3 = 0x1.a0199a1655284p-16 + r * 0x1.71df25397c5e6p-19;
    const double p4 = 0x1.28ad691c2943ap-22 + r * 0x1.ad7f7d22268dap-26;
    const double Q = (p0 + r2 * p1) + r4 * ((p2 + r2 * p3) + r4 * p4);
    return 1.0 + (r + r2 * Q);
}

SKCE_INLINE float skce_exp_poly_f32(float r)
{
    const float r2 = r * r;
    const float p0 = 0x1.fffffcp-2f + r * 0x1.555492p-3f;
    const float p1 = 0x1.5558f2p-5f + r * 0x1.1239d4p-7f;
    const float Q = p0 + r2 * (p1 + r2 * 0x1.6a2448p-10f);
    return 1.0f + (r + r2 * Q);
}

SKCE_INLINE double skce_exp_f64(double x)
{
    /* below -746 the result is 0, above 710 it is +inf; NaN passes both tests */
    x = x < -746.0 ? -746.0 : x;
    x = x > 710.0 ? 710.0 : x;
    const double shifter = 0x1.8p52;                  /* adding it rounds to an integer */
    double n = (x * 0x1.71547652b82fep0 + shifter) - shifter;   /* round(x / ln2) */
    double r = x - n * 0x1.62e42fee00000p-1;          /* ln2 hi: n * hi is exact */
    r = r - n * 0x1.a39ef35793c76p-33;                /* ln2 lo */
    double p = skce_exp_poly_f64(r);
    /* 2^n as 2^n1 * 2^n2 so that n in [-1077, 1024] (subnormal results,
     * overflow to inf) stays within each factor's exponent range */
    double t1 = n * 0.5 + shifter;                    /* n1 = round(n / 2) */
    double t2 = (n - (t1 - shifter)) + shifter;       /* n2 = n - n1 */
    return p * skce_pow2_f64(t1) * skce_pow2_f64(t2);
}

/* exp(x) for x <= 0 or NaN only (x - max(x), -|x|), cheaper than the
 * general version: n = round(x / ln2) lies in [-1077, 0], so one factor
 * 2^(n + 64) (a normal number) times 2^-64 gives 2^n, with the single
 * rounding of a subnormal result in that last product.  Below -746 (also
 * -inf) the result is selected as 0 afterwards instead of clamping x first
 * (one compare and mask); NaN fails that test and propagates.  Positive x
 * are outside the contract (wrong results). */
SKCE_INLINE double skce_expneg_f64(double x)
{
    const double shifter = 0x1.8p52 + 64.0;           /* low bits of t: n + 64 */
    const double t = x * 0x1.71547652b82fep0 + shifter;
    const double n = t - shifter;                     /* round(x / ln2) */
    double r = x - n * 0x1.62e42fee00000p-1;
    r = r - n * 0x1.a39ef35793c76p-33;
    const double y = skce_exp_poly_f64(r) * skce_pow2_f64(t) * 0x1.0p-64;
    return x < -746.0 ? 0.0 : y;
}

SKCE_INLINE float skce_expneg_f32(float x)
{
    const float shifter = 0x1.8p23f + 32.0f;          /* n in [-150, 0]: 2^(n + 32) normal */
    const float t = x * 0x1.715476p0f + shifter;
    const float n = t - shifter;
    float r = x - n * 0x1.62e4p-1f;
    r = r - n * 0x1.7f7d1cp-20f;
    const float y = skce_exp_poly_f32(r) * skce_pow2_f32(t) * 0x1.0p-32f;
    return x < -104.0f ? 0.0f : y;
}

/* Natural log, vectorizable: exponent from the bits, mantissa m in
 * [sqrt(1/2), sqrt(2)), log(m) = 2 atanh(f) with f = (m-1)/(m+1), |f| < 0.172,
 * by its series to f^19 (< 1 ulp truncation).  For positive normal x; 0 gives
 * -inf, negative x NaN, and inf or NaN themselves. */
SKCE_INLINE double skce_log_f64(double x)
{
    uint64_t u = skce_f64_to_bits(x);
    double m = skce_bits_to_f64((u & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    /* biased exponent as a double without an int64 -> double conversion */
    double e = skce_bits_to_f64((u >> 52) | 0x4330000000000000ull) - (0x1.0p52 + 1023.0);
    int big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    e = big ? e + 1.0 : e;
    double f = (m - 1.0) / (m + 1.0);
    double f2 = f * f;
    double p = 1.0 / 19.0;
    p = p * f2 + 1.0 / 17.0;
    p = p * f2 + 1.0 / 15.0;
    p = p * f2 + 1.0 / 13.0;
    p = p * f2 + 1.0 / 11.0;
    p = p * f2 + 1.0 / 9.0;
    p = p * f2 + 1.0 / 7.0;
    p = p * f2 + 1.0 / 5.0;
    p = p * f2 + 1.0 / 3.0;
    double r = e * 0x1.62e42fee00000p-1 + (2.0 * f + (2.0 * f * f2 * p + e * 0x1.a39ef35793c76p-33));
    double special = x == 0.0 ? -1.0 / 0.0 : (x < 0.0 ? 0.0 / 0.0 : x);
    return (x >= 0x1.0p-1022 && x < 1.0 / 0.0) ? r : special;
}

/* Natural log in float, the same method: |f| < 0.172, series to f^9
 * (truncation 2e-9 relative).  For positive normal x, as skce_log_f64. */
SKCE_INLINE float skce_log_f32(float x)
{
    uint32_t u = skce_f32_to_bits(x);
    float m = skce_bits_to_f32((u & 0x007FFFFFu) | 0x3F800000u);
    /* biased exponent as a float without an int -> float conversion */
    float e = skce_bits_to_f32((u >> 23) | 0x4B000000u) - (0x1.0p23f + 127.0f);
    int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1.0f : e;
    float f = (m - 1.0f) / (m + 1.0f);
    float f2 = f * f;
    float p = 1.0f / 9.0f;
    p = p * f2 + 1.0f / 7.0f;
    p = p * f2 + 1.0f / 5.0f;
    p = p * f2 + 1.0f / 3.0f;
    float r = e * 0x1.62e4p-1f + (2.0f * f + (2.0f * f * f2 * p + e * 0x1.7f7d1cp-20f));
    float special = x == 0.0f ? -1.0f / 0.0f : (x < 0.0f ? 0.0f / 0.0f : x);
    return (x >= 0x1.0p-126f && x < 1.0f / 0.0f) ? r : special;
}

#endif /* SKCE_MATH_H */
