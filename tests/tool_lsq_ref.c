/* qsweep's numbers for the PyTorch reference of LSQ+ and BitPruning
 * (tests/reference/lsq_reference.py), as JSON on stdout:
 *
 *   build/tests/tool_lsq_ref kernels < cases.json
 *     each case of {"cases": [...]} run through one kernel of lsq.h /
 *     bitprune.h (the "kind" key: lsq_w, lsq_act, lsq_winit, lsq_ainit,
 *     bp_act, bp_w, bp_loss) with the inputs the case carries; the outputs
 *     in the same order;
 *   build/tests/tool_lsq_ref train SETTINGS.json
 *     a float phase from the settings' seed, saved to settings.ckpt (the
 *     reference reads its weights from there), then a retrain phase from it
 *     (LSQ+ or learned widths): the model's nodes, the training data as
 *     the trainer sees it, the quantizer parameters after the prepare step,
 *     and per retrain epoch the loss, test accuracy, parameters, the
 *     gradient of its last step and the quantized weights that step used.
 * A test tool, not part of bin/qsweep and not run by make test. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitprune.h"
#include "buf.h"
#include "data.h"
#include "err.h"
#include "jsonw.h"
#include "lsq.h"
#include "lsq_model.h"
#include "model.h"
#include "train.h"

static void doubles(qs_jw *w, const char *key, const double *v, long n)
{
    qs_jw_arr(w, key);
    for (long i = 0; i < n; i++)
        qs_jw_num(w, NULL, v[i]);
    qs_jw_end_arr(w);
}

/* A float array of o (NULL and *n 0 when absent); caller frees. */
static float *get_floats(const cJSON *o, const char *key, long *n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    *n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    float *v = malloc(sizeof(float) * (size_t)(*n + 1));
    long i = 0;
    if (!v)
        return NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) v[i++] = (float)e->valuedouble;
    return v;
}

static double get_num(const cJSON *o, const char *key, double dflt)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(e) ? e->valuedouble : dflt;
}

static const char *get_str(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(e) ? e->valuestring : dflt;
}

