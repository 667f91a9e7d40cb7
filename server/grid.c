/* Grid files: reading, JSON parsing and validation (../shared/spec/grid.md,
 * docs/grid.md). Every problem is collected with its JSON path and all are
 * reported together, so a user fixes a grid in one pass; nothing is expanded
 * (let alone run) from a grid with a problem. Expansion into the phase DAG
 * is in grid_expand.c. */
#include "grid.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "grid_int.h"

const char *const qs_gx_axis_names[AX_N] = {"arch", "block", "depth", "width", "residual",
                                            "wbits", "abits", "regularizer", "clr", "seed"};

/* Errors are capped so a grid with a systematic mistake (say, 10,000 bad
 * combinations) still gives a readable report. */
#define GX_MAX_ERRORS 200

void qs_gx_err(gx_errs *e, const char *path, const char *fmt, ...)
{
    char msg[512], line[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path)
        snprintf(line, sizeof line, "%s: %s: %s", e->file, path, msg);
    else
        snprintf(line, sizeof line, "%s: %s", e->file, msg);
    size_t ll = strlen(line);
    /* Drop duplicates: one bad axis value shows up in many combinations. */
    for (size_t off = 0; off < e->len;) {
        const char *nl = memchr(e->buf + off, '\n', e->len - off);
        size_t l = nl ? (size_t)(nl - (e->buf + off)) : e->len - off;
        if (l == ll && memcmp(e->buf + off, line, ll) == 0)
            return;
        off += l + 1;
    }
    e->n++;
    if (e->n > GX_MAX_ERRORS) {
        if (e->n == GX_MAX_ERRORS + 1)
            snprintf(line, sizeof line, "%s: more than %d problems; the rest are not listed",
                     e->file, GX_MAX_ERRORS);
        else
            return;
        ll = strlen(line);
    }
    if (e->len + ll + 2 > e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 1024;
        while (cap < e->len + ll + 2)
            cap *= 2;
        char *nb = realloc(e->buf, cap);
        if (!nb) {
            e->oom = 1;
            return;
        }
        e->buf = nb;
        e->cap = cap;
    }
    if (e->len)
        e->buf[e->len++] = '\n';
    memcpy(e->buf + e->len, line, ll + 1);
    e->len += ll;
}

/* ------------------------------------------------------------ JSON helpers */

static const char *type_name(const cJSON *it)
{
    if (cJSON_IsString(it)) return "a string";
    if (cJSON_IsNumber(it)) return "a number";
    if (cJSON_IsBool(it)) return "a boolean";
    if (cJSON_IsNull(it)) return "null";
    if (cJSON_IsArray(it)) return "a list";
    if (cJSON_IsObject(it)) return "an object";
    return "invalid";
}

/* Paths longer than GX_PATH_LEN (a very long unknown key) are cut with
 * "..." rather than failing: they only label a message. */
static void cut(char *out, int n)
{
    if (n >= GX_PATH_LEN)
        memcpy(out + GX_PATH_LEN - 4, "...", 4);
}

static void sub_key(char *out, const char *path, const char *key)
{
    if (path && *path)
        cut(out, snprintf(out, GX_PATH_LEN, "%s.%s", path, key));
    else
        cut(out, snprintf(out, GX_PATH_LEN, "%s", key));
}

static void sub_idx(char *out, const char *path, int i)
{
    cut(out, snprintf(out, GX_PATH_LEN, "%s[%d]", path, i));
}

static void list_names(char *out, size_t cap, const char *const *names)
{
    out[0] = 0;
    for (int i = 0; names[i]; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? ", " : "", names[i]);
}

/* Every key of obj must be in allowed (NULL-terminated) and appear once. */
static int check_keys(const cJSON *obj, const char *path, const char *const *allowed,
                      gx_errs *e)
{
    int ok = 1;
    for (const cJSON *it = obj->child; it; it = it->next) {
        char p[GX_PATH_LEN];
        sub_key(p, path, it->string);
        int known = 0;
        for (int i = 0; allowed[i]; i++)
            known |= strcmp(it->string, allowed[i]) == 0;
        if (!known) {
            char list[400];
            list_names(list, sizeof list, allowed);
            qs_gx_err(e, p, "unknown key (allowed: %s)", list);
            ok = 0;
            continue;
        }
        /* cJSON keeps duplicate keys and lookups see the first: a second
         * one would be silently ignored. */
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0) {
                qs_gx_err(e, p, "duplicate key");
                ok = 0;
                break;
            }
    }
    return ok;
}

