/* Quantization-aware training protocol (methods.md sections 2, 3, 5, 8):
 * which layers get which bits, alpha calibration (2,000 examples, float
 * weights, BN in eval mode), PACT L2, what carries from retrain to clr,
 * fresh optimisers, Lipschitz scope, bit-identical resume, cost. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "model.h"
#include "qat_util.h"
#include "quant.h"
#include "tharness.h"
#include "train.h"

static qs_dataset syn_tr, syn_te, fm_tr, fm_te;
static uint8_t *float_ck;     /* fcdnn-32-4 float, 2 epochs on 4000 examples */
static size_t float_len;

static int setup(void)
{
    qs_trainer t;
    double acc;
    if (qu_synth(&syn_tr, &syn_te, 4000, 1000) ||
        qs_data_load(&fm_tr, &fm_te, QS_DATA_FMNIST, NULL, 384, 128, NULL))
        return -1;
    if (qu_trainer(&t, qu_fcdnn(32, 4, 32, 32), QS_DATA_SYNTHETIC, QS_PHASE_FLOAT, 2, 5,
                   &syn_tr, &syn_te, NULL, 0))
        return -1;
    return qu_finish(&t, &float_ck, &float_len, &acc);
}

/* Distinct values of a float array (small counts only). */
static int distinct(const float *v, long n, int cap)
{
    float seen[512];
    int k = 0;
    for (long i = 0; i < n && k <= cap; i++) {
        int j = 0;
        while (j < k && seen[j] != v[i])
            j++;
        if (j == k && k < 512)
            seen[k++] = v[i];
    }
    return k;
}

/* First and last weight layers at first_last_bits, every other conv
 * (shortcuts and depthwise included) and linear at wbits; the quantized
 * weights take at most 2^b - 1 values (2 when binary). */
static void test_first_last_bits(void)
{
    for (int b = -1; b <= QS_BLOCK_DEPTHWISE; b++) {
        qs_model_cfg c = b < 0 ? qu_fcdnn(16, 4, 2, 2)
                               : qu_resnet((qs_block)b, b == QS_BLOCK_DEPTHWISE ? 11 : 8, 4, 2, 2);
        if (b == QS_BLOCK_PREACT)
            c.wbits = 1;
        qs_model m;
        qs_rng r;
        T_CHECK(qs_model_build(&m, &c, 2) == 0, "build: %s", qs_errmsg());
        qs_rng_seed(&r, 1);
        qs_model_init(&m, &r);
        m.quant_ready = 1;
        float *x = calloc((size_t)2 * c.in_c * c.in_h * c.in_w, sizeof *x);
        qs_model_forward(&m, x, 2, 0);
        free(x);
        int first = -1, last = -1;
        for (int i = 0; i < m.nnode; i++) {
            qs_node_type t = m.nodes[i].type;
            if (t == QS_NODE_CONV || t == QS_NODE_DWCONV || t == QS_NODE_LINEAR) {
                if (first < 0)
                    first = i;
                last = i;
            }
        }
        for (int i = 0; i < m.nnode; i++) {
            const qs_node *n = &m.nodes[i];
            if (n->type != QS_NODE_CONV && n->type != QS_NODE_DWCONV && n->type != QS_NODE_LINEAR)
                continue;
            int want = (i == first || i == last) ? 8 : c.wbits;
            T_CHECK(n->wbits == want, "block %d node %d: %d bits, want %d", b, i, n->wbits, want);
            int levels = want == 1 ? 2 : (1 << want) - 1;
            int got = distinct(n->qw, n->wlen, levels);
            T_CHECK(got <= levels, "block %d node %d: %d distinct quantized weights > %d", b, i,
                    got, levels);
            T_CHECK(n->step > 0, "block %d node %d: no step", b, i);
        }
        for (int i = 0; i < m.nnode; i++)
            if (m.nodes[i].type == QS_NODE_RELU)
                T_CHECK(m.nodes[i].abits == 2 && m.nodes[i].alpha_off >= 0, "relu %d not PACT", i);
        qs_model_free(&m);
    }
}

/* The float model's ReLU outputs of the calibration sample, as the trainer
 * collects them (same sample, same subsampling stride). */
