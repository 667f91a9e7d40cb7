/* Grid validation of the protocol and data settings: the float / retrain /
 * clr objects (driven by the job spec, worker/job/jobspec.def), dataset
 * entries, quant and synthetic. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "grid_int.h"
#include "bp_model.h"
#include "lsq_model.h"

/* ------------------------------------------------------------- overrides */

void qs_gx_override_init(gx_override *o) { memset(o, 0, sizeof *o); }

/* The milestones list: increasing fractions of the phase in (0, 1). */
static void parse_milestones(gx_override *o, const cJSON *it, const char *p, gx_errs *e)
{
    if (!cJSON_IsArray(it)) {
        qs_gx_err(e, p, "must be a list of fractions of the phase, e.g. [0.5, 0.75], not %s",
                  qs_gx_type_name(it));
        return;
    }
    int n = 0, bad = 0;
    for (const cJSON *c = it->child; c; c = c->next, n++) {
        char q[GX_PATH_LEN];
        qs_gx_sub_idx(q, p, n);
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

/* One value of a (non-list) spec row; 0 after reporting its problem. */
static int read_value(double *out, const qs_js_row *r, const cJSON *it, const char *p,
                      gx_errs *e)
{
    long long ll;
    int ix;
    switch (r->type) {
    case QS_JS_NUM:
        if (!cJSON_IsNumber(it)) {
            qs_gx_err(e, p, "must be a number, not %s", qs_gx_type_name(it));
            return 0;
        }
        if (!isfinite(it->valuedouble) || !qs_js_in_range(r, it->valuedouble)) {
            char range[64];
            qs_js_range_text(range, sizeof range, r);
            qs_gx_err(e, p, "%.17g is out of range (allowed: %s)", it->valuedouble, range);
            return 0;
        }
        *out = it->valuedouble;
        return 1;
    case QS_JS_INT:
        if (!qs_gx_get_int(&ll, it, p, (long long)r->lo, (long long)r->hi, e))
            return 0;
        *out = (double)ll;
        return 1;
    case QS_JS_BOOL:
        if (!qs_gx_get_bool(&ix, it, p, e))
            return 0;
        *out = ix;
        return 1;
    case QS_JS_NAME:
        if (!qs_gx_get_enum(&ix, it, p, r->names, e))
            return 0;
        *out = ix;
        return 1;
    case QS_JS_LIST:
        break;
    }
    qs_gx_err(e, p, "a list setting cannot be read as one value");
    return 0;
}

/* The row a grid key names in phase ph's object, or -1. */
static int find_row(const char *k, qs_phase ph)
{
    for (int id = 0; id < QS_JS_N; id++) {
        const qs_js_row *r = &qs_js_rows[id];
        if (!(r->phases & (1u << ph)))
            continue;
        if (!strcmp(k, r->grid_key) || (r->alias && ph == QS_PHASE_CLR && !strcmp(k, r->alias)))
            return id;
    }
    return -1;
}

/* One protocol object (float / retrain / clr, top level or per dataset),
 * validated and read as the job spec's rows say. */
void qs_gx_parse_override(gx_override *o, const cJSON *obj, const char *path, qs_phase ph,
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
    if (!qs_gx_want_object(obj, path, e))
        return;
    qs_gx_check_keys(obj, path, keys, e);
    for (const cJSON *it = obj->child; it; it = it->next) {
        char p[GX_PATH_LEN];
        const char *k = it->string;
        int id = find_row(k, ph);
        if (id < 0)
            continue; /* reported by qs_gx_check_keys */
        const qs_js_row *r = &qs_js_rows[id];
        qs_gx_sub_key(p, path, k);
        if (qs_js_isset(o, id)) {
            /* Only an alias can set a row twice (duplicates are refused). */
            qs_gx_err(e, p, "%s and %s are the same setting: give one", r->grid_key,
                      r->alias ? r->alias : k);
            continue;
        }
        double x;
        if (r->type == QS_JS_LIST) {
            parse_milestones(o, it, p, e);
            continue;
        }
        if (!read_value(&x, r, it, p, e))
            continue;
        qs_js_setv(o, id, x);
    }
    /* The clr schedule is defined by its period; a float or retrain phase
     * switched to it needs one (the clr phase has the dataset's). */
    if (qs_js_isset(o, QS_JS_SCHEDULE) && o->v[QS_JS_SCHEDULE] == QS_SCHED_CLR &&
        ph != QS_PHASE_CLR && !qs_js_isset(o, QS_JS_PERIOD)) {
        char p[GX_PATH_LEN];
        qs_gx_sub_key(p, path, qs_js_rows[QS_JS_SCHEDULE].grid_key);
        qs_gx_err(e, p, "the clr schedule needs \"period\" (epochs per cycle)");
    }
}

/* ----------------------------------------------------------------- dataset */

const char *const qs_gx_phase_keys[QS_GX_NPROTO] = {"float", "retrain", "clr", "ptq"};

void qs_gx_parse_dataset(gx_dataset *d, const cJSON *obj, const char *path, gx_errs *e)
{
    static const char *const keys[] = {"name", "path", "train_limit", "test_limit", "float",
                                       "retrain", "clr", "ptq", "image_size", "classes", NULL};
    static const char *const names[] = {"synthetic", "fashion-mnist", "cifar10", "imagenet",
                                        NULL};
    char p[GX_PATH_LEN];
    long long ll;
    int x;
    snprintf(d->jpath, sizeof d->jpath, "%s", path);
    for (int i = 0; i < QS_NPHASES; i++)
        qs_gx_override_init(&d->ov[i]);
    if (!qs_gx_want_object(obj, path, e))
        return;
    qs_gx_check_keys(obj, path, keys, e);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "name");
    qs_gx_sub_key(p, path, "name");
    if (!it)
        qs_gx_err(e, p, "missing (allowed: synthetic, fashion-mnist, cifar10, imagenet)");
    else if (qs_gx_get_enum(&x, it, p, names, e))
        d->kind = (qs_data_kind)x; /* same order as qs_data_kind */
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "path"))) {
        qs_gx_sub_key(p, path, "path");
        if (!cJSON_IsString(it) || !it->valuestring[0])
            qs_gx_err(e, p, "must be a non-empty string (a directory), not %s", qs_gx_type_name(it));
        else if (!(d->path = strdup(it->valuestring)))
            e->oom = 1;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "train_limit"))) {
        qs_gx_sub_key(p, path, "train_limit");
        if (qs_gx_get_int(&ll, it, p, 0, 1 << 30, e))
            d->train_limit = (int)ll;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "test_limit"))) {
        qs_gx_sub_key(p, path, "test_limit");
        if (qs_gx_get_int(&ll, it, p, 0, 1 << 30, e))
            d->test_limit = (int)ll;
    }
    /* The tree's crop side and class count (docs/imagenet.md). */
    static const char *const imnet_keys[] = {"image_size", "classes"};
    for (int i = 0; i < 2; i++)
        if ((it = cJSON_GetObjectItemCaseSensitive(obj, imnet_keys[i]))) {
            qs_gx_sub_key(p, path, imnet_keys[i]);
            if (d->kind != QS_DATA_IMAGENET)
                qs_gx_err(e, p, "only \"imagenet\" data takes %s", imnet_keys[i]);
            else if (qs_gx_get_int(&ll, it, p, i ? 2 : QS_IMNET_MIN_SIZE,
                                   i ? QS_IMNET_MAX_CLASSES : QS_IMNET_MAX_SIZE, e))
                *(i ? &d->classes : &d->image_size) = (int)ll;
        }
    for (int i = 0; i < QS_GX_NPROTO; i++)
        if ((it = cJSON_GetObjectItemCaseSensitive(obj, qs_gx_phase_keys[i]))) {
            qs_gx_sub_key(p, path, qs_gx_phase_keys[i]);
            qs_gx_parse_override(&d->ov[i], it, p, (qs_phase)i, e);
        }
}

