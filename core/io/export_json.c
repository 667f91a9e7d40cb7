/* The JSON form of an export (docs/export.md): written as a stream (the
 * codes of a large model are megabytes), read back with cJSON. */
#include "export.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jsonw.h"

#define QS_EXPORT_VERSION 1

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(int ch)
{
    const char *p = ch ? strchr(b64, ch) : NULL;
    return p ? (int)(p - b64) : -1;
}

/* Decodes s into exactly n bytes; -1 if s is not base64 of n bytes. */
static int get_b64(uint8_t *out, size_t n, const char *s)
{
    size_t len = strlen(s), k = 0;
    if (len != (n + 2) / 3 * 4)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        for (int j = 0; j < 4; j++) {
            int c = b64_val(s[i + j]);
            if (c < 0 && !(s[i + j] == '=' && i + 4 == len && j >= 2))
                return -1;
            v = v << 6 | (uint32_t)(c < 0 ? 0 : c);
        }
        for (int j = 0; j < 3 && k < n; j++)
            out[k++] = (uint8_t)(v >> (16 - 8 * j));
    }
    return 0;
}

static void put_ints(qs_jw *w, const char *key, const int *v, int n)
{
    qs_jw_arr(w, key);
    for (int i = 0; i < n; i++)
        qs_jw_int(w, NULL, v[i]);
    qs_jw_end_arr(w);
}

static void put_node(qs_jw *w, const qs_export *e, int i)
{
    const qs_export_node *x = &e->nodes[i];
    int shape[3] = {x->c, x->h, x->w};
    qs_jw_obj(w, NULL);
    qs_jw_int(w, "id", i);
    qs_jw_str(w, "type", qs_export_type_name(x));
    put_ints(w, "shape", shape, 3);
    if (x->in0 >= 0) {
        int in[2] = {x->in0, x->in1};
        put_ints(w, "inputs", in, x->in1 >= 0 ? 2 : 1);
    }
    switch (x->type) {
    case QS_NODE_CONV:
    case QS_NODE_DWCONV:
    case QS_NODE_LINEAR:
        put_ints(w, "weight_shape", x->shape, 4);
        qs_jw_int(w, "stride", x->stride);
        qs_jw_int(w, "pad", x->pad);
        qs_jw_int(w, "bits", x->bits);
        if (x->bits < 32) {
            qs_jw_float(w, "step", x->step);
            qs_jw_b64(w, "codes", x->codes, (size_t)x->wlen);
        } else {
            /* Little-endian float32 bytes (every supported target). */
            qs_jw_b64(w, "weights_f32", x->wf, (size_t)x->wlen * 4);
        }
        if (x->bias)
            qs_jw_floats(w, "bias", x->bias, x->c);
        break;
    case QS_NODE_BN:
        qs_jw_float(w, "eps", x->eps);
        qs_jw_floats(w, "gamma", x->gamma, x->c);
        qs_jw_floats(w, "beta", x->beta, x->c);
        qs_jw_floats(w, "mean", x->mean, x->c);
        qs_jw_floats(w, "var", x->var, x->c);
        break;
    case QS_NODE_RELU:
        if (x->abits < 32) {
            qs_jw_int(w, "bits", x->abits);
            qs_jw_float(w, "alpha", x->alpha);
            qs_jw_int(w, "levels", (1L << x->abits) - 1);
        }
        break;
    case QS_NODE_ADD:
        qs_jw_float(w, "scale", x->scale);
        break;
    default:
        break;
    }
    qs_jw_end_obj(w);
}

/* Writes what the buffer holds and empties it: the codes of a large model
 * are megabytes, so the text goes out node by node. */
static int flush(FILE *f, qs_buf *b)
{
    int rc = qs_buf_ok(b);
    if (rc == QS_OK && b->len && fwrite(b->p, 1, b->len, f) != b->len)
        rc = QS_EIO;
    qs_buf_reset(b);
    return rc;
}

int qs_export_write_json(const qs_export *e, const char *path)
{
    const qs_model_cfg *c = &e->cfg;
    FILE *f = fopen(path, "wb");
    if (!f)
        return qs_err(QS_EIO, "%s: cannot write: %s", path, strerror(errno));
    qs_buf b;
    qs_jw w;
    int input[3] = {c->in_c, c->in_h, c->in_w};
    qs_buf_init(&b);
    qs_jw_init(&w, &b);
    qs_jw_obj(&w, NULL);
    qs_jw_str(&w, "format", "qsweep-export");
    qs_jw_int(&w, "version", QS_EXPORT_VERSION);
    qs_jw_str(&w, "model", e->model);
    qs_jw_str(&w, "arch", c->arch == QS_ARCH_FCDNN ? "fcdnn" : "resnet");
    qs_jw_str(&w, "block", qs_block_name(c->block));
    qs_jw_int(&w, "depth", c->depth);
    qs_jw_int(&w, "width", c->width);
    qs_jw_bool(&w, "residual", c->residual);
    put_ints(&w, "input", input, 3);
    qs_jw_int(&w, "classes", c->classes);
    qs_jw_int(&w, "wbits", c->wbits);
    qs_jw_int(&w, "abits", c->abits);
    qs_jw_int(&w, "first_last_bits", c->first_last_bits);
    qs_jw_str(&w, "phase", e->phase);
    qs_jw_int(&w, "epoch", e->epoch_done);
    qs_jw_int(&w, "epochs", e->epochs);
    qs_jw_int(&w, "output", e->n - 1);
    qs_jw_arr(&w, "nodes");
    int rc = QS_OK;
    for (int i = 0; i < e->n && rc == QS_OK; i++) {
        put_node(&w, e, i);
        /* One node per line: a diff of two exports reads node by node. */
        qs_buf_add(&b, "\n", 1);
        rc = flush(f, &b);
    }
    qs_jw_end_arr(&w);
    qs_jw_end_obj(&w);
    qs_buf_add(&b, "\n", 1);
    if (rc == QS_OK)
        rc = flush(f, &b);
    qs_buf_free(&b);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rc != QS_OK)
        return qs_err(rc == QS_ENOMEM ? QS_ENOMEM : QS_EIO, "%s: write failed", path);
    return QS_OK;
}

