/* The SIMD level the kernels were dispatched to, for show_config(). */
#include "skce_common.h"

const char *skce_simd_level(void)
{
#if defined(SKCE_ENABLE_DISPATCH) && defined(__GNUC__) && !defined(__clang__) \
    && defined(__x86_64__) && defined(__linux__)
    /* the same test the target_clones resolver makes for arch=x86-64-v3 */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v3"))
        return "x86-64-v3: AVX2+FMA (runtime dispatch)";
    return "x86-64 baseline: SSE2 (runtime dispatch)";
#elif defined(__AVX512F__)
    return "AVX-512 (compile time)";
#elif defined(__AVX2__)
    return "AVX2 (compile time)";
#else
    return "baseline (compile time)";
#endif
}