static int want_object(const cJSON *it, const char *path, gx_errs *e)
{
    if (cJSON_IsObject(it))
        return 1;
    qs_gx_err(e, path, "must be an object, not %s", type_name(it));
    return 0;
}

static int get_int(long long *out, const cJSON *it, const char *path, long long lo,
                   long long hi, gx_errs *e)
{
    if (!cJSON_IsNumber(it)) {
        qs_gx_err(e, path, "must be an integer in %lld..%lld, not %s", lo, hi, type_name(it));
        return 0;
    }
    double v = it->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < (double)lo || v > (double)hi) {
        qs_gx_err(e, path, "%.17g is not an integer in %lld..%lld", v, lo, hi);
        return 0;
    }
    *out = (long long)v;
    return 1;
}

static int get_num(double *out, const cJSON *it, const char *path, double lo, double hi,
                   int lo_open, gx_errs *e)
{
    if (!cJSON_IsNumber(it)) {
        qs_gx_err(e, path, "must be a number, not %s", type_name(it));
        return 0;
    }
    double v = it->valuedouble;
    if (!isfinite(v) || v < lo || v > hi || (lo_open && v <= lo)) {
        qs_gx_err(e, path, "%.17g is out of range (allowed: %s%g..%g)", v,
                  lo_open ? "above " : "", lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

/* A string from a fixed set; *out = its index. */
static int get_enum(int *out, const cJSON *it, const char *path, const char *const *names,
                    gx_errs *e)
{
    char list[200];
    list_names(list, sizeof list, names);
    if (!cJSON_IsString(it)) {
        qs_gx_err(e, path, "must be a string (allowed: %s), not %s", list, type_name(it));
        return 0;
    }
    for (int i = 0; names[i]; i++)
        if (strcmp(it->valuestring, names[i]) == 0) {
            *out = i;
            return 1;
        }
    qs_gx_err(e, path, "\"%s\" is not allowed (allowed: %s)", it->valuestring, list);
    return 0;
}

static int get_bool(int *out, const cJSON *it, const char *path, gx_errs *e)
{
    if (!cJSON_IsBool(it)) {
        qs_gx_err(e, path, "must be true or false, not %s", type_name(it));
        return 0;
    }
    *out = cJSON_IsTrue(it);
    return 1;
}

static int bits_value(int *out, const cJSON *it, const char *path, int min, gx_errs *e)
{
    long long b;
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
        !((it->valuedouble >= min && it->valuedouble <= 8) || it->valuedouble == 32)) {
        if (cJSON_IsNumber(it))
            qs_gx_err(e, path, "%.17g is not a bit width (allowed: %d..8, or 32 = float)",
                      it->valuedouble, min);
        else
            qs_gx_err(e, path, "must be a bit width (%d..8, or 32 = float), not %s", min,
                      type_name(it));
        return 0;
    }
    b = (long long)it->valuedouble;
    *out = (int)b;
    return 1;
}

/* ------------------------------------------------------------ axis values */

static const char *const arch_names[] = {"fcdnn", "resnet", NULL};
static const char *const block_names[] = {"basic", "preact", "depthwise", NULL};
static const char *const reg_names[] = {"none", "lipschitz", NULL};

/* One value of axis key k. */
static int axis_value(gx_val *v, int k, const cJSON *it, const char *path, gx_errs *e)
{
    int x = 0;
    long long ll = 0;
    memset(v, 0, sizeof *v);
    snprintf(v->path, sizeof v->path, "%s", path);
    switch (k) {
    case AX_ARCH:
        if (!get_enum(&x, it, path, arch_names, e))
            return 0;
        v->i = x == 0 ? QS_ARCH_FCDNN : QS_ARCH_RESNET;
        return 1;
    case AX_BLOCK:
        if (!get_enum(&x, it, path, block_names, e))
            return 0;
        v->i = x; /* same order as qs_block */
        return 1;
    case AX_DEPTH:
        if (!get_int(&ll, it, path, 2, 100000, e))
            return 0;
        v->i = ll;
        return 1;
    case AX_WIDTH:
        if (cJSON_IsObject(it)) {
            static const char *const keys[] = {"params", NULL};
            char p[GX_PATH_LEN];
            if (!check_keys(it, path, keys, e))
                return 0;
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "params");
            sub_key(p, path, "params");
            if (!n) {
                qs_gx_err(e, path, "a width budget needs \"params\": N");
                return 0;
            }
            return get_num(&v->params, n, p, 10, 1e12, 0, e);
        }
        if (!cJSON_IsNumber(it)) {
            qs_gx_err(e, path, "must be an integer width k or {\"params\": N}, not %s",
                      type_name(it));
            return 0;
        }
        if (!get_int(&ll, it, path, 1, 65536, e))
            return 0;
        v->i = ll;
        return 1;
    case AX_RESIDUAL:
    case AX_CLR:
        if (!get_bool(&x, it, path, e))
            return 0;
        v->i = x;
        return 1;
    case AX_WBITS:
    case AX_ABITS:
        /* PACT needs two levels: 1-bit activations are not supported. */
        if (!bits_value(&x, it, path, k == AX_WBITS ? 1 : 2, e))
            return 0;
        v->i = x;
        return 1;
    case AX_REG:
        if (!get_enum(&x, it, path, reg_names, e))
            return 0;
        v->i = x;
        return 1;
    case AX_SEED:
        if (!get_int(&ll, it, path, 0, 9007199254740992LL, e))
            return 0;
        v->i = ll;
        return 1;
    }
    return 0;
}

static int axis_key(const char *name)
{
    for (int k = 0; k < AX_N; k++)
        if (strcmp(name, qs_gx_axis_names[k]) == 0)
            return k;
    return -1;
}

static const char *const axis_keys_null[] = {"arch", "block", "depth", "width", "residual",
                                             "wbits", "abits", "regularizer", "clr",
                                             "seed", NULL};

/* A single value or a list of values of key k. */
static int axis_list(gx_list *l, int k, const cJSON *it, const char *path, gx_errs *e)
{
    int ok = 1;
    l->n = 0;
    if (!cJSON_IsArray(it)) {
        l->v = calloc(1, sizeof *l->v);
        if (!l->v) {
            e->oom = 1;
            return 0;
        }
        if (axis_value(&l->v[0], k, it, path, e))
            l->n = 1;
        else
            ok = 0;
        return ok;
    }
    int n = cJSON_GetArraySize(it);
    if (n == 0) {
        qs_gx_err(e, path, "empty list (give at least one value)");
        return 0;
    }
    l->v = calloc((size_t)n, sizeof *l->v);
    if (!l->v) {
        e->oom = 1;
        return 0;
    }
    int i = 0;
    for (const cJSON *c = it->child; c; c = c->next, i++) {
        char p[GX_PATH_LEN];
        sub_idx(p, path, i);
        if (axis_value(&l->v[l->n], k, c, p, e))
            l->n++;
        else
            ok = 0;
    }
    return ok;
}

/* ------------------------------------------------------------- overrides */

static void override_init(gx_override *o) { memset(o, 0, sizeof *o); }

/* The milestones list: increasing fractions of the phase in (0, 1). */
static void parse_milestones(gx_override *o, const cJSON *it, const char *p, gx_errs *e)
{
    if (!cJSON_IsArray(it)) {
        qs_gx_err(e, p, "must be a list of fractions of the phase, e.g. [0.5, 0.75], not %s",
                  type_name(it));
        return;
    }
    int n = 0, bad = 0;
    for (const cJSON *c = it->child; c; c = c->next, n++) {
        char q[GX_PATH_LEN];
        sub_idx(q, p, n);
        if (n >= QS_MAX_MILESTONES) {
            qs_gx_err(e, p, "at most %d milestones", QS_MAX_MILESTONES);
            bad = 1;
            break;
        }
        if (!cJSON_IsNumber(c) || !(c->valuedouble > 0 && c->valuedouble < 1)) {
            qs_gx_err(e, q, "a milestone is a fraction of the phase in (0, 1), e.g. 0.5");
            bad = 1;
            continue;
        }
        double f = c->valuedouble;
        if (n > 0 && !(f > o->ms[n - 1])) {
            qs_gx_err(e, q, "milestones must increase");
            bad = 1;
        }
        o->ms[n] = f;
    }
    if (!bad) {
        o->nms = n;
        o->set |= 1u << QS_JS_MILESTONES;
    }
}

/* One protocol object (float / retrain / clr, top level or per dataset),
 * validated and read as the job spec's rows say. */
static void parse_override(gx_override *o, const cJSON *obj, const char *path, qs_phase ph,
                           gx_errs *e)
{
    const char *keys[2 * QS_JS_N + 1];
    int nk = 0;
    for (int id = 0; id < QS_JS_N; id++) {
        const qs_js_row *r = &qs_js_rows[id];
        if (!(r->phases & (1u << ph)))
            continue;
        keys[nk++] = r->grid_key;
        if (r->alias && ph == QS_PHASE_CLR)
            keys[nk++] = r->alias;
    }
    keys[nk] = NULL;
    if (!want_object(obj, path, e))
        return;
    check_keys(obj, path, keys, e);
    for (const cJSON *it = obj->child; it; it = it->next) {
        char p[GX_PATH_LEN];
        const char *k = it->string;
        int id = 0;
        for (; id < QS_JS_N; id++) {
            const qs_js_row *r = &qs_js_rows[id];
            if (!(r->phases & (1u << ph)))
                continue;
            if (!strcmp(k, r->grid_key))
                break;
            if (r->alias && ph == QS_PHASE_CLR && !strcmp(k, r->alias))
                break;
        }
        if (id == QS_JS_N)
            continue; /* reported by check_keys */
        const qs_js_row *r = &qs_js_rows[id];
        sub_key(p, path, k);
        if (qs_js_isset(o, id)) {
            /* Only an alias can set a row twice (duplicates are refused). */
            qs_gx_err(e, p, "%s and %s are the same setting: give one", r->grid_key,
                      r->alias ? r->alias : k);
            continue;
        }
        double x = 0;
        long long ll;
        int ix;
        switch (r->type) {
        case QS_JS_NUM:
            if (!cJSON_IsNumber(it)) {
                qs_gx_err(e, p, "must be a number, not %s", type_name(it));
                continue;
            }
            x = it->valuedouble;
            if (!isfinite(x) || !qs_js_in_range(r, x)) {
                char range[64];
                qs_js_range_text(range, sizeof range, r);
                qs_gx_err(e, p, "%.17g is out of range (allowed: %s)", x, range);
                continue;
            }
            break;
        case QS_JS_INT:
            if (!get_int(&ll, it, p, (long long)r->lo, (long long)r->hi, e))
                continue;
            x = (double)ll;
            break;
        case QS_JS_BOOL:
            if (!get_bool(&ix, it, p, e))
                continue;
            x = ix;
            break;
        case QS_JS_NAME:
            if (!get_enum(&ix, it, p, r->names, e))
                continue;
            x = ix;
            break;
        case QS_JS_LIST:
            parse_milestones(o, it, p, e);
            continue;
        }
        qs_js_setv(o, id, x);
    }
    /* The clr schedule is defined by its period; a float or retrain phase
     * switched to it needs one (the clr phase has the dataset's). */
    if (qs_js_isset(o, QS_JS_SCHEDULE) && o->v[QS_JS_SCHEDULE] == QS_SCHED_CLR &&
        ph != QS_PHASE_CLR && !qs_js_isset(o, QS_JS_PERIOD)) {
        char p[GX_PATH_LEN];
        sub_key(p, path, qs_js_rows[QS_JS_SCHEDULE].grid_key);
        qs_gx_err(e, p, "the clr schedule needs \"period\" (epochs per cycle)");
    }
}

/* ----------------------------------------------------------------- dataset */

static const char *const phase_keys[3] = {"float", "retrain", "clr"};

static void parse_dataset(gx_dataset *d, const cJSON *obj, const char *path, gx_errs *e)
{
    static const char *const keys[] = {"name", "path", "train_limit", "test_limit", "float",
                                       "retrain", "clr", NULL};
    static const char *const names[] = {"synthetic", "fashion-mnist", "cifar10", NULL};
    char p[GX_PATH_LEN];
    long long ll;
    int x;
    snprintf(d->jpath, sizeof d->jpath, "%s", path);
    for (int i = 0; i < 3; i++)
        override_init(&d->ov[i]);
    if (!want_object(obj, path, e))
        return;
    check_keys(obj, path, keys, e);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "name");
    sub_key(p, path, "name");
    if (!it)
        qs_gx_err(e, p, "missing (allowed: synthetic, fashion-mnist, cifar10)");
    else if (get_enum(&x, it, p, names, e))
        d->kind = (qs_data_kind)x; /* same order as qs_data_kind */
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "path"))) {
        sub_key(p, path, "path");
        if (!cJSON_IsString(it) || !it->valuestring[0])
            qs_gx_err(e, p, "must be a non-empty string (a directory), not %s", type_name(it));
        else if (!(d->path = strdup(it->valuestring)))
            e->oom = 1;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "train_limit"))) {
        sub_key(p, path, "train_limit");
        if (get_int(&ll, it, p, 0, 1 << 30, e))
            d->train_limit = (int)ll;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "test_limit"))) {
        sub_key(p, path, "test_limit");
        if (get_int(&ll, it, p, 0, 1 << 30, e))
            d->test_limit = (int)ll;
    }
    for (int i = 0; i < 3; i++)
        if ((it = cJSON_GetObjectItemCaseSensitive(obj, phase_keys[i]))) {
            sub_key(p, path, phase_keys[i]);
            parse_override(&d->ov[i], it, p, (qs_phase)i, e);
        }
}