static float *ref_relu_values(qs_trainer *ft, int node, size_t *cnt)
{
    qs_model *m = &ft->model;
    const qs_train_cfg *c = &ft->cfg;
    int n = c->calib_examples < ft->train->n ? c->calib_examples : ft->train->n;
    size_t numel = m->nodes[node].numel, total = (size_t)n * numel;
    size_t stride = (total + (1u << 20) - 1) / (1u << 20);
    float *v = malloc((total / stride + 1) * sizeof *v);
    int *idx = malloc((size_t)ft->train->n * sizeof *idx);
    float *xb = malloc((size_t)c->batch * ft->train->c * ft->train->h * ft->train->w * sizeof *xb);
    int *yb = malloc((size_t)c->batch * sizeof *yb);
    qs_rng r;
    *cnt = 0;
    for (int i = 0; i < ft->train->n; i++)
        idx[i] = i;
    qs_rng_seed(&r, c->calib_seed);
    qs_rng_shuffle(&r, idx, ft->train->n);
    for (int s = 0; s < n; s += c->batch) {
        int nb = n - s < c->batch ? n - s : c->batch;
        qs_data_batch(xb, yb, ft->train, idx + s, nb, 0, NULL);
        qs_model_forward(m, xb, nb, 0);
        for (size_t j = 0; j < (size_t)nb * numel; j++)
            if (((size_t)s * numel + j) % stride == 0)
                v[(*cnt)++] = m->nodes[node].out[j];
    }
    free(idx);
    free(xb);
    free(yb);
    return v;
}

/* Alphas = the MSE clip of the FLOAT model's ReLU outputs (float weights,
 * BN in eval mode) on the fixed-seed sample; the first weight quantization
 * is the full search on the float weights. FCDNN and a BN ResNet. */
static void check_calibration(qs_model_cfg fc, qs_data_kind kind, const qs_dataset *tr,
                              const qs_dataset *te, const char *what)
{
    qs_trainer ft, qt;
    uint8_t *ck = NULL;
    size_t len = 0;
    T_CHECK(qu_trainer(&ft, fc, kind, QS_PHASE_FLOAT, 1, 3, tr, te, NULL, 0) == 0, "%s", qs_errmsg());
    T_CHECK(qs_trainer_run(&ft, 0, NULL, NULL) == 0 && qs_trainer_encode(&ft, &ck, &len) == 0,
            "%s float: %s", what, qs_errmsg());
    qs_model_cfg qc = fc;
    qc.wbits = qc.abits = 2;
    T_CHECK(qu_trainer(&qt, qc, kind, QS_PHASE_RETRAIN, 1, 3, tr, te, ck, len) == 0, "%s", qs_errmsg());
    free(ck);
    T_CHECK(qs_trainer_prepare_quant(&qt) == 0, "%s prepare: %s", what, qs_errmsg());
    qu_acc(&qt, te); /* the first forward searches the steps */
    int npact = 0;
    for (int i = 0; i < qt.model.nnode; i++) {
        const qs_node *n = &qt.model.nodes[i];
        if (n->alpha_off >= 0) {
            size_t cnt;
            float *v = ref_relu_values(&ft, i, &cnt);
            float want = qs_pact_calibrate_mse(v, cnt, 2);
            free(v);
            float got = qt.model.param[n->alpha_off];
            T_CHECK(got == want, "%s node %d: alpha %.9g, calibration on the float model %.9g",
                    what, i, got, want);
            npact++;
        }
        if (n->wbits < 32) {
            float step = 0, *q = malloc((size_t)n->wlen * sizeof *q);
            qs_wquant(q, &step, ft.model.param + n->w_off, (size_t)n->wlen, n->wbits);
            int same = memcmp(q, n->qw, (size_t)n->wlen * sizeof *q) == 0;
            free(q);
            T_CHECK(step == n->step && same, "%s node %d: step %g, search on float weights %g",
                    what, i, n->step, step);
        }
    }
    T_CHECK(npact > 0, "%s: no PACT layer", what);
    qs_trainer_free(&ft);
    qs_trainer_free(&qt);
}

static void test_calibration_fcdnn(void)
{
    check_calibration(qu_fcdnn(32, 4, 32, 32), QS_DATA_SYNTHETIC, &syn_tr, &syn_te, "fcdnn");
}

static void test_calibration_resnet(void)
{
    check_calibration(qu_resnet(QS_BLOCK_BASIC, 8, 4, 32, 32), QS_DATA_FMNIST, &fm_tr, &fm_te,
                      "resnet-basic-8-4");
}

/* Retrain from float: fresh optimizer, phase counters at 0, calibration to
 * come. clr from retrain: alphas and steps carried exactly, never searched
 * or calibrated again, fresh optimizer. */
