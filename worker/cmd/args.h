/* The one option parser of every qsweep command. A command declares its
 * options once (name, value placeholder, help line); the parser, the
 * `--help` text and the error messages all come from that table, so a
 * command's help cannot leave an option out. `--help`/`-h` and `--version`
 * are accepted by every command. Lives in worker/cmd because the worker's
 * commands use it and the server's commands may include worker headers,
 * never the reverse. */
#ifndef QS_ARGS_H
#define QS_ARGS_H

#include <stdio.h>

#include "err.h"

#define QS_ARGS_MAXOPT 32
#define QS_ARGS_MAXPOS 4

typedef struct {
    const char *name; /* "--db"; NULL ends the table */
    const char *arg;  /* value placeholder ("FILE"); NULL: a switch */
    const char *help; /* one line: what it does, its default */
} qs_opt;

typedef struct {
    const char *cmd;      /* "report": messages start "qsweep report: "; "" for the sweep */
    const char *synopsis; /* usage line(s) after "usage: qsweep "; NULL: help prints it */
    const qs_opt *opts;   /* may be NULL: no options of its own */
    const char *about;    /* text after the option list; may be NULL */
    int max_pos;          /* positional arguments allowed */
    int rest;             /* 1: "--" ends the options, the words after it are kept */
    /* Commands whose options come from elsewhere (the job spec's train
     * flags) print their own list; NULL: the table above is printed. */
    void (*help)(FILE *f);
} qs_cmd_spec;

typedef struct {
    const qs_cmd_spec *spec;
    const char *val[QS_ARGS_MAXOPT]; /* by table index: the value, "" for a
                                      * switch given, NULL when absent */
    const char *pos[QS_ARGS_MAXPOS];
    int npos;
    char **rest; /* after "--" (spec->rest) */
    int nrest;
} qs_args;

/* Parses argv[1..] (argv[0] is the command word). "--name VALUE" and
 * "--name=VALUE" alike; an option given twice keeps the last. Returns -1
 * when the command should run; otherwise the exit status to return at
 * once: 0 after printing --help or --version, 2 after a usage error (the
 * message names the option and points at --help). */
int qs_args_parse(qs_args *out, const qs_cmd_spec *spec, int argc, char **argv);

/* The value of option `name` (which must be in the table), NULL if absent. */
const char *qs_arg(const qs_args *a, const char *name);
int qs_arg_given(const qs_args *a, const char *name);

/* For commands whose options another parser reads (train, bench, info:
 * the job spec's flags): only --help/-h and --version, anywhere in argv.
 * Returns -1 (neither given) or 0 (printed). */
int qs_args_meta(const qs_cmd_spec *spec, int argc, char **argv);

/* "usage: qsweep ..." and the option list. */
void qs_args_usage(const qs_cmd_spec *spec, FILE *f);
/* A usage error: "qsweep CMD: MESSAGE" and a pointer to --help; returns 2. */
int qs_args_fail(const qs_cmd_spec *spec, const char *fmt, ...)
    QS_PRINTF(2, 3);

/* Version, BLAS core and kernel paths: `qsweep version` and every --version. */
int qs_print_version(FILE *f);

#endif
