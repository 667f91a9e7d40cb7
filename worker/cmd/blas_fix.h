/* Making Debian's OpenBLAS use the right kernels.
 *
 * OpenBLAS 0.3.21 does not recognise recent CPUs and falls back to its
 * oldest kernels (Prescott: sgemm at a fifth of the speed). It reads
 * OPENBLAS_CORETYPE only while loading, so the fix is to set it and
 * re-execute the binary once, before MPI_Init or anything else. */
#ifndef QS_BLAS_FIX_H
#define QS_BLAS_FIX_H

/* The core type to force, or NULL to leave OpenBLAS alone: only when the
 * detected core is a generic fallback and the CPU has AVX-512 (SkylakeX
 * kernels) or AVX2 (Haswell kernels). Pure: tests call it directly. */
const char *qs_blas_pick_core(const char *detected, int has_avx512, int has_avx2);

/* Called first thing in main(). Never overrides a user's OPENBLAS_CORETYPE;
 * re-executes at most once (QSWEEP_BLAS_REEXEC guards the loop). Returns
 * only if no re-exec happened (or it failed, with a warning on stderr). */
void qs_blas_autofix(char **argv);

/* What the autofix did, for `qsweep bench` ("" when nothing). */
const char *qs_blas_autofix_note(void);

#endif
