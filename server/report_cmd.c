/* `qsweep report table5|table4|best|pivot`: our results beside the
 * published ones, the paper's claims evaluated on our numbers, and a plain
 * pivot (model x bit setting) of any sweep.
 *
 * A cell is the mean (and sample std) over seeds of the final-epoch test
 * accuracy of done phases: float = the float phase; W2AF / WFA2 / W2A2 =
 * the retrain phase at those bits without regularizer (Table 4's last
 * column: the clr phase with the Lipschitz regularizer). A phase shared by
 * several sweeps counts once. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "err.h"
#include "paper.h"
#include "parse.h"

enum { FMT_TEXT, FMT_MD, FMT_CSV };

typedef struct {
    double mean, std;
    int n;
} cell;

typedef struct {
    char block[16];
    int depth;
    int pwidth, owidth;     /* published / ours (0 = none) */
    double pparams, oparams; /* millions */
    double paper[QS_PAPER_NSETTINGS];
    cell ours[QS_PAPER_NSETTINGS];
} row;

typedef struct {
    row *r;
    int n, cap;
} rows;

static int block_rank(const char *b)
{
    return !strcmp(b, "basic") ? 0 : !strcmp(b, "preact") ? 1 : !strcmp(b, "depthwise") ? 2 : 3;
}

static int cmp_row(const void *a, const void *b)
{
    const row *x = a, *y = b;
    int d = block_rank(x->block) - block_rank(y->block);
    if (d)
        return d;
    d = strcmp(x->block, y->block);
    return d ? d : x->depth - y->depth;
}

static row *find_or_add(rows *t, const char *block, int depth)
{
    for (int i = 0; i < t->n; i++)
        if (t->r[i].depth == depth && !strcmp(t->r[i].block, block))
            return &t->r[i];
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 32;
        row *nr = realloc(t->r, (size_t)cap * sizeof *nr);
        if (!nr)
            return NULL;
        t->r = nr;
        t->cap = cap;
    }
    row *r = &t->r[t->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->block, sizeof r->block, "%s", block);
    r->depth = depth;
    for (int s = 0; s < QS_PAPER_NSETTINGS; s++)
        r->paper[s] = NAN;
    return r;
}

static cell make_cell(double sum, double sumsq, int n)
{
    cell c = {NAN, NAN, n};
    if (n > 0) {
        c.mean = sum / n;
        c.std = n > 1 ? sqrt(fmax(0, (sumsq - sum * sum / n) / (n - 1))) : 0;
    }
    return c;
}

/* Our cells. setting_sql maps a row of the distinct-phase subquery to a
 * column index (NULL to skip). */
static int load_ours(rows *t, qs_db *db, const char *sweep, const char *setting_sql,
                     const char *where)
{
    char sql[2048];
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof sql,
             "SELECT block, depth, width, params, s, SUM(test_acc), SUM(test_acc * test_acc), "
             "COUNT(*) FROM (SELECT DISTINCT phase_id, COALESCE(block, '') AS block, depth, "
             "width, params, test_acc, %s AS s FROM runs WHERE status = 'done' AND "
             "arch = 'resnet' AND test_acc IS NOT NULL AND (?1 IS NULL OR sweep = ?1) AND %s) "
             "WHERE s IS NOT NULL GROUP BY block, depth, width, s ORDER BY block, depth, width",
             setting_sql, where);
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    int s, rc = QS_OK;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *block = (const char *)sqlite3_column_text(st, 0);
        int depth = sqlite3_column_int(st, 1), width = sqlite3_column_int(st, 2);
        int k = sqlite3_column_int(st, 4);
        row *r = find_or_add(t, block ? block : "", depth);
        if (!r) {
            rc = qs_err(QS_ENOMEM, "out of memory");
            break;
        }
        if (k < 0 || k >= QS_PAPER_NSETTINGS)
            continue;
        /* Several widths at one depth: keep the one with the most runs. */
        if (r->owidth && r->owidth != width && r->ours[k].n >= sqlite3_column_int(st, 7))
            continue;
        r->owidth = width;
        r->oparams = sqlite3_column_double(st, 3) / 1e6;
        r->ours[k] = make_cell(sqlite3_column_double(st, 5), sqlite3_column_double(st, 6),
                               sqlite3_column_int(st, 7));
    }
    if (rc == QS_OK && s != SQLITE_DONE)
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    sqlite3_finalize(st);
    return rc;
}

