/* The job spec's rows (jobspec.def) and what is generic over them: range
 * checks, text parsing, applying onto a qs_train_cfg, the job JSON text. */
#include "jobspec.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "jsonw.h"
#include "parse.h"

#define JS_TYPE_num QS_JS_NUM
#define JS_TYPE_int QS_JS_INT
#define JS_TYPE_bool QS_JS_BOOL
#define JS_TYPE_name QS_JS_NAME
#define JS_TYPE_list QS_JS_LIST
#define JS_WHEN_always QS_JS_ALWAYS
#define JS_WHEN_if_clr QS_JS_IF_CLR
#define JS_WHEN_if_step QS_JS_IF_STEP
#define JS_WHEN_if_sgd QS_JS_IF_SGD
#define JS_WHEN_if_nonzero QS_JS_IF_NONZERO
#define JS_WHEN_if_ptq QS_JS_IF_PTQ
#define JS_WHEN_if_adaround QS_JS_IF_ADAROUND
#define JS_WHEN_if_learned QS_JS_IF_LEARNED
#define JS_WHEN_if_compress QS_JS_IF_COMPRESS

const qs_js_row qs_js_rows[QS_JS_N] = {
#define QS_JOB_SETTING(id, key, gkey, alias, type, lo, hi, open, names, field, phases, when) \
    {key, gkey, alias, JS_TYPE_##type, lo, hi, open, names, phases, JS_WHEN_##when},
#include "jobspec.def"
#undef QS_JOB_SETTING
};

int qs_js_find_flag(const char *f)
{
    if (strncmp(f, "--", 2) != 0)
        return -1;
    f += 2;
    for (int id = 0; id < QS_JS_N; id++) {
        const char *k = qs_js_rows[id].key, *p = f;
        while (*k && (*p == *k || (*k == '_' && *p == '-'))) {
            k++;
            p++;
        }
        if (!*k && !*p)
            return id;
    }
    return -1;
}

int qs_js_in_range(const qs_js_row *r, double x)
{
    if (!(x >= r->lo && x <= r->hi))
        return 0;
    if ((r->open & QS_JS_LO_OPEN) && x == r->lo)
        return 0;
    if ((r->open & QS_JS_HI_OPEN) && x == r->hi)
        return 0;
    return 1;
}

void qs_js_range_text(char *out, size_t cap, const qs_js_row *r)
{
    snprintf(out, cap, "%s%g..%g", r->open & QS_JS_LO_OPEN ? "above " : "", r->lo, r->hi);
    if (r->open & QS_JS_HI_OPEN)
        snprintf(out + strlen(out), cap - strlen(out), ", %g excluded", r->hi);
}

/* "0.5,0.75": fractions of the planned iterations, increasing, in (0, 1). */
static int parse_list(qs_js_vals *v, const char *flag, const char *text)
{
    const char *p = text;
    int n = 0;
    while (*p) {
        char num[64];
        size_t l = strcspn(p, ",");
        double x;
        snprintf(num, sizeof num, "%.*s", (int)(l < sizeof num ? l : sizeof num - 1), p);
        if (l >= sizeof num || qs_parse_double(&x, num, 0, 1) || !(x > 0 && x < 1) ||
            n == QS_MAX_MILESTONES || (n && x <= v->ms[n - 1]))
            return qs_err(QS_EINVAL, "%s: \"%s\" is not an increasing list of at most %d "
                          "fractions in (0, 1), e.g. 0.5,0.75", flag, text, QS_MAX_MILESTONES);
        v->ms[n++] = x;
        p += l;
        if (*p == ',')
            p++;
    }
    v->nms = n;
    v->set |= 1u << QS_JS_MILESTONES;
    return QS_OK;
}

int qs_js_parse_text(qs_js_vals *v, int id, const char *flag, const char *text)
{
    const qs_js_row *r = &qs_js_rows[id];
    char range[64];
    double x;
    long long ll;
    if (!text)
        text = "";
    qs_js_range_text(range, sizeof range, r);
    switch (r->type) {
    case QS_JS_NUM:
        if (qs_parse_double(&x, text, -1e300, 1e300) || !qs_js_in_range(r, x))
            return qs_err(QS_EINVAL, "%s: \"%s\" is not a number (allowed: %s)", flag, text,
                          range);
        qs_js_setv(v, id, x);
        return QS_OK;
    case QS_JS_INT:
    case QS_JS_BOOL:
        if (qs_parse_ll(&ll, text, (long long)r->lo, (long long)r->hi))
            return qs_err(QS_EINVAL, "%s: \"%s\" is not an integer in %s", flag, text, range);
        qs_js_setv(v, id, (double)ll);
        return QS_OK;
    case QS_JS_NAME: {
        int k = qs_name_index(r->names, text);
        if (k < 0) {
            char list[256] = "";
            for (int i = 0; r->names[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         r->names[i]);
            return qs_err(QS_EINVAL, "%s: \"%s\" is not allowed (allowed: %s)", flag, text,
                          list);
        }
        qs_js_setv(v, id, k);
        return QS_OK;
    }
    case QS_JS_LIST:
        return parse_list(v, flag, text);
    }
    return qs_err(QS_EINTERNAL, "%s: setting of unknown type", flag);
}

/* Storing and reading each row's field, by its type. */
#define JS_SET_num(f, x) (f) = (x)
#define JS_SET_int(f, x) (f) = (int)(x)
#define JS_SET_bool(f, x) (f) = (int)(x)
#define JS_SET_name(f, x) (f) = (int)(x)
#define JS_SET_list(f, x) (void)(x) /* the list is copied by qs_js_apply itself */
#define JS_GET_num(f) (double)(f)
#define JS_GET_int(f) (double)(f)
#define JS_GET_bool(f) (double)(f)
#define JS_GET_name(f) (double)(f)
#define JS_GET_list(f) 0.0

void qs_js_apply(qs_train_cfg *c, const qs_js_vals *v)
{
#define QS_JOB_SETTING(id, key, gkey, alias, type, lo, hi, open, names, field, phases, when) \
    if (qs_js_isset(v, QS_JS_##id))                                                           \
        JS_SET_##type(c->field, v->v[QS_JS_##id]);
#include "jobspec.def"
#undef QS_JOB_SETTING
    /* The milestones, the one list setting: values and count together. */
    if (qs_js_isset(v, QS_JS_MILESTONES)) {
        memcpy(c->sched.milestones, v->ms, sizeof v->ms);
        c->sched.nmilestones = v->nms;
    }
}

static double value(int id, const qs_train_cfg *c)
{
    switch (id) {
#define QS_JOB_SETTING(id, key, gkey, alias, type, lo, hi, open, names, field, phases, when) \
    case QS_JS_##id:                                                                          \
        return JS_GET_##type(c->field);
#include "jobspec.def"
#undef QS_JOB_SETTING
    }
    return 0;
}

int qs_js_written(int id, const qs_train_cfg *c)
{
    const qs_js_when when = qs_js_rows[id].when;
    const int ptq_row = when == QS_JS_IF_PTQ || when == QS_JS_IF_ADAROUND;
    if (c->phase == QS_PHASE_PTQ)
        return when == QS_JS_IF_PTQ ||
               (when == QS_JS_IF_ADAROUND && c->ptq.rounding == QS_PTQ_ADAROUND);
    if (ptq_row)
        return 0;
    if (when == QS_JS_IF_COMPRESS)
        return c->phase == QS_PHASE_COMPRESS && value(id, c) != 0;
    switch (when) {
    case QS_JS_ALWAYS:
        return 1;
    case QS_JS_IF_CLR:
        return c->sched.kind == QS_SCHED_CLR;
    case QS_JS_IF_STEP:
        return c->sched.kind == QS_SCHED_STEP;
    case QS_JS_IF_SGD:
        return c->opt.kind == QS_OPT_SGD;
    case QS_JS_IF_NONZERO:
        return value(id, c) != 0;
    case QS_JS_IF_LEARNED:
        return 1;
    case QS_JS_IF_PTQ:
    case QS_JS_IF_ADAROUND:
    case QS_JS_IF_COMPRESS:
        return 0;
    }
    return 1;
}

void qs_js_format(char *out, size_t cap, int id, const qs_train_cfg *c)
{
    const qs_js_row *r = &qs_js_rows[id];
    double x = value(id, c);
    switch (r->type) {
    case QS_JS_NUM:
        qs_fmt_num(out, cap, x);
        return;
    case QS_JS_INT:
    case QS_JS_BOOL:
        /* The job JSON has always written augment as 0/1, not true/false. */
        snprintf(out, cap, "%lld", (long long)x);
        return;
    case QS_JS_NAME: {
        int k = (int)x, n = 0;
        while (r->names[n])
            n++;
        snprintf(out, cap, "\"%s\"", k >= 0 && k < n ? r->names[k] : "?");
        return;
    }
    case QS_JS_LIST: {
        /* A string, "0.5,0.75", as the --milestones flag takes it. */
        size_t l = 0;
        out[l++] = '"';
        for (int i = 0; i < c->sched.nmilestones && l + 32 < cap; i++) {
            if (i)
                out[l++] = ',';
            qs_fmt_num(out + l, cap - l, c->sched.milestones[i]);
            l += strlen(out + l);
        }
        snprintf(out + l, cap - l, "\"");
        return;
    }
    }
    snprintf(out, cap, "null");
}
