/* Claim verdicts with their intervals (server/report/stats.c, cells.c, claims.c,
 * report_tables.c) on a database with known per-seed accuracies
 * (tests/verdict_db.sql): Student's t quantile against tabulated values,
 * Welch's interval against numbers worked out by hand below, each of the
 * four verdicts reached, one-seed cells without a std, and the rows a
 * reduced-budget sweep is judged on. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cells.h"
#include "db.h"
#include "err.h"
#include "report.h"
#include "stats.h"
#include "tharness.h"

static char tmpdir[64];
static char dbpath[128];

/* |x - want| below half a unit of the last tabulated decimal. */
#define T_NEAR(x, want, tol) (fabs((x) - (want)) < (tol))

static void t_quantile_tabulated(void)
{
    /* Two-sided 95 % (p = 0.975) from printed t tables. */
    static const struct {
        double df, t;
    } tab[] = {{1, 12.706}, {2, 4.303}, {5, 2.571}, {30, 2.042}, {10, 2.228}, {120, 1.980}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        double t = qs_t_quantile(0.975, tab[i].df);
        T_CHECK(T_NEAR(t, tab[i].t, 0.0005), "df %g: %.6f, table %.3f", tab[i].df, t, tab[i].t);
    }
    /* Fractional df, as Welch-Satterthwaite gives: 2.940 at df 3.5 (the
     * root of 0.5 * I_{3.5/(3.5+t^2)}(1.75, 0.5) = 0.025, solved apart
     * from this code: 2.9400886); between the df 3 and df 4 entries
     * (3.182, 2.776) as it must be. */
    T_CHECK(T_NEAR(qs_t_quantile(0.975, 3.5), 2.940, 0.0005), "df 3.5: %.6f",
            qs_t_quantile(0.975, 3.5));
    T_CHECK(T_NEAR(qs_t_quantile(0.95, 1), 6.314, 0.0005), "one-sided 95%% at df 1");
    T_CHECK(T_NEAR(qs_t_quantile(0.025, 5), -2.571, 0.0005), "lower tail is the mirror");
    T_CHECK(isnan(qs_t_quantile(0.975, 0)) && isnan(qs_t_quantile(1, 5)), "out of range");
}

/* Welch by hand for a = {91.0, 91.4, 91.9}, b = {90.1, 90.3}:
 *   mean a = 274.3 / 3 = 91.43333, deviations -0.43333 -0.03333 +0.46667,
 *   squares 0.187778 + 0.001111 + 0.217778 = 0.406667, s_a^2 = 0.203333,
 *   s_a^2 / 3 = 0.0677778; mean b = 90.2, s_b^2 = (0.01 + 0.01) / 1 = 0.02,
 *   s_b^2 / 2 = 0.01; se = sqrt(0.0777778) = 0.278887;
 *   df = 0.0777778^2 / (0.0677778^2 / 2 + 0.01^2 / 1)
 *      = 0.00604938 / (0.00229691 + 0.0001) = 2.52382;
 *   t(0.975, 2.52382) = 3.55063 (solved apart, as above);
 *   interval 1.23333 -+ 3.55063 * 0.278887 = [0.24311, 2.22356]. */
static const double A1[] = {91.0, 91.4, 91.9}, B1[] = {90.1, 90.3};
#define W1_DIFF 1.233333
#define W1_DF 2.52382
#define W1_LO 0.24311
#define W1_HI 2.22356

/* a = {84.0, 84.2, 84.1}, b = {86.0, 86.5, 86.3} (claim 2, preact):
 *   mean a = 84.1, s_a^2 = (0.01 + 0.01 + 0) / 2 = 0.01, / 3 = 0.0033333;
 *   mean b = 86.26667, deviations -0.26667 +0.23333 +0.03333, squares
 *   0.071111 + 0.054444 + 0.001111 = 0.126667, s_b^2 = 0.063333, / 3 =
 *   0.0211111; se = sqrt(0.0244444) = 0.156347;
 *   df = 0.0244444^2 / (0.0033333^2 / 2 + 0.0211111^2 / 2)
 *      = 0.000597531 / (0.00000555556 + 0.000222840) = 2.61622;
 *   t(0.975, 2.61622) = 3.46357; diff -2.16667 -+ 0.541521 =
 *   [-2.70819, -1.62515]: below 0, contradicted. */
#define W2_LO -2.70819
#define W2_HI -1.62515
#define W2_DF 2.61622

