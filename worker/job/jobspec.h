/* The job spec (jobspec.def): the protocol settings of a phase, from one
 * table, for the grid validator and job JSON writer (server/) and the
 * worker's flag and job JSON reader (opts.c). */
#ifndef QS_JOBSPEC_H
#define QS_JOBSPEC_H

#include <stddef.h>

#include "bitprune.h"
#include "optim.h"
#include "train.h"

/* PHASES: the grid protocol objects that accept a setting. */
#define QS_JS_F (1u << QS_PHASE_FLOAT)
#define QS_JS_R (1u << QS_PHASE_RETRAIN)
#define QS_JS_C (1u << QS_PHASE_CLR)
#define QS_JS_P (1u << QS_PHASE_PTQ)
#define QS_JS_FRC (QS_JS_F | QS_JS_R | QS_JS_C)
/* OPEN: which end of [LO, HI] is itself refused. */
#define QS_JS_LO_OPEN 1
#define QS_JS_HI_OPEN 2

typedef enum {
#define QS_JOB_SETTING(id, ...) QS_JS_##id,
#include "jobspec.def"
#undef QS_JOB_SETTING
    QS_JS_N
} qs_js_id;
/* qs_js_vals.set holds one bit per row */
_Static_assert(QS_JS_N <= 32, "more job settings than bits in qs_js_vals.set");

typedef enum { QS_JS_NUM, QS_JS_INT, QS_JS_BOOL, QS_JS_NAME, QS_JS_LIST } qs_js_type;
typedef enum {
    QS_JS_ALWAYS, QS_JS_IF_CLR, QS_JS_IF_STEP, QS_JS_IF_SGD, QS_JS_IF_NONZERO,
    QS_JS_IF_PTQ, QS_JS_IF_ADAROUND, QS_JS_IF_LEARNED, QS_JS_IF_COMPRESS
} qs_js_when;

typedef struct {
    const char *key;        /* job JSON key */
    const char *grid_key;   /* key in a grid's float / retrain / clr object */
    const char *alias;      /* second grid key in the clr object, or NULL */
    qs_js_type type;
    double lo, hi;
    int open;               /* QS_JS_LO_OPEN | QS_JS_HI_OPEN */
    const char *const *names;
    unsigned phases;
    qs_js_when when;
} qs_js_row;

extern const qs_js_row qs_js_rows[QS_JS_N];

/* A set of given settings (the overrides of one phase, or a job's flags);
 * unset ones keep the dataset's protocol. */
typedef struct {
    unsigned set;           /* bit id: given */
    double v[QS_JS_N];      /* num; int, bool and name (index) as integers */
    double ms[QS_MAX_MILESTONES];
    int nms;                /* milestones */
} qs_js_vals;

static inline int qs_js_isset(const qs_js_vals *v, int id) { return (v->set >> id) & 1u; }
static inline void qs_js_setv(qs_js_vals *v, int id, double x)
{
    v->v[id] = x;
    v->set |= 1u << id;
}

/* The row whose flag is f: "--" then the key, '-' or '_' alike
 * ("--weight-decay"), or -1. */
int qs_js_find_flag(const char *f);
/* Whether x is in the row's range. */
int qs_js_in_range(const qs_js_row *r, double x);
/* The row's range as text: "0..1", "above 0..1e+06", "0..1, 1 excluded". */
void qs_js_range_text(char *out, size_t cap, const qs_js_row *r);
/* Parses a flag's text value into v (flag names the source in messages). */
int qs_js_parse_text(qs_js_vals *v, int id, const char *flag, const char *text);
/* Applies the given settings onto c. */
void qs_js_apply(qs_train_cfg *c, const qs_js_vals *v);
/* Whether c's value of the row goes into the job JSON (qs_js_when); an
 * if_learned row is written only for a model that learns bit widths, which
 * the job JSON writer knows and c does not: here it counts as written. */
int qs_js_written(int id, const qs_train_cfg *c);
/* c's value of the row as job JSON text (a number, or a "quoted" name or
 * milestone list), in the canonical format the phase id hashes. */
void qs_js_format(char *out, size_t cap, int id, const qs_train_cfg *c);

#endif