/* --------------------------------------------------------------- output */

static void fmt_cell(char *buf, size_t n, cell c, int fmt)
{
    if (c.n == 0 || isnan(c.mean))
        snprintf(buf, n, "-");
    else if (fmt == FMT_CSV)
        snprintf(buf, n, "%.2f", c.mean);
    else if (c.n > 1)
        snprintf(buf, n, "%.2f±%.2f", c.mean, c.std);
    else
        snprintf(buf, n, "%.2f", c.mean);
}

static void fmt_num(char *buf, size_t n, double v, const char *f)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, f, v);
}

static void print_table(const rows *t, const char *const *labels, int ncol, int fmt)
{
    char a[64], b[64], c[64], w[32], p[32];
    if (fmt == FMT_CSV) {
        printf("block,depth,paper_width,our_width,paper_params_m,our_params_m");
        for (int s = 0; s < ncol; s++)
            printf(",%s_paper,%s_ours,%s_std,%s_n,%s_diff", labels[s], labels[s], labels[s],
                   labels[s], labels[s]);
        printf("\n");
    } else if (fmt == FMT_MD) {
        printf("| block | depth | width (paper / ours) | params M (paper / ours) |");
        for (int s = 0; s < ncol; s++)
            printf(" %s paper | %s ours | diff |", labels[s], labels[s]);
        printf("\n|---|---|---|---|");
        for (int s = 0; s < ncol; s++)
            printf("---|---|---|");
        printf("\n");
    } else {
        printf("%-9s %5s %9s %11s", "block", "depth", "width p/o", "params p/o");
        for (int s = 0; s < ncol; s++)
            printf(" | %-6s %6s %12s %6s", labels[s], "paper", "ours", "diff");
        printf("\n");
    }
    for (int i = 0; i < t->n; i++) {
        const row *r = &t->r[i];
        char pw[16], ow[16], pp[16], op[16];
        fmt_num(pw, sizeof pw, r->pwidth ? r->pwidth : NAN, "%.0f");
        fmt_num(ow, sizeof ow, r->owidth ? r->owidth : NAN, "%.0f");
        fmt_num(pp, sizeof pp, r->pparams > 0 ? r->pparams : NAN, "%.2f");
        fmt_num(op, sizeof op, r->oparams > 0 ? r->oparams : NAN, "%.3f");
        snprintf(w, sizeof w, "%s/%s", pw, ow);
        snprintf(p, sizeof p, "%s/%s", pp, op);
        if (fmt == FMT_CSV)
            printf("%s,%d,%s,%s,%s,%s", r->block, r->depth, pw, ow, pp, op);
        else if (fmt == FMT_MD)
            printf("| %s | %d | %s / %s | %s / %s |", r->block, r->depth, pw, ow, pp, op);
        else
            printf("%-9s %5d %9s %11s", r->block, r->depth, w, p);
        for (int s = 0; s < ncol; s++) {
            cell o = r->ours[s];
            fmt_num(a, sizeof a, r->paper[s], "%.2f");
            fmt_cell(b, sizeof b, o, fmt);
            fmt_num(c, sizeof c, o.n ? o.mean - r->paper[s] : NAN, "%+.2f");
            if (fmt == FMT_CSV) {
                char sd[32];
                fmt_num(sd, sizeof sd, o.n ? o.std : NAN, "%.2f");
                printf(",%s,%s,%s,%d,%s", a, b, sd, o.n, c);
            } else if (fmt == FMT_MD) {
                printf(" %s | %s | %s |", a, b, c);
            } else {
                printf(" | %-6s %6s %12s %6s", "", a, b, c);
            }
        }
        printf("\n");
    }
}

/* --------------------------------------------------------------- claims */

typedef double (*val_fn)(const row *r, int s);
static double v_ours(const row *r, int s) { return r->ours[s].n ? r->ours[s].mean : NAN; }
static double v_paper(const row *r, int s) { return r->paper[s]; }

enum { HOLDS, FAILS, NODATA };
static const char *verdict_name[] = {"holds", "does not hold", "not enough data"};

/* Rows of one block with a value in setting s, by depth (t is sorted). */
static int block_rows(const rows *t, const char *block, int s, val_fn v, const row **out)
{
    int n = 0;
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->r[i].block, block) && !isnan(v(&t->r[i], s)))
            out[n++] = &t->r[i];
    return n;
}

