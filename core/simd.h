/* Run-time choice of the vector paths of elementwise kernels.
 *
 * The portable build targets baseline x86-64 (SSE2), where several
 * elementwise loops (PACT, BN) do not vectorise; the AVX2 / AVX-512 paths
 * are compiled with target attributes and picked here once per process.
 * Every vector path computes the same bits as its scalar twin (same
 * operations in the same order; no FMA contraction), so results do not
 * depend on the CPU. QSWEEP_NO_SIMD=1 forces the scalar paths (tests
 * compare the two). */
#ifndef QS_SIMD_H
#define QS_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__)
#define QS_SIMD_X86 1
#else
#define QS_SIMD_X86 0
#endif

/* 1 when the CPU has AVX2 (resp. AVX-512F) and QSWEEP_NO_SIMD is unset */
int qs_simd_avx2(void);
int qs_simd_avx512(void);
/* Tests switch the vector paths off (0) and on (1) to compare them with
 * the scalar ones; not for use while other threads run kernels. */
void qs_simd_allow(int allow);

#if QS_SIMD_X86
#include <immintrin.h>

/* floor(v + 0.5) for v >= -0 (NaN stays NaN), as the scalar roundings of
 * pact.c and wquant.c compute it (bit for bit): trunc(v) plus 1 where the
 * fraction v - trunc(v), which is exact, is at least 0.5; always adding
 * the +0 or 1 turns a -0 into +0 as the scalar integer conversion does. */
__attribute__((target("avx512f"))) static inline __m512
qs_simd_round_half_up(__m512 v)
{
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __mmask16 up = _mm512_cmp_ps_mask(_mm512_sub_ps(v, t), _mm512_set1_ps(0.5f),
                                      _CMP_GE_OQ);
    return _mm512_add_ps(t, _mm512_maskz_mov_ps(up, _mm512_set1_ps(1.0f)));
}
#endif

#endif