static void test_phase_handoff(void)
{
    qs_trainer r, c;
    uint8_t *rck = NULL;
    size_t rlen = 0;
    qs_model_cfg q = qu_fcdnn(32, 4, 2, 2);
    T_CHECK(qu_trainer(&r, q, QS_DATA_SYNTHETIC, QS_PHASE_RETRAIN, 2, 7, &syn_tr, &syn_te,
                       float_ck, float_len) == 0, "%s", qs_errmsg());
    T_CHECK(!r.model.quant_ready && r.iter == 0 && r.epoch_done == 0, "retrain counters");
    for (long i = 0; i < r.model.nparam; i++)
        T_CHECK(r.model.opt_m[i] == 0 && r.model.opt_v[i] == 0, "retrain optimizer not fresh");
    T_CHECK(qs_trainer_run(&r, 0, NULL, NULL) == 0, "%s", qs_errmsg());
    T_CHECK(qs_trainer_encode(&r, &rck, &rlen) == 0, "%s", qs_errmsg());
    T_CHECK(qu_trainer(&c, q, QS_DATA_SYNTHETIC, QS_PHASE_CLR, 1, 7, &syn_tr, &syn_te, rck,
                       rlen) == 0, "%s", qs_errmsg());
    free(rck);
    T_CHECK(c.model.quant_ready && c.iter == 0 && c.epoch_done == 0, "clr counters");
    T_CHECK(memcmp(c.model.param, r.model.param, (size_t)r.model.nparam * 4) == 0,
            "clr params (alphas included) differ from the retrained ones");
    for (long i = 0; i < c.model.nparam; i++)
        T_CHECK(c.model.opt_m[i] == 0 && c.model.opt_v[i] == 0, "clr optimizer not fresh");
    T_CHECK(qs_trainer_prepare_quant(&c) == 0, "prepare");
    for (int i = 0; i < c.model.nnode; i++)
        T_CHECK(c.model.nodes[i].step == r.model.nodes[i].step, "node %d step %g, retrain %g",
                i, c.model.nodes[i].step, r.model.nodes[i].step);
    T_CHECK(memcmp(c.model.param, r.model.param, (size_t)r.model.nparam * 4) == 0,
            "clr re-calibrated");
    qs_trainer_free(&r);
    qs_trainer_free(&c);
}

/* `--epochs 2` == `--stop-after 1` + resume, bit for bit (interfaces.md).
 * perturb: before the checkpoint, restart every step from 0.3 x itself so
 * the warm alternation stops at its 10-iteration limit; a resume that
 * searched again from the saved step would drift. */
static int resume_case(qs_phase phase, const uint8_t *parent, size_t plen, int perturb,
                       char *why, size_t wl)
{
    qs_model_cfg q = qu_fcdnn(32, 4, 2, 2);
    qs_trainer a, b, c;
    uint8_t *ea = NULL, *eb = NULL, *ec = NULL;
    size_t la = 0, lb = 0, lc = 0;
    int ok = 0, unconverged = 0;
    if (qu_trainer(&a, q, QS_DATA_SYNTHETIC, phase, 2, 11, &syn_tr, &syn_te, parent, plen) ||
        qu_trainer(&b, q, QS_DATA_SYNTHETIC, phase, 2, 11, &syn_tr, &syn_te, parent, plen) ||
        qu_trainer(&c, q, QS_DATA_SYNTHETIC, phase, 2, 11, &syn_tr, &syn_te, NULL, 0)) {
        snprintf(why, wl, "init: %s", qs_errmsg());
        return 0;
    }
    qs_trainer *ab[2] = {&a, &b};
    for (int k = 0; k < 2; k++) {
        qs_trainer_run(ab[k], 1, NULL, NULL);
        if (!perturb)
            continue;
        for (int i = 0; i < ab[k]->model.nnode; i++)
            ab[k]->model.nodes[i].step *= 0.3f;
        ab[k]->model.weights_dirty = 1;
        qu_acc(ab[k], &syn_te);
    }
    if (perturb)
        for (int i = 0; i < b.model.nnode; i++) {
            const qs_node *n = &b.model.nodes[i];
            float s = n->step, *tmp = malloc((size_t)n->wlen * sizeof *tmp);
            if (n->wbits < 32 && tmp) {
                qs_wquant(tmp, &s, b.model.param + n->w_off, (size_t)n->wlen, n->wbits);
                unconverged |= s != n->step;
            }
            free(tmp);
        }
    int rc = qs_trainer_encode(&b, &eb, &lb);
    if (!rc) {
        rc = qs_trainer_resume_bytes(&c, eb, lb, "b");
        eb = NULL; /* resume_bytes owns it now, on failure too */
    }
    if (rc) {
        snprintf(why, wl, "checkpoint: %s", qs_errmsg());
        goto done;
    }
    /* a is clean (its last forward quantized), so evaluating it changes
     * nothing; c quantizes now if its checkpoint left that to do. */
    qu_acc(&a, &syn_te);
    qu_acc(&c, &syn_te);
    for (int i = 0; i < c.model.nnode; i++)
        if (c.model.nodes[i].wbits < 32 &&
            memcmp(c.model.nodes[i].qw, a.model.nodes[i].qw, (size_t)c.model.nodes[i].wlen * 4)) {
            snprintf(why, wl, "node %d: resumed quantized weights differ", i);
            goto done;
        }
    if (qs_trainer_run(&a, 0, NULL, NULL) || qs_trainer_run(&c, 0, NULL, NULL) ||
        qs_trainer_encode(&a, &ea, &la) || qs_trainer_encode(&c, &ec, &lc)) {
        snprintf(why, wl, "run: %s", qs_errmsg());
        goto done;
    }
    if (perturb && !unconverged)
        snprintf(why, wl, "the perturbed steps all converged: the case tests nothing");
    else if (la != lc || memcmp(ea, ec, la) != 0)
        snprintf(why, wl, "final checkpoints differ (%zu vs %zu bytes)", la, lc);
    else
        ok = 1;
done:
    free(ea);
    free(eb);
    free(ec);
    qs_trainer_free(&a);
    qs_trainer_free(&b);
    qs_trainer_free(&c);
    return ok;
}