static void welch_by_hand(void)
{
    qs_welch w;
    qs_welch_interval(&w, A1, 3, B1, 2, 0.95);
    T_CHECK(T_NEAR(w.diff, W1_DIFF, 1e-5) && T_NEAR(w.df, W1_DF, 1e-4), "diff %.6f df %.6f",
            w.diff, w.df);
    T_CHECK(T_NEAR(w.lo, W1_LO, 1e-4) && T_NEAR(w.hi, W1_HI, 1e-4), "interval [%.5f, %.5f]",
            w.lo, w.hi);
    T_CHECK(w.v == QS_V_HOLDS && w.na == 3 && w.nb == 2, "verdict %d", w.v);
    qs_welch_interval(&w, B1, 2, A1, 3, 0.95);
    T_CHECK(w.v == QS_V_CONTRA && T_NEAR(w.hi, -W1_LO, 1e-4), "swapped sides: contradicted");
    qs_welch_interval(&w, A1, 3, B1, 1, 0.95);
    T_CHECK(w.v == QS_V_NODATA && isnan(w.lo) && T_NEAR(w.diff, 91.433333 - 90.1, 1e-5),
            "one value on a side: not enough data, the difference still given");
    static const double same[] = {90.0, 90.0}, other[] = {89.0, 89.0};
    qs_welch_interval(&w, same, 2, other, 2, 0.95);
    T_CHECK(w.v == QS_V_HOLDS && w.lo == 1.0 && w.hi == 1.0, "no spread: the point itself");
}

static int exec_file(sqlite3 *h, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 1;
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *msg = NULL;
    int rc = sqlite3_exec(h, text, NULL, NULL, &msg);
    if (rc)
        fprintf(stderr, "%s: %s\n", path, msg ? msg : "?");
    sqlite3_free(msg);
    return rc;
}

static int make_db(void)
{
    qs_db db;
    snprintf(dbpath, sizeof dbpath, "%s/verdict.db", tmpdir);
    if (qs_db_open(&db, dbpath, 0) != QS_OK)
        return 1;
    int rc = exec_file(db.h, "tests/verdict_db.sql");
    qs_db_close(&db);
    return rc;
}

static const qs_cells_row *row(const qs_cells *t, const char *block, int depth)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->r[i].block, block) && t->r[i].depth == depth)
            return &t->r[i];
    return NULL;
}

static int load(qs_cells *t, int table4, const char *sweep)
{
    qs_db db;
    if (qs_db_open(&db, dbpath, 1) != QS_OK || qs_cells_init(t, table4) != QS_OK)
        return 1;
    int rc = qs_cells_load(t, db.h, dbpath, sweep, NULL);
    qs_db_close(&db);
    return rc;
}