/* ------------------------------------------------------------------- quant */

void qs_gx_parse_quant(gx_spec *s, const cJSON *obj, gx_errs *e)
{
    static const char *const keys[] = {"first_last_bits", "pact_alpha_init", "lsq_per_channel",
                                       "lsq_winit", "bp_init", "bp_bmin", NULL};
    if (!qs_gx_want_object(obj, "quant", e))
        return;
    qs_gx_check_keys(obj, "quant", keys, e);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "first_last_bits");
    if (it)
        qs_gx_bits_value(&s->first_last_bits, it, "quant.first_last_bits", 1, e);
    /* The lsq+ phases' settings; the quantizer itself is an axis. */
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "lsq_per_channel")))
        qs_gx_get_bool(&s->lsq_per_channel, it, "quant.lsq_per_channel", e);
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "lsq_winit")))
        qs_gx_get_enum(&s->lsq_winit, it, "quant.lsq_winit", qs_lsq_winit_names, e);
    /* The learned-width phases' settings (BitPruning): the first width and
     * the floor. */
    long long bmin;
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "bp_bmin")) &&
        qs_gx_get_int(&bmin, it, "quant.bp_bmin", 1, 2, e))
        s->bp_bmin = (int)bmin;
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "bp_init")) &&
        qs_gx_get_num(&s->bp_init, it, "quant.bp_init", 1, QS_BP_BMAX, 0, e) &&
        s->bp_init < s->bp_bmin)
        qs_gx_err(e, "quant.bp_init", "%g is below quant.bp_bmin %d (the widths' floor)",
                  s->bp_init, s->bp_bmin);
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "pact_alpha_init"))) {
        const char *p = "quant.pact_alpha_init";
        if (cJSON_IsNumber(it)) {
            double a;
            if (qs_gx_get_num(&a, it, p, 0, 1e6, 1, e))
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
                      qs_gx_type_name(it));
        }
    }
}

