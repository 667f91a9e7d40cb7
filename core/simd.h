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

#endif
