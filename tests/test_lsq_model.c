/* LSQ / LSQ+ inside the model and the trainer: parameter layout, a frozen
 * LSQ+ model against the Hwang-PACT model with the same levels, the
 * gradient wiring, calibration, retrain -> clr, bit-identical resume. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "lsq.h"
#include "lsq_model.h"
#include "model.h"
#include "qat_util.h"
#include "tharness.h"
#include "train.h"

static qs_dataset syn_tr, syn_te;
static uint8_t *float_ck; /* fcdnn-32-4 float, 30 epochs */
static size_t float_len;

static qs_model_cfg lsq(qs_model_cfg c)
{
    c.quantizer = QS_QUANT_LSQ;
    return c;
}

static int setup(void)
{
    qs_trainer t;
    if (qu_synth(&syn_tr, &syn_te, 4000, 1000))
        return -1;
    if (qu_trainer(&t, qu_fcdnn(32, 4, 32, 32), QS_DATA_SYNTHETIC, QS_PHASE_FLOAT, 30, 5,
                   &syn_tr, &syn_te, NULL, 0))
        return -1;
    return qu_finish(&t, &float_ck, &float_len, NULL);
}

/* Steps (one per layer, or one per output channel) and (s, beta) per ReLU
 * sit in the uncounted tail; the counted parameters and the first / last
 * layer bits are Hwang-PACT's. */
static void test_lsq_layout(void)
{
    for (int pc = 0; pc <= 1; pc++) {
        qs_model h, l;
        qs_model_cfg c = lsq(qu_fcdnn(8, 4, 2, 2));
        c.lsq_per_channel = pc;
        qs_model_cfg hc = qu_fcdnn(8, 4, 2, 2);
        T_CHECK(qs_model_build(&h, &hc, 4) == QS_OK, "build");
        T_CHECK(qs_model_build(&l, &c, 4) == QS_OK, "build lsq: %s", qs_errmsg());
        long want = (pc ? 8 + 8 + 8 + 2 : 4) + 3 * 2;
        T_CHECK(l.nalpha == want, "per channel %d: nalpha %ld, want %ld", pc, l.nalpha, want);
        T_CHECK(l.nparam - l.nalpha == h.nparam - h.nalpha, "counted params differ");
        for (int i = 0; i < l.nnode; i++) {
            const qs_node *n = &l.nodes[i];
            T_CHECK(n->wbits == h.nodes[i].wbits, "node %d: bits %d vs %d", i, n->wbits,
                    h.nodes[i].wbits);
            if (n->type == QS_NODE_LINEAR)
                T_CHECK(n->step_off >= l.nparam - l.nalpha && n->nstep == (pc ? n->c : 1),
                        "node %d: step_off %ld nstep %d", i, n->step_off, n->nstep);
        }
        qs_model_free(&h);
        qs_model_free(&l);
    }
    qs_model_cfg bad = lsq(qu_fcdnn(8, 4, 1, 2));
    qs_model m;
    T_CHECK(qs_model_build(&m, &bad, 4) == QS_EINVAL, "lsq+ at 1 weight bit is refused");
}

/* The LSQ+ model with its steps frozen at the Hwang-Sung D of each layer
 * and activation steps s = a / P (powers of two, so PACT's n / a is exact)
 * is the Hwang-PACT model: the same quantized weights and logits bit for
 * bit. In backward the shadow-weight gradients match inside the clip and
 * are 0 outside, and each step gradient is qs_lsq_w_backward of the
 * Hwang-PACT model's weight gradient. */