/* ---------------------------------------------------------------- reading */

static int get_int(const cJSON *o, const char *key, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return -1;
    *out = v->valueint;
    return 0;
}

static int get_num(const cJSON *o, const char *key, float *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return -1;
    *out = (float)v->valuedouble;
    return 0;
}

static int get_ints(const cJSON *o, const char *key, int *out, int n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return -1;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(v))
            return -1;
        out[i] = v->valueint;
    }
    return 0;
}

static float *get_floats(const cJSON *o, const char *key, long n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return NULL;
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    long i = 0;
    for (const cJSON *v = a->child; p && v; v = v->next, i++) {
        if (!cJSON_IsNumber(v)) {
            free(p);
            return NULL;
        }
        p[i] = (float)v->valuedouble;
    }
    return p;
}

static void *get_blob(const cJSON *o, const char *key, size_t bytes)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    uint8_t *p = cJSON_IsString(s) ? malloc(bytes ? bytes : 1) : NULL;
    if (p && get_b64(p, bytes, s->valuestring) != 0) {
        free(p);
        p = NULL;
    }
    return p;
}

static int type_of(const char *s, qs_node_type *t)
{
    static const struct { const char *name; qs_node_type t; } tab[] = {
        {"input", QS_NODE_INPUT}, {"conv", QS_NODE_CONV}, {"dwconv", QS_NODE_DWCONV},
        {"bn", QS_NODE_BN}, {"relu", QS_NODE_RELU}, {"pact", QS_NODE_RELU},
        {"linear", QS_NODE_LINEAR}, {"gap", QS_NODE_GAP}, {"add", QS_NODE_ADD}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(s, tab[i].name) == 0) {
            *t = tab[i].t;
            return 0;
        }
    return -1;
}

/* One node; returns a short description of what is wrong, or NULL. */
static const char *read_node(qs_export_node *x, const cJSON *o, int i)
{
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
    int shape[3], in[2] = {-1, -1};
    if (!cJSON_IsString(ty) || type_of(ty->valuestring, &x->type))
        return "unknown \"type\"";
    if (get_ints(o, "shape", shape, 3))
        return "\"shape\" must be [c, h, w]";
    x->c = shape[0];
    x->h = shape[1];
    x->w = shape[2];
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(o, "inputs");
    int nin = cJSON_IsArray(ins) ? cJSON_GetArraySize(ins) : 0;
    if ((x->type == QS_NODE_INPUT) != (nin == 0) || nin > 2 ||
        (x->type == QS_NODE_ADD) != (nin == 2) || (nin && get_ints(o, "inputs", in, nin)))
        return "\"inputs\" do not fit the node type";
    x->in0 = in[0];
    x->in1 = in[1];
    if (x->in0 >= i || x->in1 >= i || (nin && x->in0 < 0) || (nin == 2 && x->in1 < 0))
        return "\"inputs\" must name earlier nodes";
    x->bits = x->abits = 32;
    x->scale = 1.0f;
    switch (x->type) {
    case QS_NODE_CONV:
    case QS_NODE_DWCONV:
    case QS_NODE_LINEAR:
        if (get_ints(o, "weight_shape", x->shape, 4) || get_int(o, "stride", &x->stride) ||
            get_int(o, "pad", &x->pad) || get_int(o, "bits", &x->bits))
            return "a weight layer needs weight_shape, stride, pad and bits";
        x->wlen = (long)x->shape[0] * x->shape[1] * x->shape[2] * x->shape[3];
        if (x->wlen <= 0 || x->shape[0] != x->c || !((x->bits >= 1 && x->bits <= 8) || x->bits == 32))
            return "bad weight_shape or bits";
        if (x->bits < 32) {
            if (get_num(o, "step", &x->step))
                return "missing \"step\"";
            if (!(x->codes = get_blob(o, "codes", (size_t)x->wlen)))
                return "\"codes\" must be base64 of weight_shape int8 values";
        } else if (!(x->wf = get_blob(o, "weights_f32", (size_t)x->wlen * 4))) {
            return "\"weights_f32\" must be base64 of weight_shape float32 values";
        }
        if (cJSON_GetObjectItemCaseSensitive(o, "bias") && !(x->bias = get_floats(o, "bias", x->c)))
            return "\"bias\" must hold one number per output";
        break;
    case QS_NODE_BN:
        if (get_num(o, "eps", &x->eps) || !(x->gamma = get_floats(o, "gamma", x->c)) ||
            !(x->beta = get_floats(o, "beta", x->c)) || !(x->mean = get_floats(o, "mean", x->c)) ||
            !(x->var = get_floats(o, "var", x->c)))
            return "bn needs eps and gamma, beta, mean, var of one number per channel";
        break;
    case QS_NODE_RELU:
        if (strcmp(ty->valuestring, "pact") == 0 &&
            (get_int(o, "bits", &x->abits) || get_num(o, "alpha", &x->alpha) ||
             x->abits < 2 || x->abits > 8 || !(x->alpha > 0)))
            return "pact needs bits 2..8 and alpha > 0";
        break;
    case QS_NODE_ADD:
        if (get_num(o, "scale", &x->scale))
            return "add needs \"scale\"";
        break;
    default:
        break;
    }
    return NULL;
}

