/* BitPruning inside the model and the trainer: parameter layout, finite
 * differences of dL/db through whole models, b at an integer equals the
 * plain quantizer at that width (logits and gradients bit for bit), the
 * learning + fine-tune phase, its bit-identical resume, the refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_model.h"
#include "bp_train.h"
#include "gemm.h"
#include "layers.h"
#include "lsq.h"
#include "model.h"
#include "qat_util.h"
#include "tharness.h"
#include "train.h"

static qs_dataset syn_tr, syn_te;
static uint8_t *float_ck; /* fcdnn-32-4 float, 20 epochs */
static size_t float_len;

static qs_model_cfg learned(qs_model_cfg c, int mask)
{
    if (mask & QS_BP_LEARN_W)
        c.wbits = QS_BP_BMAX;
    if (mask & QS_BP_LEARN_A)
        c.abits = QS_BP_BMAX;
    c.bp_learned = mask;
    c.bp_bmin = QS_BP_BMIN_DEFAULT;
    c.bp_init = QS_BP_INIT_DEFAULT;
    return c;
}

static int setup(void)
{
    qs_trainer t;
    if (qu_synth(&syn_tr, &syn_te, 2000, 500))
        return -1;
    if (qu_trainer(&t, qu_fcdnn(32, 4, 32, 32), QS_DATA_SYNTHETIC, QS_PHASE_FLOAT, 20, 5,
                   &syn_tr, &syn_te, NULL, 0))
        return -1;
    return qu_finish(&t, &float_ck, &float_len, NULL);
}

/* One width per hidden conv / linear and per quantized ReLU, after every
 * alpha, starting at bp_init (weights at least 2); first / last layers keep
 * first_last_bits; the counted parameters are the fixed model's. */
static void test_bp_layout(void)
{
    qs_model f, l;
    qs_model_cfg c = learned(qu_fcdnn(8, 4, 32, 32), QS_BP_LEARN_W | QS_BP_LEARN_A);
    c.bp_bmin = 1;
    c.bp_init = 1.5;
    qs_model_cfg fc = qu_fcdnn(8, 4, 8, 8);
    T_CHECK(qs_model_build(&f, &fc, 4) == QS_OK, "build");
    T_CHECK(qs_model_build(&l, &c, 4) == QS_OK, "build learned: %s", qs_errmsg());
    qs_rng r;
    qs_rng_seed(&r, 1);
    qs_model_init(&l, &r);
    T_CHECK(l.nbits == 2 + 3, "nbits %ld, want 2 hidden linears + 3 ReLUs", l.nbits);
    T_CHECK(l.nalpha == 3 + l.nbits && l.nparam - l.nalpha == f.nparam - f.nalpha,
            "nalpha %ld, counted %ld vs %ld", l.nalpha, l.nparam - l.nalpha,
            f.nparam - f.nalpha);
    int seen = 0;
    for (int i = 0; i < l.nnode; i++) {
        const qs_node *n = &l.nodes[i];
        T_CHECK(n->wbits == f.nodes[i].wbits, "node %d bits %d vs %d", i, n->wbits,
                f.nodes[i].wbits);
        if (n->bits_off < 0)
            continue;
        T_CHECK(n->bits_off == l.nparam - l.nbits + seen, "node %d: bits_off %ld", i,
                n->bits_off);
        float want = n->type == QS_NODE_RELU ? 1.5f : 2.0f;
        T_CHECK(l.param[n->bits_off] == want, "node %d: b %g, want %g", i,
                l.param[n->bits_off], want);
        seen++;
    }
    qs_model_free(&f);
    qs_model_free(&l);
    /* refusals: another quantizer, a floor or an init out of range */
    qs_model m;
    qs_model_cfg bad = c;
    bad.quantizer = QS_QUANT_LSQ;
    T_CHECK(qs_model_build(&m, &bad, 4) == QS_EINVAL && strstr(qs_errmsg(), "hwang-pact"),
            "lsq+ with learned bits: %s", qs_errmsg());
    bad = c;
    bad.bp_bmin = 3;
    T_CHECK(qs_model_build(&m, &bad, 4) == QS_EINVAL && strstr(qs_errmsg(), "bp_bmin"),
            "bmin 3: %s", qs_errmsg());
    bad = c;
    bad.bp_init = 8.5;
    T_CHECK(qs_model_build(&m, &bad, 4) == QS_EINVAL && strstr(qs_errmsg(), "bp_init"),
            "init 8.5: %s", qs_errmsg());
}