static const char *const blocks[] = {"basic", "preact", "depthwise"};

/* 1. float: for each block, the best depth is deeper than the shallowest. */
static int claim1(const rows *t, val_fn v, char *why, size_t n)
{
    const row *b[256];
    int tested = 0, ok = 1;
    why[0] = 0;
    for (int k = 0; k < 3; k++) {
        int m = block_rows(t, blocks[k], QS_PAPER_FLOAT, v, b);
        if (m < 2)
            continue;
        int best = 0;
        for (int i = 1; i < m; i++)
            if (v(b[i], QS_PAPER_FLOAT) > v(b[best], QS_PAPER_FLOAT))
                best = i;
        tested++;
        ok &= best > 0;
        snprintf(why + strlen(why), n - strlen(why), "%s%s best at depth %d (shallowest %d)",
                 tested > 1 ? "; " : "", blocks[k], b[best]->depth, b[0]->depth);
    }
    return tested ? (ok ? HOLDS : FAILS) : NODATA;
}

/* 2. W2A2, basic and preact: the deepest row is below the depth-14 row (the
 * row nearest depth 14 among the shallower ones when 14 is absent). */
static int claim2(const rows *t, val_fn v, char *why, size_t n)
{
    const row *b[256];
    int tested = 0, ok = 1;
    why[0] = 0;
    for (int k = 0; k < 2; k++) {
        int m = block_rows(t, blocks[k], QS_PAPER_W2A2, v, b);
        if (m < 2)
            continue;
        int ref = 0;
        for (int i = 0; i < m - 1; i++)
            if (abs(b[i]->depth - 14) < abs(b[ref]->depth - 14))
                ref = i;
        double deep = v(b[m - 1], QS_PAPER_W2A2), mid = v(b[ref], QS_PAPER_W2A2);
        tested++;
        ok &= deep < mid;
        snprintf(why + strlen(why), n - strlen(why), "%s%s depth %d %.2f vs depth %d %.2f",
                 tested > 1 ? "; " : "", blocks[k], b[m - 1]->depth, deep, b[ref]->depth, mid);
    }
    return tested ? (ok ? HOLDS : FAILS) : NODATA;
}

/* 3. The float -> W2A2 drop at the deepest row is largest for preact. */
static int claim3(const rows *t, val_fn v, char *why, size_t n)
{
    double drop[3];
    int have[3] = {0};
    why[0] = 0;
    for (int k = 0; k < 3; k++) {
        const row *b[256];
        int m = block_rows(t, blocks[k], QS_PAPER_W2A2, v, b);
        if (m < 1 || isnan(v(b[m - 1], QS_PAPER_FLOAT)))
            continue;
        have[k] = 1;
        drop[k] = v(b[m - 1], QS_PAPER_FLOAT) - v(b[m - 1], QS_PAPER_W2A2);
        snprintf(why + strlen(why), n - strlen(why), "%s%s-%d drop %.2f", why[0] ? "; " : "",
                 blocks[k], b[m - 1]->depth, drop[k]);
    }
    if (!have[1] || (!have[0] && !have[2]))
        return NODATA;
    for (int k = 0; k < 3; k += 2)
        if (have[k] && drop[k] >= drop[1])
            return FAILS;
    return HOLDS;
}

/* 4. The best W2A2 row is basic at depth <= 14 or depthwise at depth <= 38. */
static int claim4(const rows *t, val_fn v, char *why, size_t n)
{
    const row *best = NULL;
    for (int i = 0; i < t->n; i++) {
        double x = v(&t->r[i], QS_PAPER_W2A2);
        if (!isnan(x) && (!best || x > v(best, QS_PAPER_W2A2)))
            best = &t->r[i];
    }
    if (!best)
        return NODATA;
    snprintf(why, n, "best W2A2: %s-%d at %.2f", best->block, best->depth,
             v(best, QS_PAPER_W2A2));
    int ok = (!strcmp(best->block, "basic") && best->depth <= 14) ||
             (!strcmp(best->block, "depthwise") && best->depth <= 38);
    return ok ? HOLDS : FAILS;
}