/* ------------------------------------------------------------------- quant */

static void parse_quant(gx_spec *s, const cJSON *obj, gx_errs *e)
{
    static const char *const keys[] = {"first_last_bits", "pact_alpha_init", NULL};
    if (!want_object(obj, "quant", e))
        return;
    check_keys(obj, "quant", keys, e);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "first_last_bits");
    if (it)
        bits_value(&s->first_last_bits, it, "quant.first_last_bits", 1, e);
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "pact_alpha_init"))) {
        const char *p = "quant.pact_alpha_init";
        if (cJSON_IsNumber(it)) {
            double a;
            if (get_num(&a, it, p, 0, 1e6, 1, e))
                snprintf(s->alpha_init, sizeof s->alpha_init, "%.17g", a);
        } else if (cJSON_IsString(it)) {
            const char *a = it->valuestring;
            char *end;
            double v = a[0] == 'p' ? strtod(a + 1, &end) : 0;
            if (!strcmp(a, "mse") ||
                (a[0] == 'p' && end != a + 1 && !*end && v > 0 && v <= 100 && strlen(a) < 32))
                snprintf(s->alpha_init, sizeof s->alpha_init, "%s", a);
            else
                qs_gx_err(e, p, "\"%s\" is not allowed (allowed: \"mse\", a percentile like "
                          "\"p99.9\", or a positive number)", a);
        } else {
            qs_gx_err(e, p, "must be \"mse\", \"pNN.N\" or a positive number, not %s",
                      type_name(it));
        }
    }
}