/* A fixed batch: x [nb, in], labels [nb]. */
static void batch(float *x, int *y, const qs_model_cfg *c, int nb, uint64_t seed)
{
    qs_rng r;
    qs_rng_seed(&r, seed);
    for (int i = 0; i < nb * c->in_c * c->in_h * c->in_w; i++)
        x[i] = (float)qs_rng_normal(&r);
    for (int i = 0; i < nb; i++)
        y[i] = (int)qs_rng_below(&r, (uint32_t)c->classes);
}

static double loss_of(qs_model *m, const float *x, const int *y, int nb)
{
    m->weights_dirty = 1;
    const float *lg = qs_model_forward(m, x, nb, 1);
    return qs_softmax_xent(NULL, NULL, lg, y, nb, m->cfg.classes, 0.0f);
}

/* dL/db of each learned width against central differences, b between
 * integers (so both neighbours of b +- h have the same two widths). Every
 * ReLU but the one checked runs in float (as calibration runs the model);
 * quantized weights do not depend on the input. So the loss is smooth in
 * that b and its derivative is exactly the sum of dy (Q_hi - Q_lo) the
 * backward forms. */
static void fd_case(qs_model_cfg c, int nb, const char *what)
{
    qs_model m;
    qs_rng r;
    T_CHECK(qs_model_build(&m, &c, nb) == QS_OK, "%s: build: %s", what, qs_errmsg());
    qs_rng_seed(&r, 3);
    qs_model_init(&m, &r);
    for (int i = 0; i < m.nnode; i++)
        if (m.nodes[i].alpha_off >= 0)
            m.param[m.nodes[i].alpha_off] = 1.5f;
    size_t xlen = (size_t)nb * c.in_c * c.in_h * c.in_w;
    float *x = malloc(xlen * sizeof(float)), *dl = malloc((size_t)nb * c.classes * 4);
    int *y = malloc((size_t)nb * sizeof(int));
    batch(x, y, &c, nb, 11);
    int checked = 0;
    for (int i = 0; i < m.nnode; i++) {
        qs_node *n = &m.nodes[i];
        if (n->bits_off < 0)
            continue;
        int saved[4096];
        for (int j = 0; j < m.nnode && j < 4096; j++) {
            saved[j] = m.nodes[j].abits;
            if (j != i && m.nodes[j].type == QS_NODE_RELU)
                m.nodes[j].abits = 32;
        }
        static const float bs[3] = {2.3f, 4.6f, 6.5f};
        float b = bs[checked % 3];
        m.param[n->bits_off] = b;
        m.weights_dirty = 1;
        const float *lg = qs_model_forward(&m, x, nb, 1);
        qs_softmax_xent(dl, NULL, lg, y, nb, c.classes, 1.0f / nb);
        qs_model_backward(&m, dl, nb);
        double g = m.grad[n->bits_off], fd = 0, best = 1e30;
        /* ReLU kinks downstream make one step size unreliable in float32
         * (as in test_model's check): a width passes when one of three
         * agrees; a wrong or missing gradient is off at all of them. */
        static const double hs[3] = {1.0 / 64, 1.0 / 256, 1.0 / 1024};
        for (int k = 0; k < 3; k++) {
            m.param[n->bits_off] = b + (float)hs[k];
            double lp = loss_of(&m, x, y, nb);
            m.param[n->bits_off] = b - (float)hs[k];
            double lm = loss_of(&m, x, y, nb);
            double d = (lp - lm) / (2 * hs[k]);
            if (fabs(d - g) < best) {
                best = fabs(d - g);
                fd = d;
            }
        }
        m.param[n->bits_off] = b;
        for (int j = 0; j < m.nnode && j < 4096; j++)
            m.nodes[j].abits = saved[j];
        T_CHECK(T_CLOSE(fd, g, 5e-2, 1e-6), "%s node %d (type %d) at b %g: finite difference "
                "%.7g vs analytic %.7g", what, i, (int)n->type, b, fd, g);
        T_CHECK(g != 0, "%s node %d: dL/db is 0", what, i);
        checked++;
    }
    T_CHECK(checked == m.nbits && checked > 0, "%s: %d widths checked of %ld", what, checked,
            m.nbits);
    free(x);
    free(dl);
    free(y);
    qs_model_free(&m);
}