static void print_claims(const rows *t, int fmt, int have_ours)
{
    static const char *text[] = {
        "float: for each block, the best depth is deeper than the shallowest",
        "W2A2: for basic and preact, the deepest row is below the depth-14 row "
        "(nearest shallower depth when 14 is absent)",
        "the float -> W2A2 drop at the deepest row is largest for preact",
        "the best W2A2 row is basic at depth <= 14 or depthwise at depth <= 38"};
    int (*fn[])(const rows *, val_fn, char *, size_t) = {claim1, claim2, claim3, claim4};
    printf(fmt == FMT_MD ? "\n| claim | ours | evidence (ours) | paper |\n|---|---|---|---|\n"
                         : "\nclaims (evaluated on our numbers; the paper's own verdict after it):\n");
    for (int i = 0; i < 4; i++) {
        char why[512], pwhy[512];
        int o = have_ours ? fn[i](t, v_ours, why, sizeof why) : NODATA;
        int p = fn[i](t, v_paper, pwhy, sizeof pwhy);
        if (!have_ours || o == NODATA)
            snprintf(why, sizeof why, "-");
        if (fmt == FMT_MD)
            printf("| %d. %s | %s | %s | %s |\n", i + 1, text[i], verdict_name[o], why,
                   verdict_name[p]);
        else
            printf("  %d. %s\n     ours: %s (%s); paper: %s\n", i + 1, text[i], verdict_name[o],
                   why, verdict_name[p]);
    }
}

/* ------------------------------------------------------------- commands */

static const char T5_SETTING[] =
    "CASE WHEN phase = 'float' THEN 0 WHEN phase = 'retrain' AND regularizer = 'none' THEN "
    "CASE WHEN wbits = 2 AND abits = 32 THEN 1 WHEN wbits = 32 AND abits = 2 THEN 2 "
    "WHEN wbits = 2 AND abits = 2 THEN 3 END END";
static const char T4_SETTING[] =
    "CASE WHEN phase = 'float' THEN 0 WHEN wbits = 2 AND abits = 2 AND phase = 'retrain' AND "
    "regularizer = 'none' THEN 1 WHEN wbits = 2 AND abits = 2 AND phase = 'clr' AND "
    "regularizer = 'lipschitz' THEN 2 END";

static int report_table(qs_db *db, const char *sweep, int fmt, int table4)
{
    rows t = {0};
    int rc = QS_OK;
    if (table4) {
        for (int i = 0; i < qs_paper_table4_rows; i++) {
            row *r = find_or_add(&t, qs_paper_table4_block, qs_paper_table4[i].depth);
            if (!r)
                return qs_err(QS_ENOMEM, "out of memory");
            r->pwidth = qs_paper_table4_width;
            for (int s = 0; s < QS_PAPER_T4_NCOLS; s++)
                r->paper[s] = qs_paper_table4[i].acc[s];
        }
    } else {
        for (int i = 0; i < qs_paper_table5_rows; i++) {
            const qs_paper_t5_row *p = &qs_paper_table5[i];
            row *r = find_or_add(&t, p->block, p->depth);
            if (!r)
                return qs_err(QS_ENOMEM, "out of memory");
            r->pwidth = p->width;
            r->pparams = p->params_m;
            for (int s = 0; s < QS_PAPER_NSETTINGS; s++)
                r->paper[s] = p->acc[s];
        }
    }
    if (db)
        rc = load_ours(&t, db, sweep, table4 ? T4_SETTING : T5_SETTING,
                       table4 ? "dataset = 'cifar10' AND block = 'basic'" : "dataset = 'cifar10'");
    if (rc == QS_OK) {
        qsort(t.r, (size_t)t.n, sizeof *t.r, cmp_row);
        static const char *const l5[] = {"float", "W2AF", "WFA2", "W2A2"};
        static const char *const l4[] = {"float", "W2A2", "W2A2+Lip+CLR"};
        if (fmt != FMT_CSV)
            printf("%s%s (%s): published%s\n%s", fmt == FMT_MD ? "### " : "",
                   table4 ? "Table 4, basic ResNets, Lipschitz + CLR" : "Table 5, ~1M parameters",
                   qs_paper_source, db ? " and ours (mean±std over seeds; diff = ours - paper)" : "",
                   fmt == FMT_MD ? "\n" : "");
        print_table(&t, table4 ? l4 : l5, table4 ? 3 : 4, fmt);
        if (fmt != FMT_CSV && !table4)
            print_claims(&t, fmt, db != NULL);
        if (fmt != FMT_CSV && table4) {
            int tested = 0, ok = 1;
            for (int i = 0; i < t.n; i++)
                if (t.r[i].ours[1].n && t.r[i].ours[2].n) {
                    tested++;
                    ok &= t.r[i].ours[2].mean > t.r[i].ours[1].mean;
                }
            printf("\nclaim 5. Lipschitz + CLR raises W2A2 at every depth: %s (%d depth(s) with "
                   "both)\n", verdict_name[!db || !tested ? NODATA : ok ? HOLDS : FAILS], tested);
        }
    }
    free(t.r);
    return rc;
}