static int read_header(qs_export *e, const cJSON *root, const char *path)
{
    qs_model_cfg *c = &e->cfg;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "arch");
    const cJSON *blk = cJSON_GetObjectItemCaseSensitive(root, "block");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *phase = cJSON_GetObjectItemCaseSensitive(root, "phase");
    int version = 0, in[3];
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "qsweep-export") != 0)
        return qs_err(QS_EFORMAT, "%s: not a qsweep export (\"format\" is not \"qsweep-export\")", path);
    if (get_int(root, "version", &version) || version != QS_EXPORT_VERSION)
        return qs_err(QS_EFORMAT, "%s: export version %d, this qsweep reads version %d", path,
                      version, QS_EXPORT_VERSION);
    if (!cJSON_IsString(arch) || !cJSON_IsString(blk) || !cJSON_IsString(model) ||
        get_int(root, "depth", &c->depth) || get_int(root, "width", &c->width) ||
        get_ints(root, "input", in, 3) || get_int(root, "classes", &c->classes) ||
        get_int(root, "wbits", &c->wbits) || get_int(root, "abits", &c->abits) ||
        get_int(root, "first_last_bits", &c->first_last_bits))
        return qs_err(QS_EFORMAT, "%s: missing or mistyped model keys", path);
    c->arch = strcmp(arch->valuestring, "fcdnn") == 0 ? QS_ARCH_FCDNN : QS_ARCH_RESNET;
    if (qs_block_parse(&c->block, blk->valuestring))
        return qs_err_wrap(QS_EFORMAT, "%s", path);
    c->residual = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "residual"));
    c->in_c = in[0];
    c->in_h = in[1];
    c->in_w = in[2];
    snprintf(e->model, sizeof e->model, "%s", model->valuestring);
    if (cJSON_IsString(phase))
        snprintf(e->phase, sizeof e->phase, "%s", phase->valuestring);
    get_int(root, "epoch", &e->epoch_done);
    get_int(root, "epochs", &e->epochs);
    return QS_OK;
}

static char *slurp(const char *path, int *rc)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    if (!f) {
        *rc = qs_err(QS_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0)
        text = malloc((size_t)n + 1);
    if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
        free(text);
        text = NULL;
        *rc = qs_err(QS_EIO, "%s: read failed", path);
    } else {
        text[n] = 0;
    }
    fclose(f);
    return text;
}

int qs_export_read_json(qs_export *e, const char *path)
{
    int rc = QS_OK;
    cJSON *root = NULL;
    memset(e, 0, sizeof *e);
    char *text = slurp(path, &rc);
    if (!text)
        return rc;
    root = cJSON_Parse(text);
    if (!cJSON_IsObject(root)) {
        rc = qs_err(QS_EFORMAT, "%s: not a JSON object", path);
        goto cleanup;
    }
    if ((rc = read_header(e, root, path)))
        goto cleanup;
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    int n = cJSON_IsArray(nodes) ? cJSON_GetArraySize(nodes) : 0;
    if (n < 2) {
        rc = qs_err(QS_EFORMAT, "%s: \"nodes\" must list the graph", path);
        goto cleanup;
    }
    if (!(e->nodes = calloc((size_t)n, sizeof *e->nodes))) {
        rc = qs_err(QS_ENOMEM, "%s: out of memory for %d nodes", path, n);
        goto cleanup;
    }
    e->n = n;
    int i = 0;
    for (const cJSON *o = nodes->child; o; o = o->next, i++) {
        const char *why = read_node(&e->nodes[i], o, i);
        if (why) {
            rc = qs_err(QS_EFORMAT, "%s: node %d: %s", path, i, why);
            goto cleanup;
        }
    }
cleanup:
    if (rc)
        qs_export_free(e);
    cJSON_Delete(root);
    free(text);
    return rc;
}
