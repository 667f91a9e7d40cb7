/* Parallel loop over pthreads (see par.h). Threads are created per call:
 * the kernels split work of a millisecond or more, where the ~20 us of a
 * create/join is noise, and nothing lingers between steps. */
#include "par.h"

#include <pthread.h>

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