static int report_best(qs_db *db, const char *sweep, double budget, const char *bits,
                       double tol, int fmt)
{
    int wb = 32, ab = 32;
    if (strcmp(bits, "float") != 0 &&
        (sscanf(bits, "w%da%d", &wb, &ab) != 2 || wb < 1 || ab < 1)) {
        if (sscanf(bits, "w%daf", &wb) == 1)
            ab = 32;
        else if (sscanf(bits, "wfa%d", &ab) == 1)
            wb = 32;
        else
            return qs_err(QS_EINVAL, "--bits \"%s\": expected float, wXaY, wXaf or wfaY (e.g. w2a2)", bits);
    }
    sqlite3_stmt *st;
    const char *sql =
        "SELECT block, depth, width, params, phase, regularizer, AVG(test_acc), "
        "SUM(test_acc * test_acc), SUM(test_acc), COUNT(*) FROM (SELECT DISTINCT phase_id, "
        "COALESCE(block, arch) AS block, depth, width, params, phase, regularizer, test_acc "
        "FROM runs WHERE status = 'done' AND test_acc IS NOT NULL AND wbits = ?2 AND abits = ?3 "
        "AND params BETWEEN ?4 AND ?5 AND (?1 IS NULL OR sweep = ?1)) "
        "GROUP BY block, depth, width, phase, regularizer ORDER BY block, AVG(test_acc) DESC";
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, wb);
    sqlite3_bind_int(st, 3, ab);
    sqlite3_bind_double(st, 4, budget * (1 - tol));
    sqlite3_bind_double(st, 5, budget * (1 + tol));
    char last[32] = "";
    int found = 0;
    if (fmt == FMT_CSV)
        printf("block,depth,width,params,phase,regularizer,test_acc,std,n\n");
    else
        printf("best design per block at %s, %.3gM parameters +-%.0f%%:\n", bits, budget / 1e6,
               100 * tol);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *block = (const char *)sqlite3_column_text(st, 0);
        if (!strcmp(block, last))
            continue; /* rows come best first within a block */
        snprintf(last, sizeof last, "%s", block);
        found++;
        cell c = make_cell(sqlite3_column_double(st, 8), sqlite3_column_double(st, 7),
                           sqlite3_column_int(st, 9));
        if (fmt == FMT_CSV)
            printf("%s,%d,%d,%lld,%s,%s,%.2f,%.2f,%d\n", block, sqlite3_column_int(st, 1),
                   sqlite3_column_int(st, 2), sqlite3_column_int64(st, 3),
                   sqlite3_column_text(st, 4), sqlite3_column_text(st, 5), c.mean, c.std, c.n);
        else
            printf("  %-9s depth %3d width %3d (%lld params), %s%s: %.2f%% ± %.2f over %d seed(s)\n",
                   block, sqlite3_column_int(st, 1), sqlite3_column_int(st, 2),
                   sqlite3_column_int64(st, 3), sqlite3_column_text(st, 4),
                   strcmp((const char *)sqlite3_column_text(st, 5), "none")
                       ? " + lipschitz" : "", c.mean, c.std, c.n);
    }
    sqlite3_finalize(st);
    if (!found && fmt != FMT_CSV)
        printf("  (no done phase at these bits within the budget; try --tolerance)\n");
    return QS_OK;
}

/* ---------------------------------------------------------------- pivot */

#define PIVOT_MAXCOL 24

/* Column label of a phase: float, W2AF, WFA2, W2A2 (F = 32 bits), with
 * "+lip" for the Lipschitz regularizer and "+clr" for the clr phase. */