static void test_bp_model_fd(void)
{
    qs_gemm_set_backend(QS_GEMM_NAIVE);
    /* weights with float activations, activations with float weights */
    fd_case(learned(qu_fcdnn(16, 4, 32, 32), QS_BP_LEARN_W), 16, "fcdnn W");
    fd_case(learned(qu_fcdnn(16, 4, 32, 32), QS_BP_LEARN_A), 16, "fcdnn A");
    qs_model_cfg rc = qu_resnet(QS_BLOCK_BASIC, 8, 4, 32, 32);
    rc.in_h = rc.in_w = 8;
    fd_case(learned(rc, QS_BP_LEARN_W), 8, "resnet-basic-8-4 W");
    fd_case(learned(rc, QS_BP_LEARN_A), 8, "resnet-basic-8-4 A");
    rc.block = QS_BLOCK_DEPTHWISE;
    rc.depth = 11;
    fd_case(learned(rc, QS_BP_LEARN_W | QS_BP_LEARN_A), 8, "resnet-depthwise-11-4 WA");
    qs_gemm_set_backend(QS_GEMM_BLAS);
}

/* Runs forward and backward of m on the fixed batch; copies the logits. */
static void fwd_bwd(qs_model *m, float *logits, const float *x, const int *y, int nb)
{
    float dl[64 * 10];
    m->weights_dirty = 1;
    const float *lg = qs_model_forward(m, x, nb, 1);
    memcpy(logits, lg, (size_t)nb * m->cfg.classes * sizeof(float));
    qs_softmax_xent(dl, NULL, lg, y, nb, m->cfg.classes, 1.0f / nb);
    qs_model_backward(m, dl, nb);
}

/* Learned activations at b = k are PACT at k bits: the Hwang-PACT model of
 * abits k with the same parameters and alphas has the same logits and the
 * same gradients of every parameter and alpha, bit for bit. Learned weights
 * at b = k are the symmetric uniform quantizer of k bits at clip max |w|:
 * the LSQ model whose hidden steps are max|w| / Qp and whose first / last
 * steps are the Hwang-Sung D of the learned model has the same logits and
 * the same hidden-layer weight gradients. */
