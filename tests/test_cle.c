/* Cross-layer equalisation and high-bias absorption (core/ptq/cle.h): the
 * float function is kept, the channel ranges narrow, W4 error drops. */
#include "cle.h"
#include "err.h"
#include "model.h"
#include "ptq_util.h"
#include "rng.h"
#include "tharness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NB 16

/* Mean over the pairs' producers of log(max_i r_i / min_i r_i). */
static double spread(const qs_model *m, const qs_ptq_pair *p, int np)
{
    double s = 0.0;
    float r[1024];
    for (int k = 0; k < np; k++) {
        const qs_node *a = &m->nodes[p[k].prod];
        qs_cle_ranges(r, m, p[k].prod, 0);
        float lo = r[0], hi = r[0];
        for (int i = 1; i < a->c; i++) {
            lo = fminf(lo, r[i]);
            hi = fmaxf(hi, r[i]);
        }
        s += log((double)hi / lo);
    }
    return s / np;
}

/* A random ResNet with trained-looking BNs, folded (st, may be NULL, gets
 * the statistics), then distorted; m is built, x filled. */
static void setup(qs_model *m, qs_ptq_bnstats *st, float *x, qs_block blk, int depth,
                  int wbits, uint64_t seed)
{
    qs_rng r;
    qs_rng_seed(&r, seed);
    qs_model_cfg c = pu_resnet(blk, depth, 4, wbits, 32);
    if (qs_model_build(m, &c, NB) != QS_OK)
        return;
    qs_model_init(m, &r);
    pu_random_bn(m, &r, 0.0f);
    qs_ptq_bnstats tmp;
    if (qs_ptq_fold_bn_stats(m, st ? st : &tmp, NULL) != QS_OK) {
        qs_model_free(m);
        return;
    }
    if (!st)
        qs_ptq_bnstats_free(&tmp);
    qs_ptq_pair p[64];
    int np = pu_pairs(p, 64, m);
    if (np > 0)
        pu_distort(m, p, np, &r);
    pu_normal(x, (size_t)NB * c.in_c * c.in_h * c.in_w, &r);
}

/* The float outputs stay (max abs diff < 1e-4) while the ranges narrow;
 * the depthwise chains expand -> dw -> project need several passes. */
static void test_equalize_keeps_function(void)
{
    static const struct { qs_block b; int depth, pairs; } cases[] = {
        {QS_BLOCK_DEPTHWISE, 11, 6},  /* expand-dw and dw-project per block */
        {QS_BLOCK_BASIC, 8, 3},       /* conv1-conv2 per block */
    };
    for (int k = 0; k < 2; k++) {
        qs_model m;
        qs_ptq_bnstats st;
        float x[NB * 3 * 64], y0[NB * 10], y1[NB * 10];
        setup(&m, &st, x, cases[k].b, cases[k].depth, 32, 11 + k);
        T_CHECK(m.nodes != NULL, "build: %s", qs_errmsg());
        qs_ptq_pair p[64];
        int np = pu_pairs(p, 64, &m);
        double s0 = spread(&m, p, np);
        pu_logits(y0, &m, x, NB);
        qs_cle_cfg cfg;
        qs_cle_cfg_default(&cfg);
        qs_cle_report rep;
        int rc = qs_cle_equalize(&rep, &m, &st, &cfg);
        T_CHECK(rc == QS_OK, "%s", qs_errmsg());
        pu_logits(y1, &m, x, NB);
        double s1 = spread(&m, p, np), d = pu_maxdiff(y0, y1, NB * 10);
        double mag = 0.0;
        for (int i = 0; i < NB * 10; i++)
            mag = fmax(mag, fabs(y0[i]));
        printf("  %s: %d pairs, %d sweeps, spread %.3f -> %.3f, max |dy| %.2e (|y| up to %.2f)\n",
               qs_block_name(cases[k].b), rep.npair, rep.sweeps, s0, s1, d, mag);
        qs_ptq_bnstats_free(&st);
        qs_model_free(&m);
        T_CHECK(rep.npair == cases[k].pairs, "%d pairs, want %d", rep.npair, cases[k].pairs);
        T_CHECK(rep.last_change < cfg.tol, "did not converge: %g", rep.last_change);
        T_CHECK(mag > 0.05, "logits %g too small to show a change", mag);
        T_CHECK(d < 1e-4, "outputs moved by %g", d);
        T_CHECK(s1 < 0.5 * s0, "spread %.3f -> %.3f: not narrowed by half", s0, s1);
    }
}