static void pivot_label(char *buf, size_t n, const char *phase, int wb, int ab,
                        const char *reg)
{
    char w[12], a[12];
    snprintf(w, sizeof w, wb >= 32 ? "F" : "%d", wb % 100);
    snprintf(a, sizeof a, ab >= 32 ? "F" : "%d", ab % 100);
    if (wb >= 32 && ab >= 32)
        snprintf(buf, n, "float%s%s", strcmp(reg, "none") ? "+lip" : "",
                 strcmp(phase, "clr") ? "" : "+clr");
    else
        snprintf(buf, n, "W%sA%s%s%s", w, a, strcmp(reg, "none") ? "+lip" : "",
                 strcmp(phase, "clr") ? "" : "+clr");
}

/* Rows: models (their order in the database: arch, width, depth); columns:
 * the bit settings present, float first. Mean ± std over seeds of the
 * final test accuracy of done phases. */
static int report_pivot(qs_db *db, const char *sweep, int fmt)
{
    const char *sql =
        "SELECT model, phase, wbits, abits, regularizer, SUM(test_acc), "
        "SUM(test_acc * test_acc), COUNT(*) FROM (SELECT DISTINCT phase_id, arch, width, "
        "depth, block, residual, model, phase, wbits, abits, regularizer, test_acc FROM runs WHERE "
        "status = 'done' AND test_acc IS NOT NULL AND (?1 IS NULL OR sweep = ?1)) "
        "GROUP BY model, phase, wbits, abits, regularizer "
        "ORDER BY MIN(arch), MIN(COALESCE(block, '')), MIN(residual), MIN(depth), "
        "MIN(width), model, wbits = 32 AND abits = 32 DESC, abits DESC, wbits DESC, "
        "regularizer, CASE phase WHEN 'float' THEN 0 WHEN 'retrain' THEN 1 ELSE 2 END";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    if (sweep)
        sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    char cols[PIVOT_MAXCOL][40];
    int ncol = 0, nrow = 0, cap = 0, rc = QS_OK, s;
    struct prow {
        char model[64];
        cell c[PIVOT_MAXCOL];
    } *r = NULL;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *model = (const char *)sqlite3_column_text(st, 0);
        char lab[40];
        pivot_label(lab, sizeof lab, (const char *)sqlite3_column_text(st, 1),
                    sqlite3_column_int(st, 2), sqlite3_column_int(st, 3),
                    (const char *)sqlite3_column_text(st, 4));
        int k = 0;
        while (k < ncol && strcmp(cols[k], lab))
            k++;
        if (k == ncol) {
            if (ncol == PIVOT_MAXCOL)
                continue; /* said below */
            snprintf(cols[ncol++], sizeof cols[0], "%s", lab);
        }
        if (!nrow || strcmp(r[nrow - 1].model, model)) {
            if (nrow == cap) {
                cap = cap ? 2 * cap : 16;
                struct prow *g = realloc(r, sizeof *r * cap);
                if (!g) {
                    rc = qs_err(QS_ENOMEM, "out of memory");
                    break;
                }
                r = g;
            }
            memset(&r[nrow], 0, sizeof *r);
            snprintf(r[nrow++].model, sizeof r->model, "%s", model);
        }
        r[nrow - 1].c[k] = make_cell(sqlite3_column_double(st, 5),
                                     sqlite3_column_double(st, 6), sqlite3_column_int(st, 7));
    }
    if (rc == QS_OK && s != SQLITE_DONE)
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    sqlite3_finalize(st);
    if (rc != QS_OK) {
        free(r);
        return rc;
    }
    const char *sep = fmt == FMT_CSV ? "," : fmt == FMT_MD ? " | " : "  ";
    if (fmt == FMT_CSV) {
        printf("model");
        for (int k = 0; k < ncol; k++)
            printf(",%s,%s_std,%s_n", cols[k], cols[k], cols[k]);
        printf("\n");
    } else if (nrow) {
        printf(fmt == FMT_MD ? "| %s" : "%-22s", "model");
        for (int k = 0; k < ncol; k++)
            printf(fmt == FMT_MD ? "%s%s" : "%s%-14s", sep, cols[k]);
        printf(fmt == FMT_MD ? " |\n|---" : "\n");
        for (int k = 0; fmt == FMT_MD && k < ncol; k++)
            printf("|---:");
        if (fmt == FMT_MD)
            printf("|\n");
    }
    for (int i = 0; i < nrow; i++) {
        printf(fmt == FMT_MD ? "| %s" : fmt == FMT_CSV ? "%s" : "%-22s", r[i].model);
        for (int k = 0; k < ncol; k++) {
            cell c = r[i].c[k];
            char b[64];
            if (fmt == FMT_CSV) {
                if (c.n)
                    printf(",%.2f,%.2f,%d", c.mean, c.std, c.n);
                else
                    printf(",,,0");
                continue;
            }
            fmt_cell(b, sizeof b, c, fmt);
            if (c.n)
                snprintf(b + strlen(b), sizeof b - strlen(b), " (%d)", c.n);
            printf(fmt == FMT_MD ? "%s%s" : "%s%-14s", sep, b);
        }
        printf(fmt == FMT_MD ? " |\n" : "\n");
    }
    if (fmt != FMT_CSV) {
        if (!nrow)
            printf("(no done phase%s%s)\n", sweep ? " in sweep " : "", sweep ? sweep : "");
        else
            printf("test accuracy %%, mean±std over seeds (number of seeds)%s\n",
                   ncol == PIVOT_MAXCOL ? "; more bit settings than columns, some left out" : "");
    }
    free(r);
    return QS_OK;
}