static void frozen_case(qs_model_cfg hc, int in_len, int pc)
{
    enum { B = 6 };
    qs_model h, l;
    qs_model_cfg lc = lsq(hc);
    lc.lsq_per_channel = pc;
    T_CHECK(qs_model_build(&h, &hc, B) == QS_OK && qs_model_build(&l, &lc, B) == QS_OK,
            "build: %s", qs_errmsg());
    qs_rng r;
    qs_rng_seed(&r, 9);
    qs_model_init(&h, &r);
    qs_rng_seed(&r, 9);
    qs_model_init(&l, &r);
    const long core = h.nparam - h.nalpha;
    T_CHECK(memcmp(h.param, l.param, core * 4) == 0, "same init");
    const float s = 0.25f, p = qs_lsq_ap(hc.abits);
    for (int i = 0; i < h.nnode; i++)
        if (h.nodes[i].alpha_off >= 0) {
            h.param[h.nodes[i].alpha_off] = p * s;
            l.param[l.nodes[i].alpha_off] = s;
        }
    float *x = malloc(sizeof(float) * B * in_len), *dl = malloc(sizeof(float) * B * 10);
    int y[B];
    T_CHECK(x && dl, "alloc");
    for (int i = 0; i < B * in_len; i++)
        x[i] = (float)qs_rng_normal(&r);
    for (int i = 0; i < B; i++)
        y[i] = i % hc.classes;
    qs_model_forward(&h, x, B, 1); /* runs the Hwang-Sung search */
    for (int i = 0; i < l.nnode; i++)
        for (int k = 0; k < l.nodes[i].nstep; k++)
            l.param[l.nodes[i].step_off + k] = h.nodes[i].step;
    const float *lh = qs_model_forward(&h, x, B, 1);
    float keep[B * 10];
    memcpy(keep, lh, sizeof(float) * B * hc.classes);
    const float *ll = qs_model_forward(&l, x, B, 1);
    for (int i = 0; i < l.nnode; i++)
        if (l.nodes[i].wbits < 32)
            T_CHECK(memcmp(l.nodes[i].qw, h.nodes[i].qw, l.nodes[i].wlen * 4) == 0,
                    "node %d: quantized weights differ", i);
    T_CHECK(memcmp(keep, ll, sizeof(float) * B * hc.classes) == 0, "logits differ");
    qs_softmax_xent(dl, NULL, ll, y, B, hc.classes, 1.0f / B);
    qs_model_backward(&h, dl, B);
    qs_model_backward(&l, dl, B);
    int clipped = 0, nsteps = 0;
    for (int i = 0; i < l.nnode; i++) {
        const qs_node *n = &l.nodes[i];
        if (n->step_off < 0)
            continue;
        float *gw = malloc(n->wlen * sizeof(float));
        float ds[64] = {0};
        T_CHECK(gw && n->nstep <= 64, "alloc");
        qs_lsq_w_backward(gw, ds, h.grad + n->w_off, h.param + n->w_off, n->wlen,
                          l.param + n->step_off, n->nstep, n->wbits);
        const float qp = qs_lsq_wqp(n->wbits);
        for (long j = 0; j < n->wlen; j++) {
            float v = l.param[n->w_off + j] / l.param[n->step_off + j / (n->wlen / n->nstep)];
            int out = v <= -qp || v >= qp;
            clipped += out;
            T_CHECK(l.grad[n->w_off + j] == (out ? 0.0f : h.grad[n->w_off + j]),
                    "node %d weight %ld: grad %g, Hwang %g (clipped %d)", i, j,
                    l.grad[n->w_off + j], h.grad[n->w_off + j], out);
        }
        for (int k = 0; k < n->nstep; k++) {
            T_CHECK(l.grad[n->step_off + k] == ds[k], "node %d step %d: %g vs %g", i, k,
                    l.grad[n->step_off + k], ds[k]);
            nsteps += ds[k] != 0.0f;
        }
        free(gw);
    }
    T_CHECK(clipped > 0 && nsteps > 0, "test data: %d clipped weights, %d non-zero steps",
            clipped, nsteps);
    free(x);
    free(dl);
    qs_model_free(&h);
    qs_model_free(&l);
}

static void test_lsq_frozen_is_hwang_pact(void)
{
    qs_model_cfg rn = qu_resnet(QS_BLOCK_BASIC, 8, 4, 2, 2);
    rn.in_h = rn.in_w = 8;
    frozen_case(rn, 64, 0);
    if (t_failed_case)
        return;
    frozen_case(rn, 64, 1);
    if (t_failed_case)
        return;
    frozen_case(qu_fcdnn(16, 4, 3, 3), 2, 0);
}

/* beta stays 0 at a ReLU (its gradient is not applied) unless lsq_offset;
 * the activation steps always get a gradient. */
