/* The thread pool behind qs_par_for (core/kernels/par.c): every index runs once,
 * on the range and thread slot par.h documents; a call from inside a job
 * runs serially instead of waiting on itself; thousands of back-to-back
 * jobs (the parked workers' wake-up path) all complete; a forked child
 * starts its own workers; and qs_par_range covers [0, len) exactly. A hang
 * (lost wake-up) shows as a timeout: each waiting case arms an alarm. */
#include "gemm.h"
#include "par.h"
#include "tharness.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 1000

typedef struct {
    int hits[N];
    int slot[N];
    int nested;
} tally;

static void count(void *ctx, int t, int lo, int hi)
{
    tally *c = ctx;
    for (int i = lo; i < hi; i++) {
        __atomic_add_fetch(&c->hits[i], 1, __ATOMIC_RELAXED);
        c->slot[i] = t;
    }
}

static void ranges_and_slots(void)
{
    static tally c;
    for (int nt = 1; nt <= QS_PAR_MAXT + 1; nt++) {
        memset(&c, 0, sizeof c);
        int used = qs_par_for(nt, N, count, &c);
        int want = nt > QS_PAR_MAXT ? QS_PAR_MAXT : nt;
        T_CHECK(used == want, "nt %d: %d threads used, want %d", nt, used,
                want);
        for (int i = 0; i < N; i++) {
            T_CHECK(c.hits[i] == 1, "nt %d: index %d ran %d times", nt, i,
                    c.hits[i]);
            /* thread t owns [N t / used, N (t + 1) / used) */
            int t = c.slot[i];
            T_CHECK((long)N * t / used <= i && i < (long)N * (t + 1) / used,
                    "nt %d: index %d on slot %d", nt, i, t);
        }
    }
    memset(&c, 0, sizeof c);
    T_CHECK(qs_par_for(4, 3, count, &c) == 3 && c.hits[2] == 1,
            "3 items over 4 threads: capped at 3");
    T_CHECK(qs_par_for(4, 0, count, &c) == 0, "empty loop");
}

static void nested_part(void *ctx, int t, int lo, int hi)
{
    tally *c = ctx;
    (void)t;
    /* the inner call must not wait for the pool this job occupies */
    qs_par_for(2, hi - lo, count, &(tally){{0}, {0}, 0});
    __atomic_add_fetch(&c->nested, hi - lo, __ATOMIC_RELAXED);
}

static void nested_call_runs(void)
{
    static tally c;
    alarm(60);
    memset(&c, 0, sizeof c);
    qs_par_for(2, 40, nested_part, &c);
    alarm(0);
    T_CHECK(c.nested == 40, "nested jobs covered %d of 40", c.nested);
}

static void many_jobs(void)
{
    static tally c;
    alarm(120);
    memset(&c, 0, sizeof c);
    for (int k = 0; k < 20000; k++)
        qs_par_for(2, N, count, &c);
    alarm(0);
    for (int i = 0; i < N; i++)
        T_CHECK(c.hits[i] == 20000, "index %d ran %d times of 20000", i,
                c.hits[i]);
}

static void forked_child_works(void)
{
    static tally c;
    qs_par_for(2, N, count, &c); /* the parent has workers */
    pid_t pid = fork();
    T_CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        alarm(60);
        memset(&c, 0, sizeof c);
        qs_par_for(2, N, count, &c);
        for (int i = 0; i < N; i++)
            if (c.hits[i] != 1)
                _exit(2);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "child: status %d (signal %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
            WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void mark(void *ctx, size_t lo, size_t hi)
{
    unsigned char *m = ctx;
    for (size_t i = lo; i < hi; i++)
        m[i]++;
}

static void range_covers(void)
{
    static unsigned char m[(1 << 17) + 5];
    const size_t lens[] = {0, 1, 15, (1 << 16) - 1, (1 << 17) + 5};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        memset(m, 0, sizeof m);
        qs_par_range(lens[k], mark, m);
        for (size_t i = 0; i < sizeof m; i++)
            T_CHECK(m[i] == (i < lens[k]), "len %zu: index %zu marked %d",
                    lens[k], i, m[i]);
    }
}

int main(void)
{
    qs_set_threads(2); /* qs_par_range follows the job thread count */
    T_RUN(ranges_and_slots);
    T_RUN(nested_call_runs);
    T_RUN(many_jobs);
    T_RUN(forked_child_works);
    T_RUN(range_covers);
    T_EXIT();
}
