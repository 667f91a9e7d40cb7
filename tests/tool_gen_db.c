/* Command-line front end of gen_db.h: writes a realistic results database
 * for the dashboard tests, the demo and bench/http_bench.sh, or moves its
 * "live" sweep on as a running coordinator would.
 *   tool_gen_db --out F [--schema sql/schema.sql] [--indexes sql/indexes.sql]
 *               [--phases N --epoch-rows M] [--seed S]
 *   tool_gen_db --advance F [--steps N] [--interval-ms T]
 * Built by hand (not a test binary), with server/report/paper.c: see
 * tests/cli/browser.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gen_db.h"

static void usage(void)
{
    fprintf(stderr, "usage: tool_gen_db --out F [--schema sql/schema.sql] [--indexes FILE]\n"
                    "                   [--phases N --epoch-rows M] [--seed S]\n"
                    "       tool_gen_db --advance F [--steps N] [--interval-ms T]\n");
}

int main(int argc, char **argv)
{
    qs_gen_cfg cfg = {"sql/schema.sql", NULL, 0, 0, 1, 0};
    const char *out = NULL, *adv = NULL;
    long steps = 1, interval_ms = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--advance"))
            adv = v;
        else if (!strcmp(a, "--schema"))
            cfg.schema_path = v;
        else if (!strcmp(a, "--indexes"))
            cfg.indexes_path = v;
        else if (!strcmp(a, "--phases"))
            cfg.scale_phases = atol(v);
        else if (!strcmp(a, "--epoch-rows"))
            cfg.scale_epoch_rows = atol(v);
        else if (!strcmp(a, "--seed"))
            cfg.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--steps"))
            steps = atol(v);
        else if (!strcmp(a, "--interval-ms"))
            interval_ms = atol(v);
        else {
            usage();
            return 2;
        }
    }
    char err[512] = "";
    if (adv) {
        long total = 0;
        for (long s = 0; s < steps; s++) {
            int n = qs_gen_advance(adv, (double)time(NULL), err, sizeof err);
            if (n < 0) {
                fprintf(stderr, "tool_gen_db: %s\n", err);
                return 1;
            }
            total += n;
            if (n == 0)
                break;
            if (interval_ms > 0) {
                struct timespec ts = {interval_ms / 1000, interval_ms % 1000 * 1000000L};
                nanosleep(&ts, NULL);
            }
        }
        printf("%ld\n", total);
        return 0;
    }
    if (!out) {
        usage();
        return 2;
    }
    struct stat sb;
    if (stat(out, &sb) == 0) {
        fprintf(stderr, "tool_gen_db: %s exists; remove it first\n", out);
        return 2;
    }
    cfg.now = (double)time(NULL);
    if (qs_gen_db(out, &cfg, err, sizeof err)) {
        fprintf(stderr, "tool_gen_db: %s\n", err);
        return 1;
    }
    return 0;
}