static void test_resume_retrain_w2a2(void)
{
    char why[256] = "";
    T_CHECK(resume_case(QS_PHASE_RETRAIN, float_ck, float_len, 0, why, sizeof why), "%s", why);
}

static void test_resume_retrain_unconverged_step(void)
{
    char why[256] = "";
    T_CHECK(resume_case(QS_PHASE_RETRAIN, float_ck, float_len, 1, why, sizeof why), "%s", why);
}

static void test_resume_clr(void)
{
    qs_trainer r;
    uint8_t *rck = NULL;
    size_t rlen = 0;
    char why[256] = "";
    T_CHECK(qu_trainer(&r, qu_fcdnn(32, 4, 2, 2), QS_DATA_SYNTHETIC, QS_PHASE_RETRAIN, 1, 7,
                       &syn_tr, &syn_te, float_ck, float_len) == 0, "%s", qs_errmsg());
    T_CHECK(qu_finish(&r, &rck, &rlen, NULL) == 0, "%s", qs_errmsg());
    int ok = resume_case(QS_PHASE_CLR, rck, rlen, 0, why, sizeof why);
    free(rck);
    T_CHECK(ok, "%s", why);
}

/* PACT L2: with every activation below alpha the only alpha gradient is
 * 2 x 1e-4 x alpha, so plain SGD (no momentum) shrinks alpha by
 * (1 - lr 2e-4) per step. */
static void test_pact_l2(void)
{
    qs_trainer t;
    qs_train_cfg c;
    qs_model_cfg q = qu_fcdnn(8, 3, 32, 4);
    qs_train_cfg_default(&c, QS_DATA_SYNTHETIC, QS_PHASE_RETRAIN);
    c.epochs = 1;
    c.opt.kind = QS_OPT_SGD;
    c.opt.momentum = 0;
    c.sched.kind = QS_SCHED_CONST;
    c.sched.lr = 0.5;
    c.alpha_init = QS_ALPHA_VALUE;
    c.alpha_value = 1000.0;
    /* No parent: the quantized phase from init is enough for the alpha. */
    T_CHECK(qs_trainer_init(&t, &q, &c, &syn_tr, &syn_te) == 0, "%s", qs_errmsg());
    T_CHECK(qs_trainer_run(&t, 0, NULL, NULL) == 0, "%s", qs_errmsg());
    long steps = syn_tr.n / c.batch;
    double want = 1000.0;
    for (long s = 0; s < steps; s++)
        want -= 0.5 * (float)(2.0 * 1e-4 * want);
    for (long a = t.model.nparam - t.model.nalpha; a < t.model.nparam; a++)
        T_CHECK(T_CLOSE(t.model.param[a], want, 1e-5, 0), "alpha %g, want %g", t.model.param[a], want);
    qs_trainer_free(&t);
}

typedef struct {
    double lip;
    int epochs;
} lip_seen;

static int on_epoch_lip(void *user, const qs_epoch_metrics *m)
{
    lip_seen *s = user;
    s->lip = m->lipschitz;
    s->epochs++;
    return 0;
}