/* --------------------------------------------------------------- synthetic */

static void parse_synth(gx_spec *s, const cJSON *obj, gx_errs *e)
{
    static const char *const keys[] = {"radii", "points", "copies", "sigma", "test_points",
                                       "test_radius", "seed", NULL};
    qs_synth_cfg def;
    qs_synth_cfg_default(&def);
    if (!want_object(obj, "synthetic", e))
        return;
    check_keys(obj, "synthetic", keys, e);
    for (const cJSON *it = obj->child; it; it = it->next) {
        char p[GX_PATH_LEN];
        long long ll;
        double d;
        sub_key(p, "synthetic", it->string);
        if (!strcmp(it->string, "seed")) {
            if (get_int(&ll, it, p, 0, 9007199254740992LL, e))
                s->synth.seed = (uint64_t)ll;
            continue;
        }
        /* The data shape settings: validated, but `qsweep train` has no flag
         * to pass them to a worker yet (only --data-seed), so a grid may
         * only restate the defaults. */
        int ok = 0, same = 0;
        char defs[32];
        if (!strcmp(it->string, "radii") || !strcmp(it->string, "points") ||
            !strcmp(it->string, "copies") || !strcmp(it->string, "test_points")) {
            int dv = !strcmp(it->string, "radii") ? def.radii
                   : !strcmp(it->string, "points") ? def.points
                   : !strcmp(it->string, "copies") ? def.copies : def.test_points;
            ok = get_int(&ll, it, p, 0, 1 << 30, e);
            same = ok && ll == dv;
            snprintf(defs, sizeof defs, "%d", dv);
        } else if (strcmp(it->string, "sigma") == 0 || strcmp(it->string, "test_radius") == 0) {
            float dv = !strcmp(it->string, "sigma") ? def.sigma : def.test_radius;
            ok = get_num(&d, it, p, 0, 1e6, 0, e);
            same = ok && (float)d == dv;
            snprintf(defs, sizeof defs, "%g", dv);
        } else {
            continue; /* unknown key: already reported */
        }
        if (ok && !same)
            qs_gx_err(e, p, "only the default (%s) can be used: `qsweep train` has no "
                      "flag to pass this setting to workers (synthetic.seed works)", defs);
    }
}