static void integer_case(qs_model_cfg base, int nb, int k, const char *what)
{
    enum { NBMAX = 16 };
    qs_model l, p;
    qs_rng r;
    float x[NBMAX * 64], la[NBMAX * 10], lb[NBMAX * 10];
    int y[NBMAX];
    for (int side = 0; side < 2; side++) {
        int mask = side ? QS_BP_LEARN_W : QS_BP_LEARN_A;
        qs_model_cfg lc = learned(base, mask);
        qs_model_cfg pc = base;
        if (side) {
            pc.wbits = k;
            pc.quantizer = QS_QUANT_LSQ;
        } else {
            pc.abits = k;
        }
        T_CHECK(qs_model_build(&l, &lc, nb) == QS_OK && qs_model_build(&p, &pc, nb) == QS_OK,
                "%s: build: %s", what, qs_errmsg());
        qs_rng_seed(&r, 9);
        qs_model_init(&l, &r);
        long core = l.nparam - l.nalpha;
        memcpy(p.param, l.param, (size_t)core * sizeof(float));
        for (int i = 0; i < l.nnode; i++) {
            qs_node *n = &l.nodes[i];
            if (n->bits_off >= 0)
                l.param[n->bits_off] = (float)k;
            if (n->alpha_off >= 0)
                l.param[n->alpha_off] = p.param[p.nodes[i].alpha_off] = 2.0f + 0.25f * i;
        }
        batch(x, y, &base, nb, 5);
        fwd_bwd(&l, la, x, y, nb);
        if (side) /* the plain quantizer at the learned model's clip levels */
            for (int i = 0; i < l.nnode; i++) {
                const qs_node *n = &l.nodes[i];
                if (p.nodes[i].step_off >= 0)
                    p.param[p.nodes[i].step_off] =
                        n->bits_off >= 0 ? n->step / qs_lsq_wqp(k) : n->step;
            }
        fwd_bwd(&p, lb, x, y, nb);
        T_CHECK(memcmp(la, lb, (size_t)nb * base.classes * sizeof(float)) == 0,
                "%s %s at b = %d: logits differ (%g vs %g)", what, side ? "W" : "A", k,
                (double)la[0], (double)lb[0]);
        for (int i = 0; i < l.nnode; i++) {
            const qs_node *n = &l.nodes[i];
            long off = n->w_off, len = n->type == QS_NODE_BN ? 2L * n->c : n->wlen;
            if (off < 0 || (side && n->bits_off < 0))
                continue;
            T_CHECK(memcmp(l.grad + off, p.grad + off, (size_t)len * sizeof(float)) == 0,
                    "%s %s at b = %d: node %d gradients differ", what, side ? "W" : "A", k, i);
            if (!side && n->alpha_off >= 0)
                T_CHECK(l.grad[n->alpha_off] == p.grad[p.nodes[i].alpha_off],
                        "%s A: node %d alpha gradient %g vs %g", what, i,
                        (double)l.grad[n->alpha_off], (double)p.grad[p.nodes[i].alpha_off]);
        }
        qs_model_free(&l);
        qs_model_free(&p);
    }
}

static void test_bp_integer_is_plain(void)
{
    qs_model_cfg rc = qu_resnet(QS_BLOCK_BASIC, 8, 4, 32, 32);
    rc.in_h = rc.in_w = 8;
    for (int k = 2; k <= 8; k += 3) {
        integer_case(qu_fcdnn(16, 4, 32, 32), 16, k, "fcdnn");
        integer_case(rc, 8, k, "resnet-basic-8-4");
    }
    integer_case(qu_fcdnn(16, 4, 32, 32), 16, 8, "fcdnn");
}

/* A trainer of the learned retrain with its BitPruning settings. */
static int bp_trainer(qs_trainer *t, qs_model_cfg mc, int epochs, double lambda, int ft,
                      const uint8_t *parent)
{
    qs_train_cfg c;
    qs_train_cfg_default(&c, QS_DATA_SYNTHETIC, QS_PHASE_RETRAIN);
    c.epochs = epochs;
    c.seed = 7;
    c.bp_lambda = lambda;
    c.bp_weighting = QS_BP_PARAMS;
    c.bp_finetune_epochs = ft;
    c.bp_lr_scale = 1000; /* Adam at the synthetic protocol's lr 1e-4: b moves 0.1 a step */
    int rc = qs_trainer_init(t, &mc, &c, &syn_tr, &syn_te);
    if (rc || !parent)
        return rc;
    uint8_t *copy = malloc(float_len);
    if (!copy)
        return QS_ENOMEM;
    memcpy(copy, parent, float_len);
    return qs_trainer_load_parent_bytes(t, copy, float_len, "parent");
}

static int encode_run(uint8_t **out, size_t *len, qs_trainer *t, int stop)
{
    int rc = qs_trainer_run(t, stop, NULL, NULL);
    return rc ? rc : qs_trainer_encode(t, out, len);
}

/* Retrain with learned W and A, lambda > 0, 4 epochs of which the last is
 * the fixed-width fine-tune: the widths fall below 8 while learning, end as
 * integers in [bmin, 8], stay fixed in the fine-tune; the phase resumed
 * from a checkpoint in the learning part and from one at its end gives the
 * same bytes; resuming with other settings is refused. */