/* One kernel case (see the top); writes its object into w. */
static int kernel_case(qs_jw *w, const cJSON *c)
{
    const char *kind = get_str(c, "kind", "");
    const int bits = (int)get_num(c, "bits", 2), nch = (int)get_num(c, "nch", 1);
    long ns, nd, nx;
    float *x = get_floats(c, "x", &nx), *s = get_floats(c, "s", &ns);
    float *d = get_floats(c, "d", &nd);
    float *y = malloc(sizeof(float) * (size_t)(nx + 1)), *g = calloc((size_t)nx + 1, 4);
    float *gs = calloc((size_t)ns + 1, 4);
    int rc = QS_OK;
    if (!x || !s || !d || !y || !g || !gs) {
        rc = qs_err(QS_ENOMEM, "out of memory for a kernel case");
        goto cleanup;
    }
    const int pair = !strcmp(kind, "lsq_act") || !strcmp(kind, "bp_act") || !strcmp(kind, "bp_w");
    const int bwd = pair || !strcmp(kind, "lsq_w");
    if ((pair && ns < 2) || (!strcmp(kind, "lsq_w") && ns < nch) || nch < 1 || nx % nch ||
        (bwd && nd != nx) ||
        (!strcmp(kind, "bp_loss") && strcmp(get_str(c, "mode", "uniform"), "uniform") && nd < nx)) {
        rc = qs_err(QS_EINVAL, "kernel case \"%s\": %ld values of \"x\", %ld of \"s\", %ld of "
                    "\"d\" do not fit \"nch\" %d", kind, nx, ns, nd, nch);
        goto cleanup;
    }
    qs_jw_obj(w, NULL);
    qs_jw_str(w, "kind", kind);
    if (!strcmp(kind, "lsq_w")) { /* x = w, s = steps, d = dL/dq */
        qs_lsq_w_forward(y, x, (size_t)nx, s, nch, bits);
        qs_lsq_w_backward(g, gs, d, x, (size_t)nx, s, nch, bits);
        qs_jw_floats(w, "q", y, nx);
        qs_jw_floats(w, "dw", g, nx);
        qs_jw_floats(w, "ds", gs, ns);
    } else if (!strcmp(kind, "lsq_act")) { /* s[0] = s, s[1] = beta */
        double ds, db;
        qs_lsq_act_forward(y, x, (size_t)nx, s[0], s[1], bits);
        qs_lsq_act_backward(g, &ds, &db, d, x, (size_t)nx, s[0], s[1], bits,
                            (size_t)get_num(c, "features", 1));
        qs_jw_floats(w, "y", y, nx);
        qs_jw_floats(w, "dx", g, nx);
        qs_jw_num(w, "ds", ds);
        qs_jw_num(w, "dbeta", db);
    } else if (!strcmp(kind, "lsq_winit")) {
        float *st = malloc(sizeof(float) * (size_t)nch);
        if (!st) {
            qs_jw_end_obj(w);
            rc = qs_err(QS_ENOMEM, "out of memory for a kernel case");
            goto cleanup;
        }
        qs_lsq_w_init(st, x, (size_t)nx, nch, bits,
                      strcmp(get_str(c, "rule", "mse"), "mean") ? QS_LSQ_WINIT_MSE
                                                                : QS_LSQ_WINIT_MEAN);
        qs_jw_floats(w, "s", st, nch);
        free(st);
    } else if (!strcmp(kind, "lsq_ainit")) {
        float sv, bv;
        qs_lsq_act_init_mse(&sv, &bv, x, (size_t)nx, bits, (int)get_num(c, "offset", 0));
        qs_jw_float(w, "s", sv);
        qs_jw_float(w, "beta", bv);
    } else if (!strcmp(kind, "bp_act")) { /* s[0] = alpha, s[1] = b */
        double db = 0;
        qs_bp_act_forward(y, x, (size_t)nx, s[0], s[1]);
        double da = qs_bp_act_backward(g, &db, d, x, (size_t)nx, s[0], s[1]);
        qs_jw_floats(w, "y", y, nx);
        qs_jw_floats(w, "dx", g, nx);
        qs_jw_num(w, "db", db);
        qs_jw_num(w, "dalpha", da);
    } else if (!strcmp(kind, "bp_w")) { /* s[0] = clip, s[1] = b */
        double db = 0;
        qs_bp_w_forward(y, x, (size_t)nx, s[0], s[1]);
        qs_bp_w_backward(g, &db, d, x, (size_t)nx, s[0], s[1]);
        qs_jw_floats(w, "q", y, nx);
        qs_jw_floats(w, "dw", g, nx);
        qs_jw_num(w, "db", db);
    } else if (!strcmp(kind, "bp_loss")) { /* x = b, d = the counts */
        double r = 0, *db = calloc((size_t)nx + 1, sizeof(double));
        double *cnt = malloc(sizeof(double) * (size_t)(nd + 1));
        if (!db || !cnt) {
            free(db);
            free(cnt);
            qs_jw_end_obj(w);
            rc = qs_err(QS_ENOMEM, "out of memory for a kernel case");
            goto cleanup;
        }
        for (long i = 0; i < nd; i++)
            cnt[i] = d[i];
        int mode = qs_name_index(qs_bp_weighting_names, get_str(c, "mode", "uniform"));
        rc = qs_bp_loss(&r, db, x, cnt, cnt, (int)nx, (qs_bp_weighting)mode,
                        get_num(c, "lambda", 0));
        qs_jw_num(w, "r", r);
        doubles(w, "db", db, nx);
        free(db);
        free(cnt);
    } else {
        rc = qs_err(QS_EINVAL, "unknown kernel case kind \"%s\"", kind);
    }
    qs_jw_end_obj(w);
cleanup:
    free(x);
    free(s);
    free(d);
    free(y);
    free(g);
    free(gs);
    return rc;
}