/* -------------------------------------------------------------------- top */

static void parse_axes(gx_spec *s, const cJSON *obj, gx_errs *e)
{
    if (!want_object(obj, "axes", e))
        return;
    check_keys(obj, "axes", axis_keys_null, e);
    for (const cJSON *it = obj->child; it; it = it->next) {
        int k = axis_key(it->string);
        char p[GX_PATH_LEN];
        if (k < 0 || s->axes[k].v)
            continue; /* unknown or duplicate: reported */
        sub_key(p, "axes", it->string);
        if (!axis_list(&s->axes[k], k, it, p, e))
            s->axes_bad |= 1u << k;
        if (s->axes[k].n > 0)
            s->axes_set |= 1u << k;
    }
}

static void parse_cases(gx_spec *s, const cJSON *arr, gx_errs *e)
{
    if (!cJSON_IsArray(arr)) {
        qs_gx_err(e, "cases", "must be a list of objects, not %s", type_name(arr));
        return;
    }
    int n = cJSON_GetArraySize(arr);
    if (n == 0) {
        qs_gx_err(e, "cases", "empty list (leave \"cases\" out to cross the axes only)");
        return;
    }
    if (!(s->cases = calloc((size_t)n, sizeof *s->cases))) {
        e->oom = 1;
        return;
    }
    int i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        gx_case *cs = &s->cases[s->ncases++];
        char path[GX_PATH_LEN];
        sub_idx(path, "cases", i);
        snprintf(cs->path, sizeof cs->path, "%s", path);
        if (!want_object(c, path, e))
            continue;
        check_keys(c, path, axis_keys_null, e);
        if (!c->child)
            qs_gx_err(e, path, "empty case (set at least one key)");
        for (const cJSON *it = c->child; it; it = it->next) {
            int k = axis_key(it->string);
            char p[GX_PATH_LEN];
            if (k < 0 || (cs->set & (1u << k)))
                continue;
            sub_key(p, path, it->string);
            if (cJSON_IsArray(it)) {
                qs_gx_err(e, p, "a case pairs single values (put lists in axes)");
                cs->bad |= 1u << k;
                continue;
            }
            if (axis_value(&cs->v[k], k, it, p, e))
                cs->set |= 1u << k;
            else
                cs->bad |= 1u << k;
        }
    }
}

