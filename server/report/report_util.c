/* The pieces every report shares (report.h): cell statistics and their
 * formatting, the check of --sweep, the datasets of an empty selection. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "report.h"
#include "stats.h"

qs_rstat qs_rstat_sums(double sum, double sumsq, int n)
{
    qs_rstat c = {NAN, NAN, n};
    qs_mean_std_sums(&c.mean, &c.std, sum, sumsq, n);
    return c;
}

void qs_fmt_stat(char *buf, size_t cap, double mean, double std, int n, int fmt)
{
    if (n == 0 || isnan(mean))
        snprintf(buf, cap, "-");
    else if (n < 2 || fmt == QS_FMT_CSV || isnan(std))
        snprintf(buf, cap, "%.2f", mean);
    else
        snprintf(buf, cap, "%.2f±%.2f", mean, std);
}

void qs_fmt_std_csv(char *buf, size_t cap, double std, int n)
{
    if (n < 2 || isnan(std))
        snprintf(buf, cap, "%s", "");
    else
        snprintf(buf, cap, "%.2f", std);
}

/* Up to this many names in a message; the rest are counted. */
#define NAMES_SHOWN 8

int qs_report_check_sweep(const qs_report_sel *sel)
{
    sqlite3_stmt *st;
    char names[512] = "";
    int n = 0, found = 0, s;
    if (!sel->db || !sel->sweep)
        return QS_OK;
    if (sqlite3_prepare_v2(sel->db->h, "SELECT name FROM sweeps ORDER BY id", -1, &st, NULL) !=
        SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", sel->db->path, sqlite3_errmsg(sel->db->h));
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        found |= !strcmp(name, sel->sweep);
        if (n++ < NAMES_SHOWN)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     n > 1 ? ", " : "", name);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return qs_err(QS_EIO, "%s: %s", sel->db->path, sqlite3_errmsg(sel->db->h));
    if (found)
        return QS_OK;
    if (n > NAMES_SHOWN)
        snprintf(names + strlen(names), sizeof names - strlen(names), " and %d more",
                 n - NAMES_SHOWN);
    return qs_err(QS_EINVAL, "--sweep %s: %s has no sweep of that name (%s%s)", sel->sweep,
                  sel->db->path, n ? "sweeps there: " : "it has no sweeps", names);
}

void qs_report_datasets(char *buf, size_t cap, const qs_report_sel *sel)
{
    sqlite3_stmt *st;
    buf[0] = 0;
    if (sqlite3_prepare_v2(sel->db->h,
                           "SELECT dataset, COUNT(DISTINCT phase_id) FROM runs WHERE status = "
                           "'done' AND (?1 IS NULL OR sweep = ?1) GROUP BY dataset ORDER BY 2 "
                           "DESC, 1", -1, &st, NULL) != SQLITE_OK)
        return;
    if (sel->sweep)
        sqlite3_bind_text(st, 1, sel->sweep, -1, SQLITE_STATIC);
    for (int k = 0; sqlite3_step(st) == SQLITE_ROW; k++) {
        const char *d = (const char *)sqlite3_column_text(st, 0);
        size_t l = strlen(buf);
        snprintf(buf + l, cap - l, "%s%s (%d)", k ? ", " : "done phases here by dataset: ",
                 d ? d : "?", sqlite3_column_int(st, 1));
    }
    sqlite3_finalize(st);
}
