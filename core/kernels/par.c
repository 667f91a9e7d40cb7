/* Parallel loop over pthreads (see par.h). Workers are started on the
 * first parallel call and then parked on a condition variable between
 * calls: a step makes a few hundred calls, and creating and joining a
 * thread per call measured 48 us here (5% of a 2-thread basic-20 k16
 * step); waking a parked one is a few microseconds. */
#include "par.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

static int g_threads = 1;

void qs_par_set_threads(int n)
{
    g_threads = n < 1 ? 1 : n > QS_PAR_MAXT ? QS_PAR_MAXT : n;
}

int qs_par_threads(void) { return g_threads; }

typedef struct {
    qs_par_fn fn;
    void *ctx;
    int t, lo, hi;
} par_range;

/* One job at a time: `gen` counts jobs, workers 1 .. nworkers run range
 * id of the job when id < njob, and the last to finish signals `done`. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;
    int nworkers, njob, pending;
    unsigned long start_gen[QS_PAR_MAXT];
    par_range r[QS_PAR_MAXT];
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, {0}, {{0}}};

/* Callers take this for a whole job; a second caller thread (or a nested
 * call from inside a job) runs its loop serially instead of waiting. */
static pthread_mutex_t caller = PTHREAD_MUTEX_INITIALIZER;

/* Polls before sleeping on the condition variable: a futex wake-up took
 * about 20 us here, and the gaps between a step's parallel calls are often
 * shorter than this spin (some tens of microseconds). */
#define SPIN 4000

static void spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker(void *arg)
{
    const int id = (int)(intptr_t)arg;
    pthread_mutex_lock(&pool.mu);
    unsigned long seen = pool.start_gen[id];
    pthread_mutex_unlock(&pool.mu);
    for (;;) {
        for (int i = 0; i < SPIN &&
                        __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE) == seen;
             i++)
            spin_pause();
        pthread_mutex_lock(&pool.mu);
        while (pool.gen == seen)
            pthread_cond_wait(&pool.go, &pool.mu);
        seen = pool.gen;
        if (id >= pool.njob) {
            pthread_mutex_unlock(&pool.mu);
            continue;
        }
        par_range r = pool.r[id];
        pthread_mutex_unlock(&pool.mu);
        r.fn(r.ctx, r.t, r.lo, r.hi);
        pthread_mutex_lock(&pool.mu);
        if (__atomic_sub_fetch(&pool.pending, 1, __ATOMIC_RELEASE) == 0)
            pthread_cond_signal(&pool.done);
        pthread_mutex_unlock(&pool.mu);
    }
    return NULL;
}

/* A forked child has only the forking thread: no workers, fresh locks. */
static void pool_after_fork(void)
{
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.go, NULL);
    pthread_cond_init(&pool.done, NULL);
    pthread_mutex_init(&caller, NULL);
    pool.nworkers = 0;
    pool.pending = 0;
}

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_init(void)
{
    pthread_atfork(NULL, NULL, pool_after_fork);
}

/* Starts workers up to `want` (pool.mu held); returns how many exist. */
static int pool_grow(int want)
{
    while (pool.nworkers < want) {
        const int id = pool.nworkers + 1;
        pthread_t tid;
        pthread_attr_t at;
        pool.start_gen[id] = pool.gen;
        if (pthread_attr_init(&at) != 0)
            break;
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&tid, &at, worker, (void *)(intptr_t)id);
        pthread_attr_destroy(&at);
        if (rc != 0)
            break;
        pool.nworkers++;
    }
    return pool.nworkers;
}

int qs_par_for(int nt, int n, qs_par_fn fn, void *ctx)
{
    if (n <= 0)
        return 0;
    if (nt > n)
        nt = n;
    if (nt > QS_PAR_MAXT)
        nt = QS_PAR_MAXT;
    par_range r[QS_PAR_MAXT];
    for (int t = 0; t < nt; t++)
        r[t] = (par_range){fn, ctx, t, (int)((long)n * t / nt),
                           (int)((long)n * (t + 1) / nt)};
    if (nt <= 1 || pthread_mutex_trylock(&caller) != 0) {
        /* same ranges, same t: the results do not change */
        for (int t = 0; t < nt; t++)
            fn(ctx, t, r[t].lo, r[t].hi);
        return nt < 1 ? 1 : nt;
    }
    pthread_once(&pool_once, pool_init);
    pthread_mutex_lock(&pool.mu);
    int nw = pool_grow(nt - 1);
    if (nw > nt - 1)
        nw = nt - 1;
    memcpy(pool.r, r, sizeof(par_range) * nt);
    pool.njob = 1 + nw;
    pool.pending = nw;
    __atomic_add_fetch(&pool.gen, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    fn(ctx, 0, r[0].lo, r[0].hi);
    for (int t = 1 + nw; t < nt; t++) /* no worker could be started */
        fn(ctx, t, r[t].lo, r[t].hi);
    for (int i = 0; i < SPIN && __atomic_load_n(&pool.pending, __ATOMIC_ACQUIRE);
         i++)
        spin_pause();
    pthread_mutex_lock(&pool.mu);
    while (pool.pending > 0)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&caller);
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