/* Lipschitz: reported value = R over linear and groups=1 conv weights only
 * (lr 0 keeps the weights, so every step sees the same R); none in the
 * float phase. */
static void test_lipschitz_scope(void)
{
    qs_model_cfg fc = qu_resnet(QS_BLOCK_DEPTHWISE, 11, 4, 32, 32);
    for (int phase = QS_PHASE_FLOAT; phase <= QS_PHASE_RETRAIN; phase++) {
        qs_trainer t;
        qs_train_cfg c;
        qs_model_cfg mc = fc;
        if (phase == QS_PHASE_RETRAIN)
            mc.wbits = mc.abits = 2;
        qs_train_cfg_default(&c, QS_DATA_FMNIST, (qs_phase)phase);
        c.epochs = 1;
        c.sched.kind = QS_SCHED_CONST;
        c.sched.lr = 0;
        c.lipschitz = 1e-4;
        T_CHECK(qs_trainer_init(&t, &mc, &c, &fm_tr, NULL) == 0, "%s", qs_errmsg());
        lip_seen s = {0, 0};
        T_CHECK(qs_trainer_run(&t, 0, on_epoch_lip, &s) == 0 && s.epochs == 1, "%s", qs_errmsg());
        double want = 0, with_dw = 0;
        float *g = calloc((size_t)t.model.nparam, sizeof *g);
        float *scr = malloc(((size_t)1 << 20) * sizeof *scr);
        for (int i = 0; i < t.model.nnode; i++) {
            const qs_node *n = &t.model.nodes[i];
            if (n->type != QS_NODE_CONV && n->type != QS_NODE_LINEAR && n->type != QS_NODE_DWCONV)
                continue;
            double r = qs_lipschitz(g + n->w_off, t.model.param + n->w_off, n->c,
                                    (int)(n->wlen / n->c), 1e-4f, scr);
            with_dw += r;
            if (n->type != QS_NODE_DWCONV)
                want += r;
        }
        free(g);
        free(scr);
        if (phase == QS_PHASE_FLOAT)
            T_CHECK(s.lip == 0, "float phase reports lipschitz %g", s.lip);
        else
            T_CHECK(T_CLOSE(s.lip, want, 1e-5, 0) && !T_CLOSE(s.lip, with_dw, 1e-5, 0),
                    "lipschitz %.9g, want %.9g (with depthwise: %.9g)", s.lip, want, with_dw);
        qs_trainer_free(&t);
    }
}

/* methods.md section 8 for fcdnn-128-4 W2A2: first layer 8-bit weights on
 * the float input, hidden 2x2, last 8-bit on 2-bit activations; biases
 * float. */
static void test_cost_w2a2(void)
{
    qs_model_cost k;
    qs_model_cfg c = qu_fcdnn(128, 4, 2, 2);
    T_CHECK(qs_model_cost_get(&k, &c) == 0, "%s", qs_errmsg());
    double bits = 256.0 * 8 + 2 * 16384.0 * 2 + 256.0 * 8 + (128 * 3 + 2) * 32.0;
    double bops = 256.0 * 8 * 32 + 2 * 16384.0 * 2 * 2 + 256.0 * 8 * 2;
    T_CHECK(k.model_bits == bits, "model bits %.0f want %.0f", k.model_bits, bits);
    T_CHECK(k.bops == bops, "bops %.0f want %.0f", k.bops, bops);
    c.wbits = 32;
    T_CHECK(qs_model_cost_get(&k, &c) == 0, "%s", qs_errmsg());
    T_CHECK(k.bops == 256.0 * 32 * 32 + 2 * 16384.0 * 32 * 2 + 256.0 * 32 * 2, "WFA2 bops %.0f",
            k.bops);
}

int main(void)
{
    if (setup() != 0) {
        printf("FAIL test_qat_setup: %s\n", qs_errmsg());
        return 1;
    }
    T_RUN(test_first_last_bits);
    T_RUN(test_calibration_fcdnn);
    T_RUN(test_calibration_resnet);
    T_RUN(test_phase_handoff);
    T_RUN(test_resume_retrain_w2a2);
    T_RUN(test_resume_retrain_unconverged_step);
    T_RUN(test_resume_clr);
    T_RUN(test_pact_l2);
    T_RUN(test_lipschitz_scope);
    T_RUN(test_cost_w2a2);
    free(float_ck);
    qs_data_free(&syn_tr);
    qs_data_free(&syn_te);
    qs_data_free(&fm_tr);
    qs_data_free(&fm_te);
    T_EXIT();
}
