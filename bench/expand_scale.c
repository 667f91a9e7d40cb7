/* Scale benchmark of grid expansion and sweep registration: loads a grid,
 * expands it, registers it in a fresh database (one transaction), then
 * registers it again (the rerun path: every phase already present).
 * Usage: expand_scale GRID.json DB  (DB must not exist). Prints one JSON
 * line. Built and run by bench/expand_scale.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "db.h"
#include "err.h"
#include "grid.h"

static double cpu(void) { return (double)clock() / CLOCKS_PER_SEC; }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv)
{
    qs_grid g;
    qs_db db;
    char *errors = NULL;
    int64_t id;
    if (argc != 3) {
        fprintf(stderr, "usage: expand_scale GRID.json DB\n");
        return 2;
    }
    double t0 = now(), c0 = cpu();
    if (qs_grid_load(&g, argv[1], 0, &errors)) {
        fprintf(stderr, "%s\n", errors ? errors : qs_errmsg());
        return 2;
    }
    double t1 = now(), c1 = cpu();
    if (qs_db_open(&db, argv[2], 0) || qs_db_sweep_begin(&db, &g, "bench", "bench", 2, &id)) {
        fprintf(stderr, "%s\n", qs_errmsg());
        return 1;
    }
    double t2 = now(), c2 = cpu();
    if (qs_db_sweep_begin(&db, &g, "bench", "bench", 2, &id)) {
        fprintf(stderr, "%s\n", qs_errmsg());
        return 1;
    }
    double t3 = now();
    /* Wall time, and CPU time of this process (the machine may be shared:
     * CPU time says what the work costs). */
    printf("{\"phases\":%d,\"expand_s\":%.3f,\"register_s\":%.3f,\"expand_register_s\":%.3f,"
           "\"rerun_register_s\":%.3f,\"expand_cpu_s\":%.3f,\"register_cpu_s\":%.3f,"
           "\"expand_register_cpu_s\":%.3f}\n",
           g.njobs, t1 - t0, t2 - t1, t2 - t0, t3 - t2, c1 - c0, c2 - c1, c2 - c0);
    qs_db_close(&db);
    qs_grid_free(&g);
    return 0;
}
