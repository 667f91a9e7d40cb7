/* Parallel loop over pthreads (see par.h). Threads are created per call:
 * the kernels split work of a millisecond or more, where the ~20 us of a
 * create/join is noise, and nothing lingers between steps. */
#include "par.h"

#include <pthread.h>
#include <string.h>

int openblas_get_num_threads(void);

int qs_par_threads(void)
{
    int t = openblas_get_num_threads();
    return t < 1 ? 1 : t > QS_PAR_MAXT ? QS_PAR_MAXT : t;
}

typedef struct {
    qs_par_fn fn;
    void *ctx;
    int t, lo, hi;
} par_range;

static void *par_thread(void *arg)
{
    par_range *r = arg;
    r->fn(r->ctx, r->t, r->lo, r->hi);
    return NULL;
}

int qs_par_for(int nt, int n, qs_par_fn fn, void *ctx)
{
    if (n <= 0)
        return 0;
    if (nt > n)
        nt = n;
    if (nt > QS_PAR_MAXT)
        nt = QS_PAR_MAXT;
    if (nt <= 1) {
        fn(ctx, 0, 0, n);
        return 1;
    }
    par_range r[QS_PAR_MAXT];
    pthread_t tid[QS_PAR_MAXT];
    int started[QS_PAR_MAXT] = {0};
    for (int t = 0; t < nt; t++)
        r[t] = (par_range){fn, ctx, t, (int)((long)n * t / nt),
                           (int)((long)n * (t + 1) / nt)};
    for (int t = 1; t < nt; t++)
        started[t] = pthread_create(&tid[t], NULL, par_thread, &r[t]) == 0;
    fn(ctx, 0, r[0].lo, r[0].hi);
    for (int t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            fn(ctx, t, r[t].lo, r[t].hi);
    }
    return nt;
}

/* Below this an elementwise pass is a few microseconds: not worth a thread. */
#define RANGE_MIN ((size_t)1 << 16)

typedef struct {
    qs_par_range_fn fn;
    void *ctx;
    size_t len;
    int nt;
} range_job;

static size_t range_cut(const range_job *r, int t)
{
    size_t c = r->len / (size_t)r->nt * (size_t)t & ~(size_t)15;
    return t == r->nt ? r->len : c;
}

static void range_part(void *ctx, int t, int lo, int hi)
{
    const range_job *r = ctx;
    (void)lo;
    (void)hi;
    r->fn(r->ctx, range_cut(r, t), range_cut(r, t + 1));
}

void qs_par_range(size_t len, qs_par_range_fn fn, void *ctx)
{
    int nt = qs_par_threads();
    if (nt <= 1 || len < RANGE_MIN) {
        fn(ctx, 0, len);
        return;
    }
    range_job r = {fn, ctx, len, nt};
    qs_par_for(nt, nt, range_part, &r);
}

static void zero_part(void *ctx, size_t lo, size_t hi)
{
    memset((float *)ctx + lo, 0, sizeof(float) * (hi - lo));
}

void qs_par_zero(float *p, size_t len)
{
    qs_par_range(len, zero_part, p);
}