static void usage(void)
{
    fprintf(stderr, "usage: qsweep report table5|table4 [--db results.db] [--sweep NAME] "
                    "[--format text|markdown|csv]\n"
                    "       qsweep report best --budget 1e6 --bits w2a2 [--db results.db] "
                    "[--sweep NAME] [--tolerance 0.25]\n"
                    "       qsweep report pivot [--db results.db] [--sweep NAME] "
                    "[--format text|markdown|csv]\n"
                    "table5/table4 without --db print the published table alone.\n");
}

int qs_cmd_report(int argc, char **argv)
{
    const char *kind = argc > 1 ? argv[1] : NULL, *dbpath = NULL, *sweep = NULL,
               *bits = "w2a2";
    double budget = 1e6, tol = 0.25;
    int fmt = FMT_TEXT, rc;
    if (!kind || (strcmp(kind, "table5") && strcmp(kind, "table4") && strcmp(kind, "best") &&
                  strcmp(kind, "pivot"))) {
        usage();
        return kind && !strcmp(kind, "--help") ? 0 : 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "qsweep report: %s needs a value\n", f);
            return 2;
        }
        i++;
        if (!strcmp(f, "--db"))
            dbpath = v;
        else if (!strcmp(f, "--sweep"))
            sweep = v;
        else if (!strcmp(f, "--bits"))
            bits = v;
        else if (!strcmp(f, "--budget") || !strcmp(f, "--tolerance")) {
            if (qs_parse_num(f[2] == 'b' ? &budget : &tol, f, v, f[2] == 'b' ? 1 : 0,
                             f[2] == 'b' ? 1e12 : 1)) {
                fprintf(stderr, "qsweep report: %s\n", qs_errmsg());
                return 2;
            }
        }
        else if (!strcmp(f, "--format")) {
            if (!strcmp(v, "text"))
                fmt = FMT_TEXT;
            else if (!strcmp(v, "markdown"))
                fmt = FMT_MD;
            else if (!strcmp(v, "csv"))
                fmt = FMT_CSV;
            else {
                fprintf(stderr, "qsweep report: --format \"%s\" (allowed: text, markdown, csv)\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "qsweep report: unknown option \"%s\"\n", f);
            usage();
            return 2;
        }
    }
    if ((!strcmp(kind, "best") || !strcmp(kind, "pivot")) && !dbpath)
        dbpath = "results.db";
    if (!(budget > 0) || !(tol >= 0)) {
        fprintf(stderr, "qsweep report: --budget must be > 0 and --tolerance >= 0\n");
        return 2;
    }
    qs_db db;
    if (dbpath && (rc = qs_db_open(&db, dbpath, 1)) != QS_OK) {
        fprintf(stderr, "qsweep report: %s\n", qs_errmsg());
        return 2;
    }
    if (!strcmp(kind, "pivot"))
        rc = report_pivot(&db, sweep, fmt);
    else if (!strcmp(kind, "best"))
        rc = report_best(&db, sweep, budget, bits, tol, fmt);
    else
        rc = report_table(dbpath ? &db : NULL, sweep, fmt, !strcmp(kind, "table4"));
    if (dbpath)
        qs_db_close(&db);
    if (rc) {
        fprintf(stderr, "qsweep report: %s\n", qs_errmsg());
        return qs_exit_status(rc);
    }
    return 0;
}
