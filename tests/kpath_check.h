/* Runs a vector-vs-scalar comparison on every kernel path this CPU has up to
 * the one in use (QSWEEP_KERNELS caps it), so one test binary covers each
 * path; on a CPU with no vector path the scalar path is compared with itself
 * and the output says so, rather than passing silently. */
#ifndef QS_KPATH_CHECK_H
#define QS_KPATH_CHECK_H

#include <stdio.h>

#include "simd.h"

static void for_vector_paths(void (*fn)(qs_kpath))
{
    qs_simd_set_path(QS_KPATH_COUNT);
    const qs_kpath top = qs_simd_path();
    if (top < QS_KPATH_AVX2)
        printf("    (kernel path %s: scalar vs scalar)\n", qs_kpath_name(top));
    for (int p = top < QS_KPATH_AVX2 ? (int)top : QS_KPATH_AVX2; p <= (int)top; p++)
        fn((qs_kpath)p);
    qs_simd_set_path(QS_KPATH_COUNT);
}

#endif
