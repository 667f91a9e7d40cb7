/* `qsweep report KIND`: options and dispatch. The reports themselves are
 * in server/report: Table 5 / Table 4 and the claims (report_tables.c),
 * best (report_best.c), pivot (report_pivot.c), pareto (pareto.c). */
#include <stdio.h>
#include <string.h>

#include "bits.h"
#include "cli.h"
#include "db.h"
#include "err.h"
#include "lsq_model.h"
#include "parse.h"
#include "report.h"

static const qs_opt report_opts[] = {
    {"--db", "FILE", "results database, read only (default results.db; table5/table4 "
                     "without it print the published table alone)"},
    {"--sweep", "NAME", "only this sweep's phases (an error if there is no such sweep)"},
    {"--dataset", "D", "only this dataset (table5/table4: default cifar10, the paper's; "
                       "best/pivot/pareto: each dataset apart)"},
    {"--format", "F", "text, markdown or csv (default text)"},
    {"--bits", "B", "best: the bit setting, as the tables print it (float, W2A2, W2AF, "
                    "WFA2; default W2A2)"},
    {"--budget", "N", "best: parameter budget (default 1e6)"},
    {"--tolerance", "T", "best: relative width of the budget window, 0..1 (default 0.25)"},
    {"--x", "AXIS", "pareto: bits (model size in bits, default) or bops"},
    {"--quantizer", "Q", "best: whose phases compete, hwang-pact (default, the paper's) or lsq+ "
                         "(float phases belong to both)"},
    {NULL, NULL, NULL}};

static const qs_cmd_spec report_spec = {
    "report", "report table5|table4|table1|best|pivot|pareto [options]", report_opts,
    "  table5, table4  our cells beside the published table, then the paper's claims\n"
    "  table1          ImageNet ResNets: float, W2A2 and the drop (95 % Welch interval)\n"
    "                  beside the published rows (--dataset default imagenet)\n"
    "  best            the best design per dataset and block at --bits and --budget\n"
    "  pivot           models x bit settings of any sweep, mean±std (seeds)\n"
    "  pareto          test accuracy against model size, the frontier marked\n"
    "One seed has no spread: its cell shows the mean alone (an empty std in CSV).\n"
    "docs/cli.md describes each report.\n",
    1, 0, NULL};

static const char *const kinds[] = {"table5", "table4", "best", "pivot", "pareto", "table1",
                                    NULL};

static int parse_format(int *fmt, const char *v)
{
    static const char *const names[] = {"text", "markdown", "csv"};
    static const int ids[] = {QS_FMT_TEXT, QS_FMT_MD, QS_FMT_CSV};
    for (int i = 0; i < 3; i++)
        if (!strcmp(v, names[i])) {
            *fmt = ids[i];
            return QS_OK;
        }
    return qs_err(QS_EINVAL, "--format \"%s\" (allowed: text, markdown, csv)", v);
}

int qs_cmd_report(int argc, char **argv)
{
    qs_args a;
    qs_db db;
    qs_report_sel sel = {NULL, NULL, NULL, QS_FMT_TEXT};
    double budget = 1e6, tol = 0.25;
    int wb = 2, ab = 2, bops = 0, rc, k = 0;
    if ((rc = qs_args_parse(&a, &report_spec, argc, argv)) >= 0)
        return rc;
    if (a.npos == 0)
        return qs_args_fail(&report_spec, "which report? (allowed: table5, table4, table1, best, "
                            "pivot, pareto)");
    const char *kind = a.pos[0], *v;
    while (kinds[k] && strcmp(kinds[k], kind))
        k++;
    if (!kinds[k])
        return qs_args_fail(&report_spec, "unknown report \"%s\" (allowed: table5, table4, table1, "
                            "best, pivot, pareto)", kind);
    int table = !strcmp(kind, "table5") || !strcmp(kind, "table4") || !strcmp(kind, "table1");
    sel.sweep = qs_arg(&a, "--sweep");
    sel.dataset = qs_arg(&a, "--dataset");
    if (((v = qs_arg(&a, "--format")) && parse_format(&sel.fmt, v)) ||
        ((v = qs_arg(&a, "--bits")) && qs_bits_parse(&wb, &ab, "--bits", v)) ||
        ((v = qs_arg(&a, "--budget")) && qs_parse_num(&budget, "--budget", v, 1, 1e12)) ||
        ((v = qs_arg(&a, "--tolerance")) && qs_parse_num(&tol, "--tolerance", v, 0, 1)))
        return qs_args_fail(&report_spec, "%s", qs_errmsg());
    if ((v = qs_arg(&a, "--x"))) {
        if (strcmp(v, "bits") && strcmp(v, "bops"))
            return qs_args_fail(&report_spec, "--x \"%s\" (allowed: bits, bops)", v);
        bops = !strcmp(v, "bops");
    }
    const char *quant = "hwang-pact";
    if ((v = qs_arg(&a, "--quantizer"))) {
        qs_quantizer q;
        if (qs_quantizer_parse(&q, v))
            return qs_args_fail(&report_spec, "--quantizer: %s", qs_errmsg());
        quant = qs_quantizer_name(q);
    }
    /* An option that the report asked for ignores is a mistake to say. */
    static const struct { const char *opt, *kind; } only[] = {
        {"--bits", "best"}, {"--budget", "best"}, {"--tolerance", "best"}, {"--x", "pareto"},
        {"--quantizer", "best"}};
    for (size_t i = 0; i < sizeof only / sizeof only[0]; i++)
        if (qs_arg_given(&a, only[i].opt) && strcmp(kind, only[i].kind))
            return qs_args_fail(&report_spec, "%s is an option of report %s, not of %s",
                                only[i].opt, only[i].kind, kind);
    const char *dbpath = qs_arg(&a, "--db");
    if (!dbpath && !table)
        dbpath = "results.db";
    if (!dbpath && sel.sweep)
        return qs_args_fail(&report_spec, "--sweep needs --db (the published table has no sweeps)");
    if (dbpath) {
        if ((rc = qs_db_open(&db, dbpath, 1)) != QS_OK) {
            fprintf(stderr, "qsweep report: %s\n", qs_errmsg());
            return 2;
        }
        sel.db = &db;
    }
    if ((rc = qs_report_check_sweep(&sel)) == QS_OK) {
        if (!strcmp(kind, "table1"))
            rc = qs_report_table1(&sel);
        else if (table)
            rc = qs_report_table(&sel, !strcmp(kind, "table4"));
        else if (!strcmp(kind, "best"))
            rc = qs_report_best(&sel, budget, tol, wb, ab, quant);
        else if (!strcmp(kind, "pivot"))
            rc = qs_report_pivot(&sel);
        else
            rc = qs_report_pareto(&sel, bops);
    }
    if (sel.db)
        qs_db_close(&db);
    if (rc) {
        fprintf(stderr, "qsweep report: %s\n", qs_errmsg());
        return qs_exit_status(rc);
    }
    return 0;
}
