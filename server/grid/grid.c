/* Grid files: reading, JSON parsing and validation (docs/grid.md).
 * Every problem is collected with its JSON path and all are
 * reported together, so a user fixes a grid in one pass; nothing is expanded
 * (let alone run) from a grid with a problem. This file: the axes, cases,
 * exclusions and the top level; grid_proto.c the protocol and data
 * settings, grid_json.c the problem list and typed value reads. Expansion
 * into the phase DAG is in grid_expand.c (job JSON: grid_job.c). */
#include "grid.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_model.h"
#include "err.h"
#include "io.h"
#include "grid_int.h"
#include "lsq_model.h"

const char *const qs_gx_axis_names[AX_N + 1] = {"arch", "block", "depth", "width",
                                                "residual", "wbits", "abits", "regularizer",
                                                "clr", "seed", "quantizer", "method",
                                                "rounding", "equalize", "blocks",
                                                "width_mult", NULL};
const char *const qs_gx_method_names[] = {"qat", "ptq", NULL};

/* ------------------------------------------------------------ axis values */

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
        if (!qs_gx_get_enum(&x, it, path, qs_arch_names, e))
            return 0;
        v->i = x; /* a qs_arch */
        return 1;
    case AX_BLOCKS:
    case AX_WMULT:
        return qs_gx_model_value(v, k, it, path, e);
    case AX_BLOCK:
        if (!qs_gx_get_enum(&x, it, path, block_names, e))
            return 0;
        v->i = x; /* same order as qs_block */
        return 1;
    case AX_DEPTH:
        if (!qs_gx_get_int(&ll, it, path, 2, QS_MAX_DEPTH, e))
            return 0;
        v->i = ll;
        return 1;
    case AX_WIDTH:
        if (cJSON_IsObject(it)) {
            static const char *const keys[] = {"params", NULL};
            char p[GX_PATH_LEN];
            if (!qs_gx_check_keys(it, path, keys, e))
                return 0;
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "params");
            qs_gx_sub_key(p, path, "params");
            if (!n) {
                qs_gx_err(e, path, "a width budget needs \"params\": N");
                return 0;
            }
            return qs_gx_get_num(&v->params, n, p, 10, 1e12, 0, e);
        }
        if (!cJSON_IsNumber(it)) {
            qs_gx_err(e, path, "must be an integer width k or {\"params\": N}, not %s",
                      qs_gx_type_name(it));
            return 0;
        }
        if (!qs_gx_get_int(&ll, it, path, 1, 65536, e))
            return 0;
        v->i = ll;
        return 1;
    case AX_RESIDUAL:
    case AX_CLR:
    case AX_EQUAL:
        if (!qs_gx_get_bool(&x, it, path, e))
            return 0;
        v->i = x;
        return 1;
    case AX_WBITS:
    case AX_ABITS:
        if (cJSON_IsString(it)) {
            if (strcmp(it->valuestring, "learned") == 0) {
                v->i = GX_BITS_LEARNED;
                return 1;
            }
            qs_gx_err(e, path, "\"%.40s\" is not a bit width (allowed: %d..8, 32 = float, or "
                      "\"learned\")", it->valuestring, k == AX_WBITS ? 1 : 2);
            return 0;
        }
        /* PACT needs two levels: 1-bit activations are not supported. */
        if (!qs_gx_bits_value(&x, it, path, k == AX_WBITS ? 1 : 2, e))
            return 0;
        v->i = x;
        return 1;
    case AX_REG:
        if (!qs_gx_get_enum(&x, it, path, reg_names, e))
            return 0;
        v->i = x;
        return 1;
    case AX_SEED:
        if (!qs_gx_get_int(&ll, it, path, 0, 9007199254740992LL, e))
            return 0;
        v->i = ll;
        return 1;
    case AX_QUANT:
        if (!qs_gx_get_enum(&x, it, path, qs_quantizer_names, e))
            return 0;
        v->i = x; /* a qs_quantizer */
        return 1;
    case AX_METHOD:
        if (!qs_gx_get_enum(&x, it, path, qs_gx_method_names, e))
            return 0;
        v->i = x;
        return 1;
    case AX_ROUND:
        if (!qs_gx_get_enum(&x, it, path, qs_ptq_rounding_names, e))
            return 0;
        v->i = x; /* a qs_ptq_rounding */
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

/* A single value or a list of values of key k. */
static int axis_list(gx_list *l, int k, const cJSON *it, const char *path, gx_errs *e)
{
    int ok = 1;
    l->n = 0;
    if (!cJSON_IsArray(it) || qs_gx_one_value(k, it)) {
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
        qs_gx_sub_idx(p, path, i);
        if (axis_value(&l->v[l->n], k, c, p, e))
            l->n++;
        else
            ok = 0;
    }
    return ok;
}