static void test_lsq_offset_setting(void)
{
    enum { B = 16 };
    for (int off = 0; off <= 1; off++) {
        qs_model m;
        qs_model_cfg c = lsq(qu_fcdnn(16, 4, 2, 2));
        c.lsq_offset = off;
        T_CHECK(qs_model_build(&m, &c, B) == QS_OK, "build");
        qs_rng r;
        qs_rng_seed(&r, 3);
        qs_model_init(&m, &r);
        qs_lsq_init_weights(&m);
        for (int i = 0; i < m.nnode; i++)
            if (m.nodes[i].alpha_off >= 0)
                m.param[m.nodes[i].alpha_off] = 0.2f;
        float x[2 * B], dl[2 * B];
        int y[B];
        for (int i = 0; i < 2 * B; i++)
            x[i] = (float)qs_rng_normal(&r);
        for (int i = 0; i < B; i++)
            y[i] = i & 1;
        qs_softmax_xent(dl, NULL, qs_model_forward(&m, x, B, 1), y, B, 2, 1.0f / B);
        qs_model_backward(&m, dl, B);
        int ns = 0, nb = 0;
        for (int i = 0; i < m.nnode; i++)
            if (m.nodes[i].alpha_off >= 0) {
                ns += m.grad[m.nodes[i].alpha_off] != 0.0f;
                nb += m.grad[m.nodes[i].alpha_off + 1] != 0.0f;
            }
        T_CHECK(ns == 3, "offset %d: %d of 3 activation steps got a gradient", off, ns);
        T_CHECK(off ? nb > 0 : nb == 0, "offset %d: %d offsets got a gradient", off, nb);
        qs_model_free(&m);
    }
}

/* Retrain W2A2 from the float checkpoint: calibration gives every ReLU
 * the MSE step of its float outputs (beta 0), the weight steps start at
 * their MSE init, both move in training, the loss falls; 2 epochs equal
 * 1 + resume + 1 bit for bit; clr continues with the same steps; a clr of
 * another quantizer is refused. */
static void test_lsq_retrain_resume_clr(void)
{
    qs_trainer a, b;
    qs_model_cfg c = lsq(qu_fcdnn(32, 4, 2, 2));
    T_CHECK(qu_trainer(&a, c, QS_DATA_SYNTHETIC, QS_PHASE_RETRAIN, 6, 7, &syn_tr, &syn_te,
                       float_ck, float_len) == QS_OK, "trainer: %s", qs_errmsg());
    T_CHECK(qs_trainer_prepare_quant(&a) == QS_OK, "prepare");
    qs_model *m = &a.model;
    float *init = malloc(m->nalpha * sizeof(float));
    T_CHECK(init, "alloc");
    memcpy(init, m->param + (m->nparam - m->nalpha), m->nalpha * sizeof(float));
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        if (n->step_off >= 0) {
            float s;
            qs_lsq_w_init(&s, m->param + n->w_off, n->wlen, 1, n->wbits, QS_LSQ_WINIT_MSE);
            T_CHECK(m->param[n->step_off] == s, "node %d: weight step %g, MSE init %g", i,
                    m->param[n->step_off], s);
        }
        if (n->alpha_off >= 0)
            T_CHECK(m->param[n->alpha_off] > 0.0f && m->param[n->alpha_off] != 1.0f &&
                        m->param[n->alpha_off + 1] == 0.0f,
                    "node %d: s %g beta %g after calibration", i, m->param[n->alpha_off],
                    m->param[n->alpha_off + 1]);
    }
    double l0, a0, l1, a1;
    qs_trainer_eval(&a, &syn_tr, &l0, &a0);
    T_CHECK(qs_trainer_run(&a, 0, NULL, NULL) == QS_OK, "run: %s", qs_errmsg());
    qs_trainer_eval(&a, &syn_tr, &l1, &a1);
    T_CHECK(l1 < l0, "train loss %g -> %g does not fall", l0, l1);
    printf("    lsq+ W2A2 retrain, 6 epochs: train loss %.4f -> %.4f, accuracy %.2f -> %.2f %%\n",
           l0, l1, a0, a1);
    int moved = 0;
    for (long k = 0; k < m->nalpha; k++)
        moved += m->param[m->nparam - m->nalpha + k] != init[k];
    T_CHECK(moved >= m->nalpha - 3, "%d of %ld steps moved (the 3 betas stay)", moved,
            m->nalpha);
    free(init);
    uint8_t *full, *part, *rest;
    size_t nf, np, nr;
    T_CHECK(qs_trainer_encode(&a, &full, &nf) == QS_OK, "encode");
    qs_trainer_free(&a);
    T_CHECK(qu_trainer(&b, c, QS_DATA_SYNTHETIC, QS_PHASE_RETRAIN, 6, 7, &syn_tr, &syn_te,
                       float_ck, float_len) == QS_OK, "trainer b");
    T_CHECK(qs_trainer_run(&b, 1, NULL, NULL) == QS_OK, "run 1");
    T_CHECK(qs_trainer_encode(&b, &part, &np) == QS_OK, "encode part");
    qs_trainer_free(&b);
    T_CHECK(qu_trainer(&b, c, QS_DATA_SYNTHETIC, QS_PHASE_RETRAIN, 6, 7, &syn_tr, &syn_te,
                       NULL, 0) == QS_OK, "trainer resume");
    T_CHECK(qs_trainer_resume_bytes(&b, part, np, "part") == QS_OK, "resume: %s", qs_errmsg());
    T_CHECK(qs_trainer_run(&b, 0, NULL, NULL) == QS_OK, "run rest");
    T_CHECK(qs_trainer_encode(&b, &rest, &nr) == QS_OK, "encode rest");
    qs_trainer_free(&b);
    T_CHECK(nf == nr && memcmp(full, rest, nf) == 0, "resumed checkpoint differs (%zu vs %zu)",
            nf, nr);
    free(rest);
    /* clr from the LSQ retrain carries the steps; a Hwang-PACT clr refuses it */
    T_CHECK(qu_trainer(&b, c, QS_DATA_SYNTHETIC, QS_PHASE_CLR, 1, 7, &syn_tr, &syn_te, full,
                       nf) == QS_OK, "clr: %s", qs_errmsg());
    T_CHECK(b.model.quant_ready, "clr did not carry the steps");
    qs_trainer_free(&b);
    int rc = qu_trainer(&b, qu_fcdnn(32, 4, 2, 2), QS_DATA_SYNTHETIC, QS_PHASE_CLR, 1, 7,
                        &syn_tr, &syn_te, full, nf);
    T_CHECK(rc == QS_EINVAL && strstr(qs_errmsg(), "lsq+"), "hwang-pact clr from lsq+: %d %s",
            rc, qs_errmsg());
    qs_trainer_free(&b);
    /* Resuming it as another quantizer is refused. */
    T_CHECK(qu_trainer(&b, qu_fcdnn(32, 4, 2, 2), QS_DATA_SYNTHETIC, QS_PHASE_RETRAIN, 6, 7,
                       &syn_tr, &syn_te, NULL, 0) == QS_OK, "trainer");
    rc = qs_trainer_resume_bytes(&b, full, nf, "full");
    T_CHECK(rc == QS_EINVAL && strstr(qs_errmsg(), "quantizer"), "resume as hwang-pact: %d %s",
            rc, qs_errmsg());
    qs_trainer_free(&b);
}