static void verdicts_on_known_db(void)
{
    qs_cells t;
    qs_claim c[QS_CLAIMS_MAX];
    T_CHECK(load(&t, 0, "verdict") == QS_OK, "load: %s", qs_errmsg());
    int n = qs_claims_eval(c, &t), seen[4] = {0};
    T_CHECK(n == 4, "%d claims", n);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c[i].ncmp; k++)
            seen[c[i].cmp[k].w.v]++;
    for (int v = 0; v < 4; v++)
        T_CHECK(seen[v] > 0, "verdict \"%s\" never reached", qs_verdict_names[v]);

    /* Claim 1: basic 20 vs 8 is the hand-worked interval; preact within
     * noise; depthwise 29 has one float seed. */
    T_CHECK(c[0].ncmp == 3, "claim 1: %d comparisons", c[0].ncmp);
    const qs_welch *w = &c[0].cmp[0].w;
    T_CHECK(!strcmp(c[0].cmp[0].what, "basic: depth 20 vs 8"), "claim 1a: %s", c[0].cmp[0].what);
    T_CHECK(T_NEAR(w->lo, W1_LO, 1e-4) && T_NEAR(w->hi, W1_HI, 1e-4) && w->v == QS_V_HOLDS,
            "claim 1a [%.5f, %.5f]", w->lo, w->hi);
    T_CHECK(c[0].cmp[1].w.v == QS_V_NOISE && c[0].cmp[2].w.v == QS_V_NODATA, "claim 1b/1c");
    T_CHECK(c[0].v == QS_V_NOISE && c[0].decisive == 1, "claim 1: %s, decided by %d",
            qs_verdict_names[c[0].v], c[0].decisive);
    /* The published difference of the same rows: 94.14 - 93.26. */
    T_CHECK(T_NEAR(c[0].cmp[0].published, 0.88, 1e-9), "published %g", c[0].cmp[0].published);

    /* Claim 2: depth 8 (8 and 20 are equally near 14: the shallower) vs 32. */
    T_CHECK(c[1].ncmp == 2 && !strcmp(c[1].cmp[1].what, "preact: depth 8 vs 32"), "claim 2 rows");
    w = &c[1].cmp[1].w;
    T_CHECK(T_NEAR(w->lo, W2_LO, 1e-4) && T_NEAR(w->hi, W2_HI, 1e-4) && T_NEAR(w->df, W2_DF, 1e-4),
            "claim 2b [%.5f, %.5f] df %.5f", w->lo, w->hi, w->df);
    T_CHECK(c[1].cmp[0].w.v == QS_V_HOLDS && c[1].v == QS_V_CONTRA, "claim 2 verdicts");

    /* Claim 3: per-seed drops (float - W2A2 of the same seed) preact-32
     * {90.2-86.0, 90.4-86.5, 90.9-86.3} = {4.2, 3.9, 4.6} vs basic-32
     * {5.0, 5.2, 5.1}: mean 4.23333, squares 0.001111 + 0.111111 +
     * 0.134444 = 0.246667, s^2 / 3 = 0.0411111; basic s^2 / 3 = 0.01 / 3 =
     * 0.0033333; se = sqrt(0.0444444) = 0.210819; df = 0.0444444^2 /
     * (0.0411111^2 / 2 + 0.0033333^2 / 2) = 0.00197531 / 0.000850617 =
     * 2.32221; t = 3.77828; -0.86667 -+ 0.796531 = [-1.66320, -0.07014]:
     * contradicted. depthwise-29 pairs one seed only. */
    w = &c[2].cmp[0].w;
    T_CHECK(T_NEAR(w->df, 2.32221, 1e-4) && T_NEAR(w->lo, -1.66320, 1e-4) &&
                T_NEAR(w->hi, -0.07014, 1e-4),
            "claim 3a [%.5f, %.5f] df %.5f", w->lo, w->hi, w->df);
    T_CHECK(c[2].ncmp == 2 && T_NEAR(c[2].cmp[0].w.diff, -0.866667, 1e-5) &&
                c[2].cmp[0].w.v == QS_V_CONTRA && c[2].cmp[1].w.nb == 1 &&
                c[2].cmp[1].w.v == QS_V_NODATA && c[2].v == QS_V_CONTRA,
            "claim 3: diff %.6f", c[2].cmp[0].w.diff);

    /* Claim 4: the best favoured row basic-8 (88.1667) vs the best other
     * basic-20 (87.0). */
    T_CHECK(c[3].ncmp == 1 && strstr(c[3].cmp[0].what, "basic-8") &&
                strstr(c[3].cmp[0].what, "basic-20") && c[3].v == QS_V_HOLDS,
            "claim 4: %s", c[3].cmp[0].what);
    qs_cells_free(&t);

    /* Claim 5 (Table 4): one CLR seed, not enough data for the claim. */
    T_CHECK(load(&t, 1, "verdict-t4") == QS_OK, "load t4: %s", qs_errmsg());
    n = qs_claims_eval(c, &t);
    T_CHECK(n == 1 && c[0].id == 5 && c[0].ncmp == 1 && c[0].v == QS_V_NODATA &&
                T_NEAR(c[0].cmp[0].w.diff, 0.6, 1e-9),
            "claim 5: %d comparisons, %s", c[0].ncmp, qs_verdict_names[c[0].v]);
    qs_cells_free(&t);
}

/* stdout of one report into buf. */
static int capture(char *buf, size_t cap, const char *sweep, int fmt, int table4)
{
    char path[160];
    snprintf(path, sizeof path, "%s/out.txt", tmpdir);
    fflush(stdout);
    int saved = dup(1);
    FILE *f = fopen(path, "w+");
    if (!f || saved < 0)
        return 1;
    dup2(fileno(f), 1);
    qs_db db;
    int rc = qs_db_open(&db, dbpath, 1);
    if (!rc) {
        qs_report_sel sel = {&db, sweep, NULL, fmt};
        rc = qs_report_table(&sel, table4);
        qs_db_close(&db);
    }
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return rc;
}