static void test_bp_retrain_resume(void)
{
    qs_trainer a, b;
    qs_model_cfg c = learned(qu_fcdnn(32, 4, 32, 32), QS_BP_LEARN_W | QS_BP_LEARN_A);
    uint8_t *full, *part, *rest;
    size_t nf, np, nr;
    T_CHECK(bp_trainer(&a, c, 4, 0.5, 1, float_ck) == QS_OK, "trainer: %s", qs_errmsg());
    T_CHECK(qs_bp_learn_epochs(&a) == 3, "learn epochs %d", qs_bp_learn_epochs(&a));
    T_CHECK(qs_trainer_run(&a, 3, NULL, NULL) == QS_OK, "run 3: %s", qs_errmsg());
    qs_model *m = &a.model;
    long base = m->nparam - m->nbits;
    float learnt[64];
    double mean = 0;
    for (long l = 0; l < m->nbits; l++) {
        learnt[l] = m->param[base + l];
        mean += learnt[l] / m->nbits;
    }
    T_CHECK(mean < 7.9, "lambda 0.5: mean width %g after learning", mean);
    T_CHECK(qs_trainer_run(&a, 0, NULL, NULL) == QS_OK, "fine-tune: %s", qs_errmsg());
    for (long l = 0; l < m->nbits; l++) {
        float b = m->param[base + l];
        T_CHECK(b == ceilf(learnt[l]) && b >= 2 && b <= 8, "width %ld: %g after the fine-tune, "
                "learned %g", l, b, learnt[l]);
    }
    printf("    learned widths (ceil):");
    for (long l = 0; l < m->nbits; l++)
        printf(" %g (%.3f)", m->param[base + l], learnt[l]);
    printf("\n");
    T_CHECK(qs_trainer_encode(&a, &full, &nf) == QS_OK, "encode");
    qs_trainer_free(&a);
    for (int stop = 2; stop <= 3; stop++) {
        T_CHECK(bp_trainer(&b, c, 4, 0.5, 1, float_ck) == QS_OK, "trainer b");
        T_CHECK(encode_run(&part, &np, &b, stop) == QS_OK, "run %d", stop);
        qs_trainer_free(&b);
        T_CHECK(bp_trainer(&b, c, 4, 0.5, 1, NULL) == QS_OK, "trainer resume");
        /* the loader owns what it gets */
        T_CHECK(qs_trainer_resume_bytes(&b, part, np, "part") == QS_OK, "resume: %s",
                qs_errmsg());
        T_CHECK(encode_run(&rest, &nr, &b, 0) == QS_OK, "run rest");
        qs_trainer_free(&b);
        T_CHECK(nf == nr && memcmp(full, rest, nf) == 0,
                "resumed after epoch %d: checkpoint differs (%zu vs %zu bytes)", stop, nf, nr);
        free(rest);
    }
    /* the checkpoint carries the settings: a fixed-width resume is refused */
    T_CHECK(bp_trainer(&b, qu_fcdnn(32, 4, 8, 8), 4, 0, 0, NULL) == QS_OK, "trainer");
    int rc = qs_trainer_resume_bytes(&b, full, nf, "full");
    T_CHECK(rc == QS_EINVAL && strstr(qs_errmsg(), "learned-bits"), "resume as W8A8: %d %s", rc,
            qs_errmsg());
    qs_trainer_free(&b);
    /* a fine-tune as long as the phase leaves nothing to learn */
    rc = bp_trainer(&b, c, 2, 0.5, 2, NULL);
    T_CHECK(rc == QS_EINVAL && strstr(qs_errmsg(), "no learning epoch"), "ft 2 of 2: %s",
            qs_errmsg());
}

int main(void)
{
    if (setup()) {
        printf("FAIL setup: %s\n", qs_errmsg());
        return 1;
    }
    T_RUN(test_bp_layout);
    T_RUN(test_bp_model_fd);
    T_RUN(test_bp_integer_is_plain);
    T_RUN(test_bp_retrain_resume);
    free(float_ck);
    qs_data_free(&syn_tr);
    qs_data_free(&syn_te);
    T_EXIT();
}
