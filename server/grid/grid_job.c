/* The canonical job JSON of a phase: the text its id hashes and the worker
 * reads back (`qsweep train --config`). Protocol settings come from the job
 * spec (worker/job/jobspec.def); model, data and identity keys from the grid's
 * axes and top-level settings. Keys are written in sorted order, and a key
 * only when it can change the result of this phase, so an irrelevant
 * setting (say the CLR period of a float phase) cannot split a phase into
 * two ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_model.h"
#include "err.h"
#include "grid_int.h"
#include "jsonw.h"
#include "lsq_model.h"

/* Which rows p's job JSON carries, and their text. */
static void proto_format(gx_proto *p)
{
    p->written = 0;
    for (int id = 0; id < QS_JS_N; id++) {
        p->text[id][0] = 0;
        if (!qs_js_written(id, &p->c))
            continue;
        p->written |= 1u << id;
        qs_js_format(p->text[id], sizeof p->text[id], id, &p->c);
    }
}

void qs_gx_proto_init(gx_proto *p, const gx_spec *s, const gx_dataset *d, qs_phase ph, int pc)
{
    qs_train_cfg *c = &p->c;
    qs_js_vals ax;
    qs_train_cfg_default(c, d->kind, ph);
    qs_js_apply(c, &s->ov[ph]);
    qs_js_apply(c, &d->ov[ph]);
    /* This combination's protocol axis values (no phase object sets the
     * same keys: qs_gx_check_paxes). */
    memset(&ax, 0, sizeof ax);
    for (int i = 0; i < s->npax; i++) {
        const gx_paxis *a = &s->pax[i];
        if (a->phase == (int)ph)
            qs_js_setv(&ax, a->id, a->v[pc % a->n]);
        pc /= a->n;
    }
    qs_js_apply(c, &ax);
    proto_format(p);
}

void qs_gx_proto_ptq(gx_proto *out, const gx_proto *base, int rounding, int equalize)
{
    *out = *base;
    out->c.ptq.rounding = (qs_ptq_rounding)rounding;
    out->c.ptq.equalize = equalize;
    proto_format(out);
}

void qs_gx_proto_compress(gx_proto *out, const gx_proto *base, const gx_spec *s, double value)
{
    *out = *base;
    qs_svd_cfg *c = &out->c.svd;
    c->method = QS_COMPRESS_SVD;
    c->energy = s->compress_params ? 0 : value;
    c->params = s->compress_params ? value : 0;
    c->epochs = s->compress_epochs;
    c->first_last = s->compress_first_last;
    out->c.epochs = c->epochs > 0 ? c->epochs : 1; /* as the worker derives it */
    proto_format(out);
}

/* One key of the job JSON: text is JSON already (numbers, spec rows); str
 * is escaped on writing. */
typedef struct {
    const char *key;
    const char *text, *str;
    long long i;
    enum { JE_TEXT, JE_STR, JE_INT, JE_BOOL } kind;
} jent;

typedef struct {
    jent e[64];
    int n;
} jlist;

static void put(jlist *l, const char *key, int kind, const char *s, long long i)
{
    if (l->n == (int)(sizeof l->e / sizeof l->e[0]))
        return; /* cannot happen: the keys are a fixed set, counted below */
    jent *e = &l->e[l->n++];
    e->key = key;
    e->kind = kind;
    e->text = kind == JE_TEXT ? s : NULL;
    e->str = kind == JE_STR ? s : NULL;
    e->i = i;
}

static int jent_cmp(const void *a, const void *b)
{
    return strcmp(((const jent *)a)->key, ((const jent *)b)->key);
}