/* At W4 (per-tensor steps) the distorted model's output error falls. */
static void test_equalize_helps_w4(void)
{
    qs_model q, f;
    float x[NB * 3 * 64], yf[NB * 10], y0[NB * 10], y1[NB * 10];
    setup(&q, NULL, x, QS_BLOCK_DEPTHWISE, 11, 4, 21);
    T_CHECK(q.nodes != NULL, "build: %s", qs_errmsg());
    qs_model_cfg fc = q.cfg;
    fc.wbits = fc.first_last_bits = 32;
    T_CHECK(qs_model_build(&f, &fc, NB) == QS_OK, "%s", qs_errmsg());
    pu_copy_params(&f, &q);
    pu_logits(yf, &f, x, NB);
    pu_logits(y0, &q, x, NB);
    qs_cle_cfg cfg;
    qs_cle_cfg_default(&cfg);
    qs_cle_report rep;
    T_CHECK(qs_cle_equalize(&rep, &q, NULL, &cfg) == QS_OK, "%s", qs_errmsg());
    pu_logits(y1, &q, x, NB);
    double e0 = pu_mse(y0, yf, NB * 10), e1 = pu_mse(y1, yf, NB * 10);
    printf("  W4 output MSE vs float: %.3e before, %.3e after equalisation\n", e0, e1);
    qs_model_free(&q);
    qs_model_free(&f);
    T_CHECK(e1 < 0.25 * e0, "W4 error %.3e -> %.3e: not a 4x drop", e0, e1);
}

/* Absorption: biases shifted into the consumer; where every
 * pre-activation stays above its cut the outputs stay. */
static void test_absorb(void)
{
    qs_model m;
    qs_ptq_bnstats st;
    float x[NB * 3 * 64], y0[NB * 10], y1[NB * 10];
    setup(&m, &st, x, QS_BLOCK_DEPTHWISE, 11, 32, 8);
    T_CHECK(m.nodes != NULL, "build: %s", qs_errmsg());
    /* Only the first dw -> project pair may move: every other mean at
     * -1 (nothing above 3 std). There the dw output's pre-activation is
     * made large-mean (beta 500, std 100 stated), so c = 200 moves and
     * every actual dw output is far above -300; project is 1x1 (no
     * padding). */
    qs_ptq_pair p[64];
    int np = pu_pairs(p, 64, &m), want = 0, dwk = -1;
    for (int i = 0; i < m.nnode; i++)
        for (int j = 0; st.mean[i] && j < m.nodes[i].c; j++)
            st.mean[i][j] = -1.0f;
    for (int k = 0; k < np && dwk < 0; k++) {
        if (m.nodes[p[k].prod].type != QS_NODE_DWCONV)
            continue;
        dwk = k;
        const qs_node *bn = &m.nodes[p[k].bn];
        for (int j = 0; j < bn->c; j++) {
            m.param[bn->b_off + j] = 500.0f;
            st.mean[p[k].bn][j] = 500.0f;
            st.std[p[k].bn][j] = 100.0f;
        }
        want += bn->c;
    }
    pu_logits(y0, &m, x, NB);
    int moved = 0;
    int rc = qs_cle_absorb(&moved, &m, &st);
    pu_logits(y1, &m, x, NB);
    double d = pu_maxdiff(y0, y1, NB * 10), mag = 0.0;
    for (int i = 0; i < NB * 10; i++)
        mag = fmax(mag, fabs(y0[i]));
    /* the absorbed means sit at 3 std */
    int at3 = dwk >= 0 && fabsf(st.mean[p[dwk].bn][0] - 300.0f) < 1e-3f;
    qs_ptq_bnstats_free(&st);
    qs_model_free(&m);
    T_CHECK(rc == QS_OK, "%s", qs_errmsg());
    T_CHECK(moved == want && want > 0, "%d channels moved, want %d", moved, want);
    T_CHECK(at3, "means not left at 3 std");
    T_CHECK(d < 1e-4 * fmax(1.0, mag), "outputs moved by %g (|y| up to %g)", d, mag);
}

/* Statistics of another model are refused before anything changes. */
static void test_stats_mismatch(void)
{
    qs_model a, b;
    qs_ptq_bnstats st;
    float x[NB * 3 * 64];
    setup(&a, &st, x, QS_BLOCK_BASIC, 8, 32, 5);
    setup(&b, NULL, x, QS_BLOCK_DEPTHWISE, 11, 32, 5);
    T_CHECK(a.nodes && b.nodes, "build: %s", qs_errmsg());
    float w0 = b.param[b.nodes[1].w_off];
    qs_cle_cfg cfg;
    qs_cle_cfg_default(&cfg);
    qs_cle_report rep;
    int rc1 = qs_cle_equalize(&rep, &b, &st, &cfg), rc2 = qs_cle_absorb(NULL, &b, &st);
    float w1 = b.param[b.nodes[1].w_off];
    qs_ptq_bnstats_free(&st);
    qs_model_free(&a);
    qs_model_free(&b);
    T_CHECK(rc1 == QS_EINVAL && rc2 == QS_EINVAL, "rc %d %d", rc1, rc2);
    T_CHECK(w0 == w1, "weights changed on refusal");
}

int main(void)
{
    T_RUN(test_equalize_keeps_function);
    T_RUN(test_equalize_helps_w4);
    T_RUN(test_absorb);
    T_RUN(test_stats_mismatch);
    T_EXIT();
}
