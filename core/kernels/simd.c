/* CPU feature checks and the kernel path (see simd.h). */
#include "simd.h"

#include "err.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[QS_KPATH_COUNT] = {"generic", "avx2", "avx512"};

/* -1 = not decided yet */
static int g_best = -1, g_path = -1;

qs_kpath qs_simd_best(void)
{
    if (g_best < 0) {
        g_best = QS_KPATH_GENERIC;
#if QS_SIMD_X86
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            g_best = QS_KPATH_AVX2;
        if (g_best == QS_KPATH_AVX2 && __builtin_cpu_supports("avx512f"))
            g_best = QS_KPATH_AVX512;
#endif
    }
    return (qs_kpath)g_best;
}

const char *qs_kpath_name(qs_kpath p)
{
    return p >= 0 && p < QS_KPATH_COUNT ? names[p] : "unknown";
}

int qs_kpath_parse(qs_kpath *p, const char *name)
{
    for (int i = 0; i < QS_KPATH_COUNT; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *p = (qs_kpath)i;
            return 0;
        }
    return -1;
}

/* The environment's request: QSWEEP_KERNELS, else the older switches
 * (QSWEEP_NO_SIMD=1 = generic, QSWEEP_NO_AVX512=1 = avx2), else the best.
 * rc -1 for a name that is not a path. */
static int env_path(qs_kpath *p)
{
    const char *e = getenv("QSWEEP_KERNELS");
    *p = qs_simd_best();
    if (e && *e)
        return qs_kpath_parse(p, e);
    e = getenv("QSWEEP_NO_SIMD");
    if (e && *e && *e != '0')
        *p = QS_KPATH_GENERIC;
    e = getenv("QSWEEP_NO_AVX512");
    if (e && *e && *e != '0' && *p > QS_KPATH_AVX2)
        *p = QS_KPATH_AVX2;
    return 0;
}

int qs_simd_winograd_env(void)
{
    /* read once: every conv call asks (the environment does not change
     * under a running process) */
    static int v = -2;
    if (v == -2) {
        const char *e = getenv("QSWEEP_WINOGRAD");
        v = !e || !*e ? 1 : strcmp(e, "1") == 0 ? 1 : strcmp(e, "0") == 0 ? 0 : -1;
    }
    return v;
}

int qs_simd_check_env(void)
{
    qs_kpath p;
    if (qs_simd_winograd_env() < 0)
        return qs_err(QS_EINVAL, "QSWEEP_WINOGRAD=%s: 0 (direct conv kernels only) or 1",
                      getenv("QSWEEP_WINOGRAD"));
    if (env_path(&p) != 0)
        return qs_err(QS_EINVAL, "QSWEEP_KERNELS=%s: not a kernel path (avx512, avx2, generic)",
                      getenv("QSWEEP_KERNELS"));
    if (p > qs_simd_best())
        return qs_err(QS_EINVAL, "QSWEEP_KERNELS=%s: this CPU runs at most %s",
                      qs_kpath_name(p), qs_kpath_name(qs_simd_best()));
    return QS_OK;
}

void qs_simd_set_path(qs_kpath p)
{
    if (p >= QS_KPATH_COUNT || p < 0) {
        g_path = -1;
        return;
    }
    g_path = p < qs_simd_best() ? p : qs_simd_best();
}

qs_kpath qs_simd_path(void)
{
    if (g_path < 0) {
        qs_kpath p;
        /* a bad name was reported by qs_simd_check_env; kernels fall back
         * to the best path rather than failing mid-step */
        if (env_path(&p) != 0 || p > qs_simd_best())
            p = qs_simd_best();
        g_path = p;
    }
    return (qs_kpath)g_path;
}

int qs_simd_avx2(void) { return qs_simd_path() >= QS_KPATH_AVX2; }

int qs_simd_avx512(void) { return qs_simd_path() >= QS_KPATH_AVX512; }

static size_t g_stream_min = QS_STREAM_MIN;

void qs_stream_set_min(size_t bytes)
{
    g_stream_min = bytes;
}

int qs_stream_output(size_t len)
{
    return qs_simd_avx2() && len * sizeof(float) >= g_stream_min;
}

void qs_stream_fence(void)
{
#if QS_SIMD_X86
    __builtin_ia32_sfence();
#endif
}
