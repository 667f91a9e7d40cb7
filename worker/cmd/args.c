/* The shared option parser (args.h). */
#include <stdarg.h>
#include <string.h>

#include "args.h"
#include "blas_fix.h"
#include "gemm.h"
#include "simd.h"

#ifndef QS_VERSION
#define QS_VERSION "dev"
#endif

/* Key: value lines; `kernels_supported` lists every path this CPU runs,
 * widest first (the test runner repeats the numerical tests on each). */
int qs_print_version(FILE *f)
{
    fprintf(f, "qsweep: %s\nblas: %s\nblas_core: %s\nkernels: %s\nwinograd: %s\nkernels_supported:",
            QS_VERSION, qs_blas_name(), qs_blas_core(), qs_kpath_name(qs_simd_path()),
            qs_simd_winograd_env() ? "on" : "off");
    for (int p = qs_simd_best(); p >= 0; p--)
        fprintf(f, " %s", qs_kpath_name((qs_kpath)p));
    fprintf(f, "\n");
    return 0;
}

void qs_args_usage(const qs_cmd_spec *s, FILE *f)
{
    if (s->synopsis) /* NULL: the help function prints its own */
        fprintf(f, "usage: qsweep %s\n", s->synopsis);
    if (s->help) {
        s->help(f);
    } else {
        for (int i = 0; s->opts && s->opts[i].name; i++) {
            char head[64];
            snprintf(head, sizeof head, "%s%s%s", s->opts[i].name, s->opts[i].arg ? " " : "",
                     s->opts[i].arg ? s->opts[i].arg : "");
            fprintf(f, "  %-22s %s\n", head, s->opts[i].help);
        }
    }
    fprintf(f, "  %-22s %s\n  %-22s %s\n", "--help, -h", "this text",
            "--version", "version, BLAS core and kernel paths");
    if (s->about)
        fprintf(f, "%s", s->about);
}

int qs_args_fail(const qs_cmd_spec *s, const char *fmt, ...)
{
    va_list ap;
    /* The sweep has no command word: its messages start "qsweep: ". */
    fprintf(stderr, "qsweep%s%s: ", s->cmd[0] ? " " : "", s->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (qsweep %s --help lists the options)\n",
            s->cmd[0] ? s->cmd : "GRID.json");
    return 2;
}

static int is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h");
}

int qs_args_meta(const qs_cmd_spec *s, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            qs_args_usage(s, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version"))
            return qs_print_version(stdout);
    }
    return -1;
}

/* Index of the option spelled by a (up to len bytes), -1 if none. */
static int find(const qs_cmd_spec *s, const char *a, size_t len)
{
    for (int i = 0; s->opts && s->opts[i].name; i++)
        if (strlen(s->opts[i].name) == len && !strncmp(s->opts[i].name, a, len))
            return i;
    return -1;
}

int qs_args_parse(qs_args *out, const qs_cmd_spec *s, int argc, char **argv)
{
    memset(out, 0, sizeof *out);
    out->spec = s;
    int nopt = 0;
    while (s->opts && s->opts[nopt].name)
        nopt++;
    if (nopt > QS_ARGS_MAXOPT) /* a table the values cannot hold: a programming error */
        return qs_args_fail(s, "internal error: %d options, at most %d", nopt, QS_ARGS_MAXOPT);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            qs_args_usage(s, stdout);
            return 0;
        }
        if (!strcmp(a, "--version"))
            return qs_print_version(stdout);
        if (!strcmp(a, "--") && s->rest) {
            out->rest = argv + i + 1;
            out->nrest = argc - i - 1;
            return -1;
        }
        if (a[0] != '-' || !a[1]) {
            if (out->npos == s->max_pos || out->npos == QS_ARGS_MAXPOS)
                return qs_args_fail(s, "unexpected argument \"%s\"", a);
            out->pos[out->npos++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        int k = find(s, a, eq ? (size_t)(eq - a) : strlen(a));
        if (k < 0)
            return qs_args_fail(s, "unknown option \"%.*s\"", eq ? (int)(eq - a) : (int)strlen(a),
                                a);
        const qs_opt *o = &s->opts[k];
        if (!o->arg) {
            if (eq)
                return qs_args_fail(s, "%s takes no value", o->name);
            out->val[k] = "";
            continue;
        }
        const char *v = eq ? eq + 1 : i + 1 < argc ? argv[i + 1] : NULL;
        /* "--db --sweep x" is a forgotten value, not a file named --sweep. */
        if (!v || (!eq && v[0] == '-' && v[1] == '-' && find(s, v, strcspn(v, "=")) >= 0) ||
            (!eq && (is_help(v) || !strcmp(v, "--version"))))
            return qs_args_fail(s, "%s needs a value (%s)", o->name, o->arg);
        if (!eq)
            i++;
        out->val[k] = v;
    }
    return -1;
}

const char *qs_arg(const qs_args *a, const char *name)
{
    int k = find(a->spec, name, strlen(name));
    return k >= 0 ? a->val[k] : NULL;
}

int qs_arg_given(const qs_args *a, const char *name)
{
    return qs_arg(a, name) != NULL;
}
