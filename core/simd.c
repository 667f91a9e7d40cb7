/* CPU feature checks for the vector paths (see simd.h). */
#include "simd.h"

#include <stdlib.h>

/* -1 = not decided yet, then 0 or 1 */
static int g_allow = -1;

static int simd_allowed(void)
{
    if (g_allow < 0) {
        const char *e = getenv("QSWEEP_NO_SIMD");
        g_allow = !(e && *e && *e != '0');
    }
    return g_allow;
}

void qs_simd_allow(int allow)
{
    g_allow = allow != 0;
}

/* which: 0 AVX2, 1 AVX-512F; the CPU is asked once per feature */
static int cpu_has(int which)
{
#if QS_SIMD_X86
    static int have[2] = {-1, -1};
    if (have[which] < 0) {
        __builtin_cpu_init();
        have[which] = which ? __builtin_cpu_supports("avx512f")
                            : __builtin_cpu_supports("avx2");
    }
    return have[which] && simd_allowed();
#else
    (void)which;
    return 0;
#endif
}

int qs_simd_avx2(void) { return cpu_has(0); }

int qs_simd_avx512(void) { return cpu_has(1); }
