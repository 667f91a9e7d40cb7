/* Run-time choice of the kernel path: `avx512`, `avx2` or `generic`.
 *
 * The portable build targets baseline x86-64 (SSE2); the AVX2 / AVX-512
 * kernels are compiled with target attributes and the path is picked here
 * once per process: the widest the CPU has, or a narrower one forced by
 * QSWEEP_KERNELS=avx2|generic (so every path can be run and tested on any
 * machine that has it). The elementwise vector paths (PACT, BN, the weight
 * quantizer) compute the same bits as their scalar twins; the direct conv
 * kernels of the avx512 and avx2 paths (one source, two widths: vec.h) sum
 * in another order than the BLAS of the generic path, so a model's bits
 * depend on the path (docs/kernels.md), and the path is recorded with
 * every result. Other machines (aarch64) have only
 * `generic`. */
#ifndef QS_SIMD_H
#define QS_SIMD_H
#include <stddef.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define QS_SIMD_X86 1
#else
#define QS_SIMD_X86 0
#endif

typedef enum {
    QS_KPATH_GENERIC = 0,
    QS_KPATH_AVX2 = 1,   /* AVX2 + FMA */
    QS_KPATH_AVX512 = 2, /* AVX-512F */
    QS_KPATH_COUNT
} qs_kpath;

/* The widest path this CPU runs, and the one in use (that, or narrower as
 * QSWEEP_KERNELS or qs_simd_set_path asks). */
qs_kpath qs_simd_best(void);
qs_kpath qs_simd_path(void);
const char *qs_kpath_name(qs_kpath p);
/* "avx512" / "avx2" / "generic" -> *p; -1 for any other name. */
int qs_kpath_parse(qs_kpath *p, const char *name);
/* Checks QSWEEP_KERNELS (a known name this CPU runs) and
 * QSWEEP_WINOGRAD; QS_EINVAL with a message otherwise. Commands call it first, so a typo is an error, not
 * a silent fallback. */
int qs_simd_check_env(void);
/* QSWEEP_WINOGRAD: 1 (also unset or empty) lets the conv kernels run
 * the 3x3 stride-1 convs as Winograd F(2x2, 3x3) (convk.h), 0 keeps them
 * on the direct kernels (the bits of results from before it); -1 for any
 * other value, which qs_simd_check_env refuses. */
int qs_simd_winograd_env(void);
/* Tests run a kernel on each path to compare them: p is capped at
 * qs_simd_best(); QS_KPATH_COUNT restores the environment's choice. Not
 * for use while other threads run kernels. */
void qs_simd_set_path(qs_kpath p);

/* 1 when the path in use has AVX2 (resp. AVX-512F) */
int qs_simd_avx2(void);
int qs_simd_avx512(void);

/* Streaming (non-temporal) stores for an output of `len` floats: 1 when
 * the path has AVX2 and the output is too large to be read back from the
 * cache by its consumer (QS_STREAM_MIN bytes), so that writing around the
 * cache saves the read of each line before it is overwritten. They change
 * no value, only where it is kept. A kernel that streams ends with
 * qs_stream_fence() on each thread, so its stores are visible before the
 * parallel loop reports it done. */
#define QS_STREAM_MIN ((size_t)16 << 20)
int qs_stream_output(size_t len);
void qs_stream_fence(void);
/* Tests move the threshold (bytes; QS_STREAM_MIN restores it) to run
 * both kinds of store on small shapes. */
void qs_stream_set_min(size_t bytes);


#endif