static int kernels(qs_jw *w, const cJSON *in)
{
    const cJSON *c;
    int rc = QS_OK;
    qs_jw_arr(w, "cases");
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(in, "cases"))
        if ((rc = kernel_case(w, c)))
            break;
    qs_jw_end_arr(w);
    return rc;
}

/* ------------------------------------------------------------ training */

static void nodes(qs_jw *w, const qs_model *m)
{
    static const char *const names[] = {"input", "conv", "dwconv", "bn", "relu",
                                        "linear", "gap", "add", "maxpool"};
    qs_jw_arr(w, "nodes");
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        qs_jw_obj(w, NULL);
        qs_jw_str(w, "type", names[n->type]);
        qs_jw_int(w, "in0", n->in0);
        qs_jw_int(w, "in1", n->in1);
        qs_jw_int(w, "c", n->c);
        qs_jw_int(w, "h", n->h);
        qs_jw_int(w, "w", n->w);
        qs_jw_int(w, "k", n->cs.k);
        qs_jw_int(w, "cin", n->cs.c);
        qs_jw_int(w, "kh", n->cs.kh);
        qs_jw_int(w, "stride", n->cs.stride);
        qs_jw_int(w, "pad", n->cs.pad);
        qs_jw_int(w, "in_features", n->in_features);
        qs_jw_num(w, "scale", n->scale);
        qs_jw_int(w, "w_off", n->w_off);
        qs_jw_int(w, "b_off", n->b_off);
        qs_jw_int(w, "alpha_off", n->alpha_off);
        qs_jw_int(w, "step_off", n->step_off);
        qs_jw_int(w, "nstep", n->nstep);
        qs_jw_int(w, "bits_off", n->bits_off);
        qs_jw_int(w, "wlen", n->wlen);
        qs_jw_int(w, "rm_off", n->rm_off);
        qs_jw_int(w, "rv_off", n->rv_off);
        qs_jw_int(w, "wbits", n->wbits);
        qs_jw_int(w, "abits", n->abits);
        qs_jw_end_obj(w);
    }
    qs_jw_end_arr(w);
}

/* The whole split as normalised floats, in index order, no augmentation. */
static int dump_data(qs_jw *w, const char *key, const qs_dataset *d)
{
    size_t per = (size_t)d->c * d->h * d->w;
    float *x = malloc(sizeof(float) * per * (size_t)d->n);
    int *y = malloc(sizeof(int) * (size_t)d->n), *idx = malloc(sizeof(int) * (size_t)d->n);
    int rc = QS_OK;
    if (!x || !y || !idx) {
        rc = qs_err(QS_ENOMEM, "out of memory for the data of %s", key);
        goto cleanup;
    }
    for (int i = 0; i < d->n; i++)
        idx[i] = i;
    qs_data_batch(x, y, d, idx, d->n, 0, NULL);
    qs_jw_obj(w, key);
    qs_jw_int(w, "n", d->n);
    qs_jw_floats(w, "x", x, (long)(per * (size_t)d->n));
    qs_jw_arr(w, "y");
    for (int i = 0; i < d->n; i++)
        qs_jw_int(w, NULL, y[i]);
    qs_jw_end_arr(w);
    qs_jw_end_obj(w);
cleanup:
    free(x);
    free(y);
    free(idx);
    return rc;
}

typedef struct {
    qs_jw *w;
    qs_trainer *t;
} epoch_ctx;

