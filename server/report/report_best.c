/* `qsweep report best`: the best design per (dataset, block) at one bit
 * setting and a parameter budget. Designs of different datasets are never
 * ranked against each other: each dataset has its own ranking (--dataset
 * shows one). */
#include <stdio.h>
#include <string.h>

#include "bits.h"
#include "err.h"
#include "report.h"

/* quant: the quantizer whose phases compete; float phases (quantizer
 * "none") belong to every quantizer. */
int qs_report_best(const qs_report_sel *sel, double budget, double tol, int wb, int ab,
                   const char *quant)
{
    sqlite3_stmt *st;
    qs_db *db = sel->db;
    const char *sql =
        "SELECT dataset, block, depth, width, params, phase, regularizer, "
        "SUM(test_acc * test_acc), SUM(test_acc), COUNT(*) FROM (SELECT DISTINCT phase_id, "
        "dataset, COALESCE(block, arch) AS block, depth, width, params, phase, regularizer, "
        "test_acc FROM runs WHERE status = 'done' AND test_acc IS NOT NULL AND wbits = ?2 "
        "AND abits = ?3 AND params BETWEEN ?4 AND ?5 AND (?1 IS NULL OR sweep = ?1) "
        "AND (?6 IS NULL OR dataset = ?6) AND quantizer IN ('none', ?7)) "
        "GROUP BY dataset, block, depth, width, phase, regularizer "
        "ORDER BY dataset, block, AVG(test_acc) DESC";
    char bits[16], last[64] = "", lastds[64] = "";
    int found = 0, s, rc = QS_OK, fmt = sel->fmt;
    qs_bits_label(bits, sizeof bits, wb, ab);
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    if (sel->sweep)
        sqlite3_bind_text(st, 1, sel->sweep, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, wb);
    sqlite3_bind_int(st, 3, ab);
    sqlite3_bind_double(st, 4, budget * (1 - tol));
    sqlite3_bind_double(st, 5, budget * (1 + tol));
    if (sel->dataset)
        sqlite3_bind_text(st, 6, sel->dataset, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, quant, -1, SQLITE_STATIC);
    if (fmt == QS_FMT_CSV)
        printf("dataset,block,depth,width,params,phase,regularizer,test_acc,std,n\n");
    else
        printf("best design per dataset and block at %s (%s), %.3gM parameters +-%.0f%%:\n",
               bits, quant, budget / 1e6, 100 * tol);
    if (fmt == QS_FMT_MD)
        printf("\n| dataset | block | depth | width | params | phase | test acc %% | seeds |\n"
               "|---|---|---:|---:|---:|---|---:|---:|\n");
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ds = (const char *)sqlite3_column_text(st, 0);
        const char *block = (const char *)sqlite3_column_text(st, 1);
        const char *phase = (const char *)sqlite3_column_text(st, 5);
        const char *reg = (const char *)sqlite3_column_text(st, 6);
        ds = ds ? ds : "?";
        if (!strcmp(block, last) && !strcmp(ds, lastds))
            continue; /* rows come best first within a (dataset, block) */
        snprintf(last, sizeof last, "%s", block);
        found++;
        qs_rstat c = qs_rstat_sums(sqlite3_column_double(st, 8), sqlite3_column_double(st, 7),
                                   sqlite3_column_int(st, 9));
        char acc[48], sd[32];
        qs_fmt_stat(acc, sizeof acc, c.mean, c.std, c.n, fmt);
        qs_fmt_std_csv(sd, sizeof sd, c.std, c.n);
        int depth = sqlite3_column_int(st, 2), width = sqlite3_column_int(st, 3);
        long long params = sqlite3_column_int64(st, 4);
        const char *lip = strcmp(reg, "none") ? " + lipschitz" : "";
        if (fmt == QS_FMT_CSV) {
            printf("%s,%s,%d,%d,%lld,%s,%s,%.2f,%s,%d\n", ds, block, depth, width, params, phase,
                   reg, c.mean, sd, c.n);
        } else if (fmt == QS_FMT_MD) {
            printf("| %s | %s | %d | %d | %lld | %s%s | %s | %d |\n", ds, block, depth, width,
                   params, phase, lip, acc, c.n);
        } else {
            if (strcmp(ds, lastds))
                printf(" dataset %s:\n", ds);
            printf("  %-9s depth %3d width %3d (%lld params), %s%s: %s%% over %d seed(s)\n",
                   block, depth, width, params, phase, lip, acc, c.n);
        }
        snprintf(lastds, sizeof lastds, "%s", ds);
    }
    if (s != SQLITE_DONE)
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    sqlite3_finalize(st);
    if (rc == QS_OK && !found && fmt != QS_FMT_CSV) {
        char ds[512];
        qs_report_datasets(ds, sizeof ds, sel);
        printf("  (no done phase at %s within the budget%s%s; try --tolerance or --budget%s%s)\n",
               bits, sel->dataset ? " on dataset " : "", sel->dataset ? sel->dataset : "",
               ds[0] ? "; " : "", ds);
    }
    return rc;
}
