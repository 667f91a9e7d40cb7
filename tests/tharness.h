/* Minimal test harness: each test binary runs its cases and prints one line
 * per case, "PASS name" or "FAIL name: file:line message". tests/run.sh
 * counts the lines across binaries. A case stops at its first failed check. */
#ifndef QS_THARNESS_H
#define QS_THARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int t_failed_case;
static int t_total_failed;

#define T_CHECK(cond, ...)                                                   \
    do {                                                                     \
        if (!(cond)) {                                                       \
            printf("FAIL %s: %s:%d ", t_case_name, __FILE__, __LINE__);      \
            printf(__VA_ARGS__);                                             \
            printf("\n");                                                    \
            fflush(stdout);                                                  \
            t_failed_case = 1;                                               \
            return;                                                          \
        }                                                                    \
    } while (0)

/* Relative closeness with an absolute floor, for gradient checks. */
#define T_CLOSE(a, b, rtol, atol)                                            \
    (fabs((double)(a) - (double)(b)) <=                                      \
     (atol) + (rtol) * fmax(fabs((double)(a)), fabs((double)(b))))

static const char *t_case_name = "";

static void t_run(const char *name, void (*fn)(void))
{
    t_case_name = name;
    t_failed_case = 0;
    fn();
    if (t_failed_case)
        t_total_failed++;
    else
        printf("PASS %s\n", name);
    fflush(stdout);
}

#define T_RUN(fn) t_run(#fn, fn)
#define T_EXIT() return t_total_failed ? 1 : 0

#endif