static int on_epoch(void *user, const qs_epoch_metrics *em)
{
    epoch_ctx *e = user;
    const qs_model *m = &e->t->model;
    qs_jw_obj(e->w, NULL);
    qs_jw_int(e->w, "epoch", em->epoch);
    qs_jw_num(e->w, "loss", em->train_loss);
    qs_jw_num(e->w, "test_acc", em->test_acc);
    qs_jw_floats(e->w, "params", m->param, m->nparam);
    qs_jw_floats(e->w, "grad", m->grad, m->nparam); /* of the epoch's last step */
    qs_jw_arr(e->w, "qw"); /* the quantized weights that step used */
    for (int i = 0; i < m->nnode; i++)
        if (m->nodes[i].qw && m->nodes[i].wbits < 32)
            qs_jw_floats(e->w, NULL, m->nodes[i].qw, m->nodes[i].wlen);
    qs_jw_end_arr(e->w);
    qs_jw_end_obj(e->w);
    return 0;
}

static int train(qs_jw *w, const cJSON *in)
{
    qs_dataset tr = {0}, te = {0};
    qs_trainer ft, rt;
    int rc, ft_ok = 0, rt_ok = 0;
    qs_synth_cfg syn;
    qs_synth_cfg_default(&syn);
    qs_data_kind kind;
    if ((rc = qs_data_kind_parse(&kind, get_str(in, "data", "synthetic"))))
        return rc;
    if ((rc = qs_data_load(&tr, &te, kind, NULL, (int)get_num(in, "n", 256),
                           (int)get_num(in, "test_n", 1000), &syn)))
        return rc;
    qs_model_cfg mc;
    memset(&mc, 0, sizeof mc);
    qs_data_shape(kind, &mc.in_c, &mc.in_h, &mc.in_w, &mc.classes);
    mc.arch = strcmp(get_str(in, "arch", "fcdnn"), "resnet") ? QS_ARCH_FCDNN : QS_ARCH_RESNET;
    if ((rc = qs_block_parse(&mc.block, get_str(in, "block", "basic"))))
        goto cleanup;
    mc.depth = (int)get_num(in, "depth", 4);
    mc.width = (int)get_num(in, "width", 32);
    mc.wbits = mc.abits = mc.first_last_bits = 32;
    qs_train_cfg fc;
    qs_train_cfg_default(&fc, kind, QS_PHASE_FLOAT);
    fc.epochs = (int)get_num(in, "float_epochs", 3);
    fc.batch = (int)get_num(in, "float_batch", 64);
    fc.seed = (uint64_t)get_num(in, "seed", 1);
    fc.augment = 0;
    fc.threads = 1;
    const char *ckpt = get_str(in, "ckpt", "lsq_ref_float.qsc");
    if ((rc = qs_trainer_init(&ft, &mc, &fc, &tr, NULL)))
        goto cleanup;
    ft_ok = 1;
    if ((rc = qs_trainer_run(&ft, 0, NULL, NULL)) || (rc = qs_trainer_save(&ft, ckpt)))
        goto cleanup;
    /* The retrain: the quantizer of the settings, Adam at a constant lr
     * (the reference's optimiser), one full-batch step per epoch unless a
     * batch is given. */
    mc.wbits = (int)get_num(in, "wbits", 4);
    mc.abits = (int)get_num(in, "abits", 4);
    mc.first_last_bits = 8;
    if (get_num(in, "bitprune", 0)) {
        mc.bp_learned = QS_BP_LEARN_W | QS_BP_LEARN_A;
        mc.wbits = mc.abits = 8;
        mc.bp_bmin = (int)get_num(in, "bp_bmin", 2);
        mc.bp_init = get_num(in, "bp_init", 8);
    } else {
        mc.quantizer = QS_QUANT_LSQ;
        mc.lsq_per_channel = (int)get_num(in, "per_channel", 0);
        mc.lsq_winit = strcmp(get_str(in, "winit", "mse"), "mean") ? QS_LSQ_WINIT_MSE
                                                                    : QS_LSQ_WINIT_MEAN;
    }
    qs_train_cfg rc_;
    qs_train_cfg_default(&rc_, kind, QS_PHASE_RETRAIN);
    rc_.epochs = (int)get_num(in, "epochs", 3);
    rc_.batch = (int)get_num(in, "batch", tr.n);
    rc_.seed = fc.seed + 1;
    rc_.augment = 0;
    rc_.threads = 1;
    rc_.opt.kind = QS_OPT_ADAM;
    rc_.opt.beta1 = 0.9, rc_.opt.beta2 = 0.999, rc_.opt.eps = 1e-8;
    rc_.opt.weight_decay = 0;
    rc_.sched.kind = QS_SCHED_CONST;
    rc_.sched.lr = get_num(in, "lr", 1e-3);
    rc_.bp_lambda = get_num(in, "bp_lambda", 0.1);
    rc_.bp_lr_scale = get_num(in, "bp_lr_scale", 10);
    rc_.bp_finetune_epochs = (int)get_num(in, "bp_finetune_epochs", 1);
    if ((rc = qs_trainer_init(&rt, &mc, &rc_, &tr, get_num(in, "eval", 0) ? &te : NULL)))
        goto cleanup;
    rt_ok = 1;
    if ((rc = qs_trainer_load_parent(&rt, ckpt)) || (rc = qs_trainer_prepare_quant(&rt)))
        goto cleanup;
    const qs_model *m = &rt.model;
    qs_jw_int(w, "nparam", m->nparam);
    qs_jw_int(w, "nalpha", m->nalpha);
    qs_jw_int(w, "nbits", m->nbits);
    nodes(w, m);
    qs_jw_floats(w, "init", m->param, m->nparam);
    if ((rc = dump_data(w, "train", &tr)) || (get_num(in, "eval", 0) &&
                                              (rc = dump_data(w, "test", &te))))
        goto cleanup;
    epoch_ctx e = {w, &rt};
    qs_jw_arr(w, "epochs");
    rc = qs_trainer_run(&rt, 0, on_epoch, &e);
    qs_jw_end_arr(w);
cleanup:
    if (ft_ok)
        qs_trainer_free(&ft);
    if (rt_ok)
        qs_trainer_free(&rt);
    qs_data_free(&tr);
    qs_data_free(&te);
    return rc;
}