static void one_seed_cell(void)
{
    qs_cells t;
    T_CHECK(load(&t, 0, "verdict") == QS_OK, "load");
    const qs_cells_row *r = row(&t, "depthwise", 29);
    T_CHECK(r && r->ours[QS_PAPER_FLOAT].n == 1 && isnan(r->ours[QS_PAPER_FLOAT].std) &&
                r->ours[QS_PAPER_W2A2].n == 2 && T_NEAR(r->ours[QS_PAPER_W2A2].std, 0.212132, 1e-6),
            "depthwise-29 cells");
    qs_cells_free(&t);
    static char out[1 << 16];
    T_CHECK(capture(out, sizeof out, "verdict", QS_FMT_TEXT, 0) == QS_OK, "report");
    const char *line = strstr(out, "\ndepthwise    29");
    T_CHECK(line, "no depthwise-29 row: %.300s", out);
    const char *cell = strstr(line, "88.00");
    T_CHECK(cell && cell[5] == ' ', "one-seed float cell printed with a std: %.120s", line);
    T_CHECK(strstr(line, "87.15±0.21"), "two-seed W2A2 cell without its std: %.160s", line);
    T_CHECK(capture(out, sizeof out, "verdict", QS_FMT_CSV, 0) == QS_OK, "csv report");
    T_CHECK(strstr(out, "\ndepthwise,29,38,8,1.11,0.100,93.64,88.00,-,1,-5.64,"),
            "csv one-seed std is not '-': %.400s", strstr(out, "\ndepthwise,29"));
    T_CHECK(strstr(out, "\n1,within noise,basic: depth 20 vs 8,basic-20 float,basic-8 float,"
                        "1.2333,0.2431,2.2236,2.52,3,2,holds,0.88\n"),
            "csv claim row: %.300s", strstr(out, "\nclaim,"));
}

/* A reduced design: rows are the depths the sweep has (depthwise 11 is no
 * published row), and a (block, depth) with two widths, neither the
 * published one, is left out rather than guessed. */
static void reduced_design_rows(void)
{
    qs_cells t;
    T_CHECK(load(&t, 0, "verdict") == QS_OK, "load");
    const qs_cells_row *r = row(&t, "depthwise", 11);
    T_CHECK(r && r->pwidth == 0 && isnan(r->paper[0]) && r->owidth == 14, "depthwise-11 row");
    r = row(&t, "basic", 20);
    T_CHECK(r && r->pwidth == 31 && r->owidth == 12, "basic-20: published 31, ours 12");
    T_CHECK(t.n == qs_paper_table5_rows + 1 && t.ambiguous == 0, "%d rows", t.n);
    qs_cells_free(&t);
    qs_db db;
    T_CHECK(qs_db_open(&db, dbpath, 0) == QS_OK, "open rw");
    T_CHECK(sqlite3_exec(db.h,
                         "INSERT INTO sweeps(id, name, grid) VALUES (903, 'other', '{}');"
                         "INSERT INTO phases(id, phase, config, model, dataset, arch, block, depth,"
                         " width, params, wbits, abits, seed, threads, epochs, status, test_acc)"
                         " VALUES ('ffffffffffffffffffffffffffffffff', 'float', '{}',"
                         " 'resnet-basic-8-13', 'cifar10', 'resnet', 'basic', 8, 13, 50000, 32,"
                         " 32, 1, 1, 2, 'done', 80.0);"
                         "INSERT INTO sweep_phases VALUES (903, 'ffffffffffffffffffffffffffffffff');",
                         NULL, NULL, NULL) == SQLITE_OK,
            "insert: %s", sqlite3_errmsg(db.h));
    qs_db_close(&db);
    T_CHECK(load(&t, 0, NULL) == QS_OK, "load all");
    r = row(&t, "basic", 8);
    /* basic-8 (20 here, 13 in "other") and basic-20 (12 here, 16 in
     * "verdict-t4"): both left out of the view of every sweep. */
    T_CHECK(t.ambiguous == 2 && r && r->ours[0].n == 0, "basic-8 with widths 20 and 13: %d left out",
            t.ambiguous);
    qs_cells_free(&t);
    T_CHECK(load(&t, 0, "other") == QS_OK, "load other");
    r = row(&t, "basic", 8);
    T_CHECK(t.ambiguous == 0 && r && r->owidth == 13 && r->ours[0].n == 1, "one sweep, one width");
    qs_cells_free(&t);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/qs_verdict.XXXXXX");
    if (!mkdtemp(tmpdir) || make_db()) {
        printf("FAIL test_verdict: cannot build the test database in %s\n", tmpdir);
        return 1;
    }
    T_RUN(t_quantile_tabulated);
    T_RUN(welch_by_hand);
    T_RUN(verdicts_on_known_db);
    T_RUN(one_seed_cell);
    T_RUN(reduced_design_rows);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    T_EXIT();
}