static void parse_exclude(gx_spec *s, const cJSON *arr, gx_errs *e)
{
    if (!cJSON_IsArray(arr)) {
        qs_gx_err(e, "exclude", "must be a list of objects, not %s", type_name(arr));
        return;
    }
    int n = cJSON_GetArraySize(arr);
    if (n == 0)
        return;
    if (!(s->ex = calloc((size_t)n, sizeof *s->ex))) {
        e->oom = 1;
        return;
    }
    int i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        gx_exclude *x = &s->ex[s->nex++];
        char path[GX_PATH_LEN];
        sub_idx(path, "exclude", i);
        if (!want_object(c, path, e))
            continue;
        check_keys(c, path, axis_keys_null, e);
        if (!c->child)
            qs_gx_err(e, path, "empty object would exclude everything");
        for (const cJSON *it = c->child; it; it = it->next) {
            int k = axis_key(it->string);
            char p[GX_PATH_LEN];
            if (k < 0 || (x->set & (1u << k)))
                continue;
            sub_key(p, path, it->string);
            if (axis_list(&x->k[k], k, it, p, e))
                x->set |= 1u << k;
        }
    }
}

void qs_gx_parse(gx_spec *s, const char *text, gx_errs *e)
{
    static const char *const top_keys[] = {"name", "description", "dataset", "axes", "cases",
                                            "exclude", "float", "retrain", "clr", "quant",
                                            "lipschitz", "threads", "synthetic", NULL};
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    memset(s, 0, sizeof *s);
    s->first_last_bits = 8;
    snprintf(s->alpha_init, sizeof s->alpha_init, "mse");
    s->beta = 1e-4;
    s->threads = 1;
    qs_synth_cfg_default(&s->synth);
    for (int i = 0; i < 3; i++)
        override_init(&s->ov[i]);
    if (!root) {
        /* Line and column of the byte where cJSON gave up. */
        const char *at = cJSON_GetErrorPtr();
        int line = 1, col = 1;
        for (const char *p = text; at && p < at && *p; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        qs_gx_err(e, NULL, "invalid JSON near line %d, column %d", line, col);
        return;
    }
    if (!cJSON_IsObject(root)) {
        qs_gx_err(e, NULL, "a grid is one JSON object, not %s", type_name(root));
        goto cleanup;
    }
    s->json_ok = 1;
    check_keys(root, "", top_keys, e);

    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!it) {
        qs_gx_err(e, "name", "missing (every grid names its sweep)");
    } else if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) > 200) {
        qs_gx_err(e, "name", "must be a non-empty string of at most 200 characters, not %s",
                  cJSON_IsString(it) ? "that" : type_name(it));
    } else {
        int bad = 0;
        for (const char *p = it->valuestring; *p; p++)
            bad |= (unsigned char)*p < 0x20;
        if (bad)
            qs_gx_err(e, "name", "control characters are not allowed");
        else if (!(s->name = strdup(it->valuestring)))
            e->oom = 1;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "description")) && !cJSON_IsString(it))
        qs_gx_err(e, "description", "must be a string, not %s", type_name(it));

    /* dataset: one object, or a list of them (a grid mixing synthetic FCDNNs
     * and image ResNets); absent = filled in by the expansion from arch. */
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "dataset"))) {
        if (cJSON_IsArray(it)) {
            int n = cJSON_GetArraySize(it);
            if (n == 0)
                qs_gx_err(e, "dataset", "empty list");
            else if (!(s->ds = calloc((size_t)n, sizeof *s->ds)))
                e->oom = 1;
            int i = 0;
            for (const cJSON *c = it->child; s->ds && c; c = c->next, i++) {
                char p[GX_PATH_LEN];
                sub_idx(p, "dataset", i);
                int n0 = e->n;
                parse_dataset(&s->ds[s->nds++], c, p, e);
                s->ds_bad |= e->n > n0;
                for (int j = 0; j < s->nds - 1; j++)
                    if (s->ds[j].kind == s->ds[s->nds - 1].kind) {
                        char q[GX_PATH_LEN];
                        sub_key(q, p, "name");
                        qs_gx_err(e, q, "\"%s\" is listed twice",
                                  qs_data_kind_name(s->ds[j].kind));
                    }
            }
        } else if (want_object(it, "dataset", e)) {
            if (!(s->ds = calloc(1, sizeof *s->ds)))
                e->oom = 1;
            else {
                int n0 = e->n;
                parse_dataset(&s->ds[s->nds++], it, "dataset", e);
                s->ds_bad |= e->n > n0;
            }
        } else {
            s->ds_bad = 1;
        }
    }

    if (!(it = cJSON_GetObjectItemCaseSensitive(root, "axes")))
        qs_gx_err(e, "axes", "missing (at least {\"depth\": ..., \"width\": ...})");
    else
        parse_axes(s, it, e);
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "cases"))) {
        parse_cases(s, it, e);
        /* A key lives in axes or in cases, never both: which would win? */
        for (int i = 0; i < s->ncases; i++)
            for (int k = 0; k < AX_N; k++)
                if (((s->cases[i].set | s->cases[i].bad) & (s->axes_set | s->axes_bad)) &
                    (1u << k))
                    qs_gx_err(e, s->cases[i].v[k].path[0] ? s->cases[i].v[k].path
                                                          : s->cases[i].path,
                              "\"%s\" is also an axis (a key goes in axes or in cases, "
                              "not both)", qs_gx_axis_names[k]);
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "exclude")))
        parse_exclude(s, it, e);
    for (int i = 0; i < 3; i++)
        if ((it = cJSON_GetObjectItemCaseSensitive(root, phase_keys[i])))
            parse_override(&s->ov[i], it, phase_keys[i], (qs_phase)i, e);
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "quant")))
        parse_quant(s, it, e);
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "lipschitz")) &&
        want_object(it, "lipschitz", e)) {
        static const char *const keys[] = {"beta", NULL};
        check_keys(it, "lipschitz", keys, e);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(it, "beta");
        if (b)
            get_num(&s->beta, b, "lipschitz.beta", 0, 1e3, 1, e);
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "threads"))) {
        long long t;
        if (get_int(&t, it, "threads", 1, 256, e))
            s->threads = (int)t;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "synthetic")))
        parse_synth(s, it, e);