/* -------------------------------------------------------------------- top */

static void parse_axes(gx_spec *s, const cJSON *obj, gx_errs *e)
{
    if (!qs_gx_want_object(obj, "axes", e))
        return;
    /* Protocol axes ("retrain.lr") are taken out of the tree first, so the
     * model axes are checked as before. The tree is this parse's own. */
    for (cJSON *it = obj->child, *next; it; it = next) {
        next = it->next;
        if (strchr(it->string, '.')) {
            qs_gx_parse_paxis(s, it, e);
            cJSON_Delete(cJSON_DetachItemViaPointer((cJSON *)obj, it));
        }
    }
    qs_gx_check_keys(obj, "axes", qs_gx_axis_names, e);
    for (const cJSON *it = obj->child; it; it = it->next) {
        int k = axis_key(it->string);
        char p[GX_PATH_LEN];
        if (k < 0 || s->axes[k].v)
            continue; /* unknown or duplicate: reported */
        qs_gx_sub_key(p, "axes", it->string);
        if (!axis_list(&s->axes[k], k, it, p, e))
            s->axes_bad |= 1u << k;
        if (s->axes[k].n > 0)
            s->axes_set |= 1u << k;
    }
}

static void parse_cases(gx_spec *s, const cJSON *arr, gx_errs *e)
{
    if (!cJSON_IsArray(arr)) {
        qs_gx_err(e, "cases", "must be a list of objects, not %s", qs_gx_type_name(arr));
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
        qs_gx_sub_idx(path, "cases", i);
        snprintf(cs->path, sizeof cs->path, "%s", path);
        if (!qs_gx_want_object(c, path, e))
            continue;
        qs_gx_check_keys(c, path, qs_gx_axis_names, e);
        if (!c->child)
            qs_gx_err(e, path, "empty case (set at least one key)");
        for (const cJSON *it = c->child; it; it = it->next) {
            int k = axis_key(it->string);
            char p[GX_PATH_LEN];
            if (k < 0 || (cs->set & (1u << k)))
                continue;
            qs_gx_sub_key(p, path, it->string);
            if (cJSON_IsArray(it) && !qs_gx_one_value(k, it)) {
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
        qs_gx_err(e, "exclude", "must be a list of objects, not %s", qs_gx_type_name(arr));
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
        qs_gx_sub_idx(path, "exclude", i);
        if (!qs_gx_want_object(c, path, e))
            continue;
        qs_gx_check_keys(c, path, qs_gx_axis_names, e);
        if (!c->child)
            qs_gx_err(e, path, "empty object would exclude everything");
        for (const cJSON *it = c->child; it; it = it->next) {
            int k = axis_key(it->string);
            char p[GX_PATH_LEN];
            if (k < 0 || (x->set & (1u << k)))
                continue;
            qs_gx_sub_key(p, path, it->string);
            if (axis_list(&x->k[k], k, it, p, e))
                x->set |= 1u << k;
        }
    }
}

void qs_gx_parse(gx_spec *s, const char *text, gx_errs *e)
{
    static const char *const top_keys[] = {"name", "description", "dataset", "axes", "cases",
                                            "exclude", "float", "retrain", "clr", "ptq", "quant",
                                            "lipschitz", "threads", "synthetic", "compress",
                                            NULL};
    const char *end = NULL;
    cJSON *root = NULL;
    memset(s, 0, sizeof *s);
    s->first_last_bits = 8;
    s->bp_bmin = QS_BP_BMIN_DEFAULT;
    s->bp_init = QS_BP_INIT_DEFAULT;
    snprintf(s->alpha_init, sizeof s->alpha_init, "mse");
    s->beta = 1e-4;
    s->threads = 1;
    qs_synth_cfg_default(&s->synth);
    for (int i = 0; i < QS_NPHASES; i++)
        qs_gx_override_init(&s->ov[i]);
    if (!qs_gx_scan(text, e))
        return;
    if (!(root = cJSON_ParseWithOpts(text, &end, 1))) {
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
        qs_gx_err(e, NULL, "a grid is one JSON object, not %s", qs_gx_type_name(root));
        goto cleanup;
    }
    s->json_ok = 1;
    qs_gx_check_strings(root, text, e);
    qs_gx_check_keys(root, "", top_keys, e);

    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!it) {
        qs_gx_err(e, "name", "missing (every grid names its sweep)");
    } else if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) > 200) {
        qs_gx_err(e, "name", "must be a non-empty string of at most 200 characters, not %s",
                  cJSON_IsString(it) ? "that" : qs_gx_type_name(it));
    } else {
        int bad = 0;
        for (const char *p = it->valuestring; *p; p++)
            bad |= (unsigned char)*p < 0x20 || *p == 0x7f;
        if (bad)
            qs_gx_err(e, "name", "control characters are not allowed in the sweep's name");
        else if (!(s->name = strdup(it->valuestring)))
            e->oom = 1;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "description")) && !cJSON_IsString(it))
        qs_gx_err(e, "description", "must be a string, not %s", qs_gx_type_name(it));

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
                qs_gx_sub_idx(p, "dataset", i);
                int n0 = e->n;
                qs_gx_parse_dataset(&s->ds[s->nds++], c, p, e);
                s->ds[s->nds - 1].bad = e->n > n0;
                s->ds_bad |= e->n > n0;
                for (int j = 0; j < s->nds - 1; j++)
                    if (s->ds[j].kind == s->ds[s->nds - 1].kind) {
                        char q[GX_PATH_LEN];
                        qs_gx_sub_key(q, p, "name");
                        qs_gx_err(e, q, "\"%s\" is listed twice",
                                  qs_data_kind_name(s->ds[j].kind));
                    }
            }
        } else if (qs_gx_want_object(it, "dataset", e)) {
            if (!(s->ds = calloc(1, sizeof *s->ds)))
                e->oom = 1;
            else {
                int n0 = e->n;
                qs_gx_parse_dataset(&s->ds[s->nds++], it, "dataset", e);
                s->ds[0].bad = e->n > n0;
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
    for (int i = 0; i < QS_GX_NPROTO; i++)
        if ((it = cJSON_GetObjectItemCaseSensitive(root, qs_gx_phase_keys[i])))
            qs_gx_parse_override(&s->ov[i], it, qs_gx_phase_keys[i], (qs_phase)i, e);
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "quant")))
        qs_gx_parse_quant(s, it, e);
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "compress")))
        qs_gx_parse_compress(s, it, e);
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "lipschitz")) &&
        qs_gx_want_object(it, "lipschitz", e)) {
        static const char *const keys[] = {"beta", NULL};
        qs_gx_check_keys(it, "lipschitz", keys, e);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(it, "beta");
        if (b)
            qs_gx_get_num(&s->beta, b, "lipschitz.beta", 0, QS_MAX_LIPSCHITZ, 1, e);
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "threads"))) {
        long long t;
        if (qs_gx_get_int(&t, it, "threads", 1, QS_MAX_THREADS, e))
            s->threads = (int)t;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "synthetic")))
        qs_gx_parse_synth(s, it, e);
    qs_gx_check_paxes(s, e);
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
    for (int i = 0; i < s->npax; i++)
        free(s->pax[i].v);
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
    /* An imagenet tree is listed before expansion: its class count is the
     * models' and its image count the cost estimate's. */
    if (!e.oom && s.json_ok && check_data)
        for (int i = 0; i < s.nds; i++)
            if (!s.ds[i].bad && s.ds[i].kind == QS_DATA_IMAGENET) {
                qs_gx_imnet_scan(&s.ds[i], &e);
                s.ds_bad |= s.ds[i].bad;
            }
    /* Expansion reports what only a whole combination shows (a depth that
     * does not fit its block, an arch without data); it runs even after
     * parse problems so the user sees them all at once. */
    if (!e.oom && s.json_ok)
        rc = qs_gx_expand(g, &s, &e);
    /* Missing data files are reported beside the other problems, for every
     * entry whose name and path were read. */
    if (rc == QS_OK && !e.oom && check_data) {
        for (int i = 0; i < s.nds; i++)
            if (!s.ds[i].bad && s.ds[i].kind != QS_DATA_IMAGENET &&
                qs_data_check(s.ds[i].kind, s.ds[i].path) != QS_OK) {
                char p[GX_PATH_LEN];
                if (s.ds[i].path)
                    qs_gx_sub_key(p, s.ds[i].jpath, "path");
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
    char *text = NULL;
    size_t n = 0;
    int rc;
    memset(g, 0, sizeof *g);
    *errors = NULL;
    /* A FIFO, directory or device is refused before it is read, and a file
     * over the size limit before memory is taken for it. */
    if ((rc = qs_read_file(&text, &n, path, QS_GRID_MAX_BYTES)) == QS_OK &&
        strlen(text) != n)
        rc = qs_err(QS_EINVAL, "%s: contains a NUL byte (not a JSON text file)", path);
    if (rc == QS_OK)
        rc = qs_grid_parse(g, text, path, check_data, errors);
    else
        *errors = strdup(qs_errmsg());
    free(text);
    return rc;
}
