/* core/ptq: BN folding, the equalisation chains, calibration images. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "model.h"
#include "ptq.h"
#include "rng.h"
#include "tharness.h"

static qs_model_cfg cfg_of(qs_arch arch, qs_block b, int depth, int width)
{
    qs_model_cfg c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.block = b;
    c.depth = depth;
    c.width = width;
    c.in_c = arch == QS_ARCH_FCDNN ? 2 : 3;
    c.in_h = c.in_w = arch == QS_ARCH_FCDNN ? 1 : 16;
    c.classes = arch == QS_ARCH_FCDNN ? 2 : 10;
    c.wbits = c.abits = 32;
    c.first_last_bits = 8;
    return c;
}

#define NB 8

/* A built, initialised model whose BNs look trained: gamma in [0.5, 1.5],
 * beta in [-0.5, 0.5], running statistics near the batch's own (40
 * train-mode passes at momentum 0.1), so eval outputs are of order 1 and
 * folding has real scales and shifts to move. */
static int trained_like(qs_model *m, float *x, qs_model_cfg c)
{
    qs_rng r;
    if (qs_model_build(m, &c, NB) != QS_OK)
        return -1;
    qs_rng_seed(&r, 11);
    qs_model_init(m, &r);
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        if (n->type != QS_NODE_BN)
            continue;
        for (int k = 0; k < n->c; k++) {
            m->param[n->w_off + k] = 0.5f + qs_rng_uniform(&r);
            m->param[n->b_off + k] = qs_rng_uniform(&r) - 0.5f;
        }
    }
    size_t xlen = (size_t)NB * c.in_c * c.in_h * c.in_w;
    for (size_t i = 0; i < xlen; i++)
        x[i] = 2.0f * qs_rng_uniform(&r) - 1.0f;
    for (int it = 0; it < 40; it++)
        qs_model_forward(m, x, NB, 1);
    return 0;
}

/* Folds the model of c; checks eval logits move by < 1e-4, the folded
 * count, every folded BN's invstd is exactly 1, and a second fold changes
 * no bit. */
static void fold_case(qs_model_cfg c, int want_folded, int want_pairs)
{
    qs_model m;
    float x[NB * 3 * 16 * 16];
    float before[NB * 10];
    T_CHECK(trained_like(&m, x, c) == 0, "build: %s", qs_errmsg());
    int k = m.cfg.classes;
    memcpy(before, qs_model_forward(&m, x, NB, 0), sizeof(float) * NB * k);
    int nf = -1;
    T_CHECK(qs_ptq_fold_bn(&m, &nf) == QS_OK, "fold: %s", qs_errmsg());
    const float *after = qs_model_forward(&m, x, NB, 0);
    double maxd = 0, maxv = 0;
    for (int i = 0; i < NB * k; i++) {
        maxd = fmax(maxd, fabs((double)after[i] - before[i]));
        maxv = fmax(maxv, fabs((double)before[i]));
    }
    T_CHECK(maxd < 1e-4, "folded logits differ by %g (logits up to %g)", maxd, maxv);
    T_CHECK(maxv > 0.05, "logits %g too small to show a wrong fold", maxv);
    T_CHECK(nf == want_folded, "folded %d BNs, want %d", nf, want_folded);
    for (int i = 0; i < m.nnode; i++) {
        const qs_node *n = &m.nodes[i];
        if (n->type != QS_NODE_BN || m.param[n->w_off] != 1.0f || m.buf[n->rm_off] != 0.0f)
            continue;
        float inv = (float)(1.0 / sqrt((double)m.buf[n->rv_off] + (double)QS_BN_EPS));
        T_CHECK(inv == 1.0f, "node %d: folded invstd %.9g", i, inv);
    }
    float *p = malloc(sizeof(float) * (size_t)(m.nparam + m.nbuf));
    memcpy(p, m.param, sizeof(float) * (size_t)m.nparam);
    memcpy(p + m.nparam, m.buf, sizeof(float) * (size_t)m.nbuf);
    T_CHECK(qs_ptq_fold_bn(&m, &nf) == QS_OK && nf == want_folded, "refold %d", nf);
    int same = memcmp(p, m.param, sizeof(float) * (size_t)m.nparam) == 0 &&
               memcmp(p + m.nparam, m.buf, sizeof(float) * (size_t)m.nbuf) == 0;
    free(p);
    T_CHECK(same, "a second fold changed the model");
    int np = -1;
    qs_ptq_pair pr[64];
    T_CHECK(qs_ptq_pairs(pr, 64, &np, &m) == QS_OK, "pairs: %s", qs_errmsg());
    T_CHECK(np == want_pairs, "%d pairs, want %d", np, want_pairs);
    for (int i = 0; i < np; i++) {
        T_CHECK(m.nodes[pr[i].act].type == QS_NODE_RELU && m.nodes[pr[i].act].in0 ==
                (pr[i].bn >= 0 ? pr[i].bn : pr[i].prod) && m.nodes[pr[i].cons].in0 == pr[i].act,
                "pair %d (%d %d %d %d) is not a chain", i, pr[i].prod, pr[i].bn, pr[i].act,
                pr[i].cons);
        long off;
        T_CHECK(qs_ptq_bias_node(&m, pr[i].prod, &off) == (pr[i].bn >= 0 ? pr[i].bn : pr[i].prod)
                && off >= 0, "bias node of %d", pr[i].prod);
    }
    qs_model_free(&m);
}