int qs_gx_job_config(char *out, size_t cap, const gx_spec *s, const gx_dataset *d,
                     const qs_model_cfg *mc, qs_phase ph, const gx_proto *p, long long seed,
                     const char *lipschitz)
{
    jlist l;
    int quant = ph != QS_PHASE_FLOAT;
    /* ptq sets its own activation calibration (MSE) and quantizer form */
    int qat = quant && ph != QS_PHASE_PTQ;
    l.n = 0;
    char bp_init[32];
    /* A learned side is named so ("wbits": "learned"), with the widths'
     * settings: keys no fixed-width phase has, so their ids stay. */
    if (quant && (mc->bp_learned & QS_BP_LEARN_A))
        put(&l, "abits", JE_STR, "learned", 0);
    else
        put(&l, "abits", JE_INT, NULL, mc->abits);
    if (quant && mc->bp_learned) {
        qs_fmt_num(bp_init, sizeof bp_init, mc->bp_init);
        put(&l, "bp_init", JE_TEXT, bp_init, 0);
        put(&l, "bp_bmin", JE_INT, NULL, mc->bp_bmin);
    }
    if (qat && mc->abits < 32)
        put(&l, "alpha_init", JE_STR, s->alpha_init, 0);
    if (mc->arch == QS_ARCH_RESNET || mc->arch == QS_ARCH_IMNET_RESNET)
        put(&l, "block", JE_STR, qs_block_name(mc->block), 0);
    /* ImageNet-scale keys, only for their archs: no other phase's JSON
     * (and id) changes. */
    char blocks[64], mult[32], size[16];
    if (mc->arch == QS_ARCH_IMNET_RESNET) {
        snprintf(blocks, sizeof blocks, "[%d,%d,%d,%d]", mc->stage_blocks[0],
                 mc->stage_blocks[1], mc->stage_blocks[2], mc->stage_blocks[3]);
        put(&l, "blocks", JE_TEXT, blocks, 0);
    }
    if (mc->arch == QS_ARCH_MOBILENETV2) {
        qs_fmt_num(mult, sizeof mult, mc->width_mult);
        put(&l, "width_mult", JE_TEXT, mult, 0);
    }
    if (d->kind == QS_DATA_IMAGENET) {
        snprintf(size, sizeof size, "%d", mc->in_h);
        put(&l, "image_size", JE_TEXT, size, 0);
    }
    put(&l, "data", JE_STR, qs_data_kind_name(d->kind), 0);
    if (d->path)
        put(&l, "data_dir", JE_STR, d->path, 0);
    if (d->kind == QS_DATA_SYNTHETIC)
        put(&l, "data_seed", JE_INT, NULL, (long long)s->synth.seed);
    if (mc->arch != QS_ARCH_MOBILENETV2)
        put(&l, "depth", JE_INT, NULL, mc->depth);
    if (quant && mc->wbits < 32)
        put(&l, "first_last_bits", JE_INT, NULL, mc->first_last_bits);
    put(&l, "lipschitz", JE_TEXT, lipschitz, 0);
    put(&l, "model", JE_STR, qs_arch_name(mc->arch), 0);
    put(&l, "phase", JE_STR, qs_phase_name(ph), 0);
    /* Written only for a quantizer other than the default, so the job JSON
     * and id of every Hwang-PACT phase stay what they were. */
    if (qat && mc->quantizer != QS_QUANT_HWANG_PACT) {
        put(&l, "quantizer", JE_STR, qs_quantizer_name(mc->quantizer), 0);
        put(&l, "lsq_per_channel", JE_INT, NULL, mc->lsq_per_channel);
        put(&l, "lsq_winit", JE_STR, qs_lsq_winit_names[mc->lsq_winit], 0);
    }
    if (mc->arch == QS_ARCH_FCDNN)
        put(&l, "residual", JE_BOOL, NULL, mc->residual);
    put(&l, "seed", JE_INT, NULL, seed);
    put(&l, "test_limit", JE_INT, NULL, d->test_limit);
    put(&l, "threads", JE_INT, NULL, s->threads);
    put(&l, "train_limit", JE_INT, NULL, d->train_limit);
    if (quant && (mc->bp_learned & QS_BP_LEARN_W))
        put(&l, "wbits", JE_STR, "learned", 0);
    else
        put(&l, "wbits", JE_INT, NULL, mc->wbits);
    if (mc->arch != QS_ARCH_MOBILENETV2)
        put(&l, "width", JE_INT, NULL, mc->width);
    for (int id = 0; id < QS_JS_N; id++)
        if ((p->written & (1u << id)) &&
            (qs_js_rows[id].when != QS_JS_IF_LEARNED || (quant && mc->bp_learned)))
            put(&l, qs_js_rows[id].key, JE_TEXT, p->text[id], 0);
    qsort(l.e, (size_t)l.n, sizeof l.e[0], jent_cmp);

    qs_buf buf;
    qs_jw w;
    qs_buf_init(&buf);
    qs_jw_init(&w, &buf);
    qs_jw_obj(&w, NULL);
    for (int i = 0; i < l.n; i++) {
        const jent *e = &l.e[i];
        switch (e->kind) {
        case JE_TEXT:
            qs_jw_raw(&w, e->key, e->text);
            break;
        case JE_STR:
            qs_jw_str(&w, e->key, e->str);
            break;
        case JE_INT:
            qs_jw_int(&w, e->key, e->i);
            break;
        case JE_BOOL:
            qs_jw_bool(&w, e->key, (int)e->i);
            break;
        }
    }
    qs_jw_end_obj(&w);
    int rc = qs_buf_ok(&buf);
    if (rc == QS_OK && buf.len + 1 > cap)
        rc = qs_err(QS_EINTERNAL, "job JSON longer than %zu bytes", cap);
    if (rc == QS_OK)
        memcpy(out, buf.p, buf.len + 1);
    qs_buf_free(&buf);
    if (rc != QS_OK)
        return rc;
    return QS_OK;
}
