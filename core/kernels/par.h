/* Splitting a loop over a few threads, for kernels whose iterations are
 * independent (channels of BN, images of a conv): every iteration computes
 * the same thing whichever thread runs it, so results do not depend on the
 * thread count. The count is the job's `threads`, set once by
 * qs_set_threads (gemm.h), so one knob governs all of a step. OpenBLAS is
 * kept single-threaded: its own threads spun beside these and, called
 * from inside a split loop, nested under them (on an AVX2 EPYC two job
 * threads ran slower than one, most of the time in the kernel). */
#ifndef QS_PAR_H
#define QS_PAR_H
#include <stddef.h>

#define QS_PAR_MAXT 4   /* most threads a loop is split over */

/* Threads the kernels may use, 1..QS_PAR_MAXT (default 1). */
int qs_par_threads(void);
void qs_par_set_threads(int n);

/* Runs fn(ctx, t, lo, hi) for t = 0 .. nt-1 over [0, n) cut into nt
 * contiguous ranges, one per thread (the caller's thread takes t = 0; t
 * picks per-thread scratch); nt is capped at n and QS_PAR_MAXT. The other
 * ranges run on workers kept parked between calls (started on first use);
 * one that cannot be started, a call made from inside a running loop, or
 * a second caller thread while a loop runs, runs the ranges on the
 * caller's thread instead (same ranges and t, so the same results).
 * Returns the nt used. */
typedef void (*qs_par_fn)(void *ctx, int t, int lo, int hi);
int qs_par_for(int nt, int n, qs_par_fn fn, void *ctx);

/* fn(ctx, lo, hi) over [0, len), cut into one contiguous range per thread
 * (at multiples of 16) when len is long enough to be worth it; for
 * elementwise passes, whose results do not depend on the cut. */
typedef void (*qs_par_range_fn)(void *ctx, size_t lo, size_t hi);
void qs_par_range(size_t len, qs_par_range_fn fn, void *ctx);
/* p [len] = 0, split like qs_par_range */
void qs_par_zero(float *p, size_t len);
#endif