static char *slurp(FILE *f)
{
    qs_buf b;
    qs_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        qs_buf_add(&b, chunk, n);
    qs_buf_add(&b, "", 1);
    return qs_buf_ok(&b) == QS_OK ? b.p : NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "kernels") && strcmp(argv[1], "train")) ||
        (!strcmp(argv[1], "train") && argc < 3)) {
        fprintf(stderr, "usage: tool_lsq_ref kernels < CASES.json | train SETTINGS.json\n");
        return 2;
    }
    FILE *f = argc > 2 ? fopen(argv[2], "rb") : stdin;
    if (!f) {
        fprintf(stderr, "tool_lsq_ref: cannot open %s\n", argv[2]);
        return 1;
    }
    char *text = slurp(f);
    if (f != stdin)
        fclose(f);
    cJSON *in = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!in) {
        fprintf(stderr, "tool_lsq_ref: %s: not JSON\n", argc > 2 ? argv[2] : "stdin");
        return 1;
    }
    qs_buf out;
    qs_jw w;
    qs_buf_init(&out);
    qs_jw_init(&w, &out);
    qs_jw_obj(&w, NULL);
    int rc = !strcmp(argv[1], "kernels") ? kernels(&w, in) : train(&w, in);
    qs_jw_end_obj(&w);
    cJSON_Delete(in);
    if (rc || qs_buf_ok(&out) != QS_OK) {
        fprintf(stderr, "tool_lsq_ref: %s\n", rc ? qs_errmsg() : "out of memory");
        qs_buf_free(&out);
        return 1;
    }
    fwrite(out.p, 1, out.len, stdout);
    putchar('\n');
    qs_buf_free(&out);
    return 0;
}