/* basic-8: 9 conv+BN (stem, 2 per block, 2 projection shortcuts); the
 * one chain per block is conv a -> BN -> ReLU -> conv b (every block
 * input also feeds its shortcut). */
static void test_fold_basic(void) { fold_case(cfg_of(QS_ARCH_RESNET, QS_BLOCK_BASIC, 8, 4), 9, 3); }
/* preact-8: only conv a -> BN of each block folds (the other BNs follow an
 * add or the stem, whose output also feeds the shortcut). */
static void test_fold_preact(void) { fold_case(cfg_of(QS_ARCH_RESNET, QS_BLOCK_PREACT, 8, 4), 3, 3); }
/* depthwise-11: stem, 3 per block, 2 shortcuts; chains 1x1 -> dw and
 * dw -> 1x1 in each block. */
static void test_fold_depthwise(void)
{
    fold_case(cfg_of(QS_ARCH_RESNET, QS_BLOCK_DEPTHWISE, 11, 4), 12, 6);
}
/* fcdnn: no BN to fold; the chains are linear -> ReLU -> linear. */
static void test_fold_fcdnn(void) { fold_case(cfg_of(QS_ARCH_FCDNN, 0, 4, 16), 0, 3); }

static void test_pairs_room(void)
{
    qs_model m;
    float x[NB * 3 * 16 * 16];
    T_CHECK(trained_like(&m, x, cfg_of(QS_ARCH_RESNET, QS_BLOCK_DEPTHWISE, 11, 4)) == 0, "build");
    T_CHECK(qs_ptq_fold_bn(&m, NULL) == QS_OK, "fold");
    qs_ptq_pair pr[2];
    int n = 0;
    T_CHECK(qs_ptq_pairs(pr, 2, &n, &m) == QS_OK && n == 6, "count with little room: %d", n);
    T_CHECK(qs_ptq_pairs(NULL, 0, &n, &m) == QS_OK && n == 6, "count only: %d", n);
    qs_model_free(&m);
}

static void test_bnstats(void)
{
    qs_model m;
    float x[NB * 3 * 16 * 16];
    T_CHECK(trained_like(&m, x, cfg_of(QS_ARCH_RESNET, QS_BLOCK_BASIC, 8, 4)) == 0, "build");
    int b = -1;
    for (int i = 0; i < m.nnode && b < 0; i++)
        if (m.nodes[i].type == QS_NODE_BN)
            b = i;
    float g = m.param[m.nodes[b].w_off], be = m.param[m.nodes[b].b_off];
    qs_ptq_bnstats st;
    T_CHECK(qs_ptq_fold_bn_stats(&m, &st, NULL) == QS_OK, "fold: %s", qs_errmsg());
    T_CHECK(st.mean[b] && st.mean[b][0] == be && st.std[b][0] == fabsf(g), "stats %g %g",
            st.mean[b] ? st.mean[b][0] : 0, st.std[b] ? st.std[b][0] : 0);
    T_CHECK(st.mean[0] == NULL && st.std[1] == NULL, "non-BN nodes carry stats");
    qs_ptq_bnstats_free(&st);
    qs_model_free(&m);
}

static void test_cfg(void)
{
    qs_ptq_cfg c;
    qs_ptq_cfg_default(&c);
    T_CHECK(qs_ptq_cfg_validate(&c) == QS_OK, "default: %s", qs_errmsg());
    T_CHECK(c.calib_images == 1024 && c.iterations == 10000, "defaults %d %d", c.calib_images,
            c.iterations);
    c.iterations = 0;
    T_CHECK(qs_ptq_cfg_validate(&c) != QS_OK && strstr(qs_errmsg(), "iterations"), "iters 0");
    qs_ptq_cfg_default(&c);
    c.calib_images = 0;
    T_CHECK(qs_ptq_cfg_validate(&c) != QS_OK && strstr(qs_errmsg(), "calib_images"), "calib 0");
}

int main(void)
{
    T_RUN(test_fold_basic);
    T_RUN(test_fold_preact);
    T_RUN(test_fold_depthwise);
    T_RUN(test_fold_fcdnn);
    T_RUN(test_pairs_room);
    T_RUN(test_bnstats);
    T_RUN(test_cfg);
    T_EXIT();
}