/* Adam moves each parameter by about lr whatever its size, so a step
 * smaller than lr overshoots 0 (a per-channel W4A4 ResNet's 8-bit stem did
 * at lr 1e-3 by its 3rd step; without the clamp 34 of these 101 steps end
 * below 0); after every update each is at least QS_LSQ_STEP_MIN. */
static void test_lsq_steps_stay_positive(void)
{
    qs_trainer a;
    qs_model_cfg c = lsq(qu_fcdnn(32, 4, 4, 4));
    c.lsq_per_channel = 1;
    T_CHECK(qu_trainer(&a, c, QS_DATA_SYNTHETIC, QS_PHASE_RETRAIN, 1, 7, &syn_tr, &syn_te,
                       float_ck, float_len) == QS_OK, "trainer: %s", qs_errmsg());
    a.cfg.sched.lr = 0.01; /* the 8-bit first layer's steps are about 0.005 */
    T_CHECK(qs_trainer_run(&a, 0, NULL, NULL) == QS_OK, "run: %s", qs_errmsg());
    const qs_model *m = &a.model;
    int low = 0, n = 0;
    float least = INFINITY;
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *nd = &m->nodes[i];
        const long off = nd->step_off >= 0 ? nd->step_off : nd->alpha_off;
        const int k = nd->step_off >= 0 ? nd->nstep : nd->alpha_off >= 0;
        for (int j = 0; j < k; j++, n++) {
            float s = m->param[off + j];
            low += !(s >= QS_LSQ_STEP_MIN);
            least = s < least ? s : least;
        }
    }
    T_CHECK(low == 0, "%d of %d steps / scales below %g (least %g)", low, n,
            (double)QS_LSQ_STEP_MIN, (double)least);
    qs_trainer_free(&a);
}

int main(void)
{
    if (setup()) {
        printf("FAIL setup: %s\n", qs_errmsg());
        return 1;
    }
    T_RUN(test_lsq_layout);
    T_RUN(test_lsq_frozen_is_hwang_pact);
    T_RUN(test_lsq_offset_setting);
    T_RUN(test_lsq_retrain_resume_clr);
    T_RUN(test_lsq_steps_stay_positive);
    free(float_ck);
    qs_data_free(&syn_tr);
    qs_data_free(&syn_te);
    T_EXIT();
}