cleanup:
    cJSON_Delete(root);
}

void qs_gx_spec_free(gx_spec *s)
{
    free(s->name);
    for (int k = 0; k < AX_N; k++)
        free(s->axes[k].v);
    free(s->cases);
    for (int i = 0; i < s->nex; i++)
        for (int k = 0; k < AX_N; k++)
            free(s->ex[i].k[k].v);
    free(s->ex);
    for (int i = 0; i < s->nds; i++)
        free(s->ds[i].path);
    free(s->ds);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------ public */

int qs_grid_parse(qs_grid *g, const char *text, const char *path, int check_data,
                  char **errors)
{
    gx_spec s;
    gx_errs e = {0};
    int rc = QS_OK;
    memset(g, 0, sizeof *g);
    *errors = NULL;
    e.file = path ? path : "<grid>";
    if (!(g->text = strdup(text)) || !(g->path = strdup(e.file))) {
        rc = qs_err(QS_ENOMEM, "out of memory reading grid %s", e.file);
        goto cleanup;
    }
    qs_gx_parse(&s, text, &e);
    /* Expansion reports what only a whole combination shows (a depth that
     * does not fit its block, an arch without data); it runs even after
     * parse problems so the user sees them all at once. */
    if (!e.oom && s.json_ok)
        rc = qs_gx_expand(g, &s, &e);
    if (rc == QS_OK && !e.oom && e.n == 0 && check_data) {
        for (int i = 0; i < s.nds; i++)
            if (qs_data_check(s.ds[i].kind, s.ds[i].path) != QS_OK) {
                char p[GX_PATH_LEN];
                if (s.ds[i].path)
                    sub_key(p, s.ds[i].jpath, "path");
                else
                    snprintf(p, sizeof p, "%s", s.ds[i].jpath);
                qs_gx_err(&e, p, "%s", qs_errmsg());
            }
    }
    if (rc == QS_OK && e.oom)
        rc = qs_err(QS_ENOMEM, "out of memory checking grid %s", e.file);
    if (rc == QS_OK && e.n > 0) {
        rc = qs_err(QS_EINVAL, "grid %s has %d problem%s", e.file, e.n, e.n == 1 ? "" : "s");
        *errors = e.buf;
        e.buf = NULL;
    }
    if (rc == QS_OK) {
        if (!(g->name = strdup(s.name))) {
            rc = qs_err(QS_ENOMEM, "out of memory");
            goto cleanup;
        }
        g->threads = s.threads;
        if (s.nds > 0) {
            g->data = s.ds[0].kind;
            if (s.ds[0].path && !(g->data_dir = strdup(s.ds[0].path)))
                rc = qs_err(QS_ENOMEM, "out of memory");
        }
    }
cleanup:
    qs_gx_spec_free(&s);
    free(e.buf);
    if (rc != QS_OK) {
        if (!*errors) {
            /* Out of memory or an internal failure: still one line. */
            char *m = malloc(strlen(e.file) + strlen(qs_errmsg()) + 3);
            if (m)
                sprintf(m, "%s: %s", e.file, qs_errmsg());
            *errors = m;
        }
        qs_grid_free(g);
    }
    return rc;
}

int qs_grid_load(qs_grid *g, const char *path, int check_data, char **errors)
{
    FILE *f = NULL;
    char *text = NULL;
    int rc = QS_OK;
    memset(g, 0, sizeof *g);
    *errors = NULL;
    if (!(f = fopen(path, "rb"))) {
        rc = qs_err(QS_EIO, "%s: cannot read: %s", path, strerror(errno));
        goto fail;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        rc = qs_err(QS_EIO, "%s: cannot read (not a regular file?)", path);
        goto fail;
    }
    long n = ftell(f);
    if (n < 0 || n > (64L << 20) || fseek(f, 0, SEEK_SET) != 0) {
        rc = qs_err(QS_EIO, "%s: cannot read (not a regular file, or over 64 MB)", path);
        goto fail;
    }
    if (!(text = malloc((size_t)n + 1))) {
        rc = qs_err(QS_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (fread(text, 1, (size_t)n, f) != (size_t)n) {
        rc = qs_err(QS_EIO, "%s: read failed", path);
        goto fail;
    }
    text[n] = 0;
    if (strlen(text) != (size_t)n) {
        rc = qs_err(QS_EINVAL, "%s: contains a NUL byte (not a JSON text file)", path);
        goto fail;
    }
    rc = qs_grid_parse(g, text, path, check_data, errors);
    goto cleanup;
fail:
    *errors = strdup(qs_errmsg());
cleanup:
    if (f)
        fclose(f);
    free(text);
    return rc;
}