/* --------------------------------------------------------------- synthetic */

void qs_gx_parse_synth(gx_spec *s, const cJSON *obj, gx_errs *e)
{
    static const char *const keys[] = {"radii", "points", "copies", "sigma", "test_points",
                                       "test_radius", "seed", NULL};
    qs_synth_cfg def;
    qs_synth_cfg_default(&def);
    if (!qs_gx_want_object(obj, "synthetic", e))
        return;
    qs_gx_check_keys(obj, "synthetic", keys, e);
    for (const cJSON *it = obj->child; it; it = it->next) {
        char p[GX_PATH_LEN];
        long long ll;
        double d;
        qs_gx_sub_key(p, "synthetic", it->string);
        if (!strcmp(it->string, "seed")) {
            if (qs_gx_get_int(&ll, it, p, 0, 9007199254740992LL, e))
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
            ok = qs_gx_get_int(&ll, it, p, 0, 1 << 30, e);
            same = ok && ll == dv;
            snprintf(defs, sizeof defs, "%d", dv);
        } else if (strcmp(it->string, "sigma") == 0 || strcmp(it->string, "test_radius") == 0) {
            float dv = !strcmp(it->string, "sigma") ? def.sigma : def.test_radius;
            ok = qs_gx_get_num(&d, it, p, 0, 1e6, 0, e);
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

/* ------------------------------------------------------- protocol axes */

/* "axes": {"retrain.lr": [1e-4, 1e-3]}: a protocol setting of one phase
 * kind swept like a model axis. Only that phase kind's job JSON (and so
 * its id, and its children's) depends on the value: a float phase is
 * shared by every retrain.lr value. */
void qs_gx_parse_paxis(gx_spec *s, const cJSON *it, gx_errs *e)
{
    char p[GX_PATH_LEN], phase[16], list[400];
    const char *dot = strchr(it->string, '.');
    const char *key = dot + 1;
    qs_gx_sub_key(p, "axes", it->string);
    snprintf(phase, sizeof phase, "%.*s", (int)(dot - it->string < 15 ? dot - it->string : 15),
             it->string);
    int ph = -1;
    for (int i = 0; i < QS_GX_NPROTO; i++)
        if (!strcmp(phase, qs_gx_phase_keys[i]))
            ph = i;
    s->pax_bad = 1; /* until it is read whole */
    if (ph < 0) {
        qs_gx_err(e, p, "\"%s\" is not a phase (a protocol axis is PHASE.KEY, PHASE one of "
                  "float, retrain, clr, ptq)", phase);
        return;
    }
    int id = find_row(key, (qs_phase)ph);
    if (id < 0) {
        const char *keys[2 * QS_JS_N + 1];
        int nk = 0;
        for (int i = 0; i < QS_JS_N; i++)
            if (qs_js_rows[i].phases & (1u << ph) && qs_js_rows[i].type != QS_JS_LIST)
                keys[nk++] = qs_js_rows[i].grid_key;
        keys[nk] = NULL;
        qs_gx_list_names(list, sizeof list, keys);
        qs_gx_err(e, p, "\"%s\" is not a protocol setting of the %s phase (allowed: %s)", key,
                  phase, list);
        return;
    }
    const qs_js_row *r = &qs_js_rows[id];
    if (r->type == QS_JS_LIST) {
        qs_gx_err(e, p, "%s is a list setting and cannot be an axis", key);
        return;
    }
    for (int i = 0; i < s->npax; i++)
        if (s->pax[i].phase == ph && s->pax[i].id == id) {
            qs_gx_err(e, p, "the same setting as axes.%s.%s: give one", phase,
                      s->pax[i].key);
            return;
        }
    if (s->npax == GX_MAX_PAXES) {
        qs_gx_err(e, p, "at most %d protocol axes", GX_MAX_PAXES);
        return;
    }
    int n = cJSON_IsArray(it) ? cJSON_GetArraySize(it) : 1;
    if (n == 0) {
        qs_gx_err(e, p, "empty list (give at least one value)");
        return;
    }
    gx_paxis *a = &s->pax[s->npax];
    memset(a, 0, sizeof *a);
    if (!(a->v = calloc((size_t)n, sizeof *a->v))) {
        e->oom = 1;
        return;
    }
    int ok = 1;
    if (cJSON_IsArray(it)) {
        int i = 0;
        for (const cJSON *c = it->child; c; c = c->next, i++) {
            char q[GX_PATH_LEN];
            qs_gx_sub_idx(q, p, i);
            ok &= read_value(&a->v[i], r, c, q, e);
        }
    } else {
        ok = read_value(&a->v[0], r, it, p, e);
    }
    a->n = n;
    a->phase = ph;
    a->id = id;
    snprintf(a->key, sizeof a->key, "%s", key);
    snprintf(a->path, sizeof a->path, "%s", p);
    s->npax++;
    if (ok)
        s->pax_bad = 0;
}

/* A protocol axis and a phase object setting the same key: one would be
 * silently ignored, so both are reported. */
void qs_gx_check_paxes(gx_spec *s, gx_errs *e)
{
    for (int i = 0; i < s->npax; i++) {
        const gx_paxis *a = &s->pax[i];
        char p[GX_PATH_LEN], q[GX_PATH_LEN];
        if (qs_js_isset(&s->ov[a->phase], a->id)) {
            qs_gx_sub_key(p, qs_gx_phase_keys[a->phase], a->key);
            qs_gx_err(e, p, "also an axis (%s): give one", a->path);
        }
        for (int d = 0; d < s->nds; d++)
            if (qs_js_isset(&s->ds[d].ov[a->phase], a->id)) {
                qs_gx_sub_key(q, s->ds[d].jpath, qs_gx_phase_keys[a->phase]);
                qs_gx_sub_key(p, q, a->key);
                qs_gx_err(e, p, "also an axis (%s): give one", a->path);
            }
    }
}
