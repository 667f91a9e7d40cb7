/* Batch norm's fused passes. With its ReLU fused in (qs_bn_* relu 1, what
 * a model does for a ReLU that is BN's only consumer): the same bits as BN
 * then ReLU, forward (train, eval, copy and in place) and backward (dx
 * added to and overwritten, dgamma, dbeta), on every kernel path this CPU
 * has, on 1 and 2 threads; the models that fuse it still pass their
 * gradient check (test_model.c) and mark the pairs this file expects. The
 * one-pass statistics against a two-pass reference, with the mean far
 * larger than the spread. */
#include "kpath_check.h"
#include "layer_check.h"
#include "model.h"

/* BN then ReLU as separate layers, or fused: out [0] y, [1] save_mean,
 * [2] save_invstd, [3] run_mean, [4] run_var, [5] dx (added to 0.5),
 * [6] dgamma then dbeta, [7] eval y in place, [8] dx overwritten. */
#define NOUT 9

static void bn_relu_pass(float *out[NOUT], int fused, const float *x,
                         const float *dy, const float *g, const float *b,
                         int n, int c, int hw)
{
    size_t len = (size_t)n * c * hw;
    float *y = out[0], *sm = out[1], *si = out[2], *rm = out[3], *rv = out[4];
    float *dx = out[5], *dg = out[6], *ye = out[7], *dxo = out[8];
    for (int i = 0; i < c; i++)
        rm[i] = 0.1f * i, rv[i] = 1.0f + i;
    qs_bn_forward_train(y, sm, si, rm, rv, x, g, b, n, c, hw, 0.1f, 1e-5f,
                        fused);
    for (size_t i = 0; i < len; i++)
        dx[i] = 0.5f;
    memcpy(ye, x, len * sizeof *ye);
    if (fused) {
        qs_bn_backward(dx, dg, dg + c, dy, x, sm, si, g, b, n, c, hw, 1, 1);
        qs_bn_backward(dxo, NULL, NULL, dy, x, sm, si, g, b, n, c, hw, 0, 1);
        qs_bn_forward_eval(ye, ye, g, b, rm, rv, n, c, hw, 1e-5f, 1);
        return;
    }
    qs_relu_forward(y, y, len);
    float *dyb = fbuf(len); /* the ReLU's input gradient, BN's dy */
    qs_relu_backward(dyb, dy, y, len, 0);
    qs_bn_backward(dx, dg, dg + c, dyb, x, sm, si, g, NULL, n, c, hw, 1, 0);
    qs_bn_backward(dxo, NULL, NULL, dyb, x, sm, si, g, NULL, n, c, hw, 0, 0);
    qs_bn_forward_eval(ye, ye, g, b, rm, rv, n, c, hw, 1e-5f, 0);
    qs_relu_forward(ye, ye, len);
}

static void bn_relu_on_path(qs_kpath p)
{
    /* plane sizes: below one vector, ragged, the 8x8 and 32x32 planes */
    const int n = 3, c = 5, hws[] = {1, 4, 37, 64, 1031};
    for (unsigned k = 0; k < sizeof hws / sizeof *hws; k++) {
        int hw = hws[k];
        size_t len = (size_t)n * c * hw;
        /* a mean far from zero, betas of both signs: about half masked */
        float *x = rbuf(len, 90.0f, 110.0f), *dy = rbuf(len, -1.0f, 1.0f);
        float *g = rbuf((size_t)c, 0.5f, 1.5f), *b = rbuf((size_t)c, -1.0f, 1.0f);
        g[1] = -g[1]; /* a negative scale flips which side is masked */
        size_t sz[NOUT] = {len, (size_t)c, (size_t)c, (size_t)c, (size_t)c,
                           len, 2 * (size_t)c, len, len};
        float *o[3][NOUT];
        /* [0] separate, [1] fused, [2] fused on 2 threads */
        for (int v = 0; v < 3; v++) {
            for (int j = 0; j < NOUT; j++)
                o[v][j] = fbuf(sz[j]);
            qs_simd_set_path(p);
            qs_set_threads(v == 2 ? 2 : 1);
            bn_relu_pass(o[v], v > 0, x, dy, g, b, n, c, hw);
            qs_set_threads(1);
            qs_simd_set_path(QS_KPATH_COUNT);
        }
        size_t masked = 0;
        for (size_t i = 0; i < len; i++)
            masked += o[0][0][i] == 0.0f;
        T_CHECK(masked > len / 5 && masked < len - len / 5,
                "hw %d: %zu of %zu masked, the test needs both sides", hw,
                masked, len);
        for (int v = 1; v < 3; v++)
            for (int j = 0; j < NOUT; j++)
                T_CHECK(memcmp(o[0][j], o[v][j], sz[j] * sizeof(float)) == 0,
                        "%s hw %d: output %d of the fused BN-ReLU%s differs from "
                        "BN then ReLU",
                        qs_kpath_name(p), hw, j, v == 2 ? " on 2 threads" : "");
        arena_free();
    }
}

static void bn_relu_matches_separate(void)
{
    qs_rng_seed(&rng, 99);
    bn_relu_on_path(QS_KPATH_GENERIC);
    for_vector_paths(bn_relu_on_path);
}

/* The pairs fused: in a depthwise block, expand BN -> ReLU and dw BN ->
 * ReLU (the projection BN goes to the residual add); in a basic block only
 * the first BN -> ReLU (the second BN goes to the add). Quantized
 * activations (PACT) keep their own nodes. */
static int fused_pairs(qs_block block, int depth, int abits)
{
    qs_model_cfg c;
    memset(&c, 0, sizeof c);
    c.arch = QS_ARCH_RESNET;
    c.block = block;
    c.depth = depth;
    c.width = 2;
    c.in_c = 3;
    c.in_h = c.in_w = 8;
    c.classes = 10;
    c.wbits = 32;
    c.abits = abits;
    c.first_last_bits = 8;
    qs_model m;
    if (qs_model_build(&m, &c, 2) != 0)
        return -1;
    int pairs = 0;
    for (int i = 0; i < m.nnode; i++) {
        const qs_node *n = &m.nodes[i];
        if (!n->by_bn)
            continue;
        const qs_node *bn = &m.nodes[n->in0];
        if (bn->type != QS_NODE_BN || !bn->fuse_relu || bn->out != n->out ||
            bn->dout != n->dout)
            pairs = -1000;
        pairs++;
    }
    qs_model_free(&m);
    return pairs;
}

static void models_mark_fused_pairs(void)
{
    /* depthwise-11: stem + 3 blocks x 2, basic-8: stem + 3 blocks x 1 */
    int d = fused_pairs(QS_BLOCK_DEPTHWISE, 11, 32);
    T_CHECK(d == 7, "depthwise-11: %d fused BN-ReLU pairs, expected 7", d);
    int b = fused_pairs(QS_BLOCK_BASIC, 8, 32);
    T_CHECK(b == 4, "basic-8: %d fused BN-ReLU pairs, expected 4", b);
    int q = fused_pairs(QS_BLOCK_DEPTHWISE, 11, 2);
    T_CHECK(q == 0, "depthwise-11 A2: %d fused pairs, expected none", q);
}

/* |mean| / std = 1e5: the saved mean, invstd and running variance at
 * float precision, on each path */
static void bn_stats_large_mean_on_path(qs_kpath p)
{
    const int n = 4, c = 2, hw = 1031;
    const size_t len = (size_t)n * c * hw, m = (size_t)n * hw;
    float *x = fbuf(len), *y = fbuf(len), *sm = fbuf(c), *si = fbuf(c);
    float *rm = fbuf(c), *rv = fbuf(c), *g = rbuf(c, 0.5f, 1.5f);
    float *b = rbuf(c, -1.0f, 1.0f);
    for (size_t i = 0; i < len; i++)
        x[i] = 1000.0f + 0.01f * (float)qs_rng_normal(&rng);
    qs_simd_set_path(p);
    qs_bn_forward_train(y, sm, si, rm, rv, x, g, b, n, c, hw, 1.0f, 1e-5f, 0);
    qs_simd_set_path(QS_KPATH_COUNT);
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0, ss = 0.0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++)
                s += x[((size_t)i * c + ch) * hw + j];
        double mean = s / (double)m;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                double d = x[((size_t)i * c + ch) * hw + j] - mean;
                ss += d * d;
            }
        double invstd = 1.0 / sqrt(ss / (double)m + 1e-5);
        double var_unb = ss / (double)(m - 1);
        T_CHECK(fabs(sm[ch] - mean) <= 1e-7 * mean &&
                    fabs(si[ch] - invstd) <= 1e-6 * invstd &&
                    fabs(rv[ch] - var_unb) <= 1e-6 * var_unb,
                "%s channel %d: mean %.9g invstd %.9g var %.9g, two-pass "
                "%.9g %.9g %.9g",
                qs_kpath_name(p), ch, sm[ch], si[ch], rv[ch], mean, invstd,
                var_unb);
    }
    arena_free();
}

static void bn_stats_large_mean(void)
{
    qs_rng_seed(&rng, 5);
    bn_stats_large_mean_on_path(QS_KPATH_GENERIC);
    for_vector_paths(bn_stats_large_mean_on_path);
}

/* n floats at a 32-byte boundary, or (mis 1) one float past it */
static float *buf_at(size_t n, int mis)
{
    float *p = fbuf(n + 9);
    p += ((32 - ((uintptr_t)p & 31)) & 31) / sizeof(float);
    return p + mis;
}

/* Streaming stores (qs_stream_output) change no value: BN's y and
 * overwritten dx with the stores forced on (threshold 0) are the bits of
 * plain stores (threshold above any size), fused or not, with the outputs
 * 32-byte aligned (streamed) and not (plain fallback), on 1 and 2 threads
 * (4 x 5 x 4096 is above BN's split threshold). */
static void bn_stream_on_path(qs_kpath p)
{
    const int shapes[][3] = {{3, 5, 37}, {3, 5, 64}, {2, 3, 1031}, {4, 5, 4096}};
    arena_free(); /* a failed check elsewhere returns without it */
    for (unsigned k = 0; k < sizeof shapes / sizeof *shapes; k++)
        for (int fused = 0; fused < 2; fused++)
            for (int mis = 0; mis < 2; mis++) {
                const int n = shapes[k][0], c = shapes[k][1], hw = shapes[k][2];
                size_t len = (size_t)n * c * hw;
                float *x = rbuf(len, 90.0f, 110.0f), *dy = rbuf(len, -1.0f, 1.0f);
                float *g = rbuf((size_t)c, 0.5f, 1.5f);
                float *b = rbuf((size_t)c, -1.0f, 1.0f);
                size_t sz[NOUT] = {len, (size_t)c, (size_t)c, (size_t)c, (size_t)c,
                                   len, 2 * (size_t)c, len, len};
                float *o[3][NOUT];
                /* [0] plain, [1] streamed, [2] streamed on 2 threads */
                for (int v = 0; v < 3; v++) {
                    for (int j = 0; j < NOUT; j++)
                        o[v][j] = buf_at(sz[j], mis);
                    qs_simd_set_path(p);
                    qs_stream_set_min(v ? 0 : SIZE_MAX);
                    qs_set_threads(v == 2 ? 2 : 1);
                    bn_relu_pass(o[v], fused, x, dy, g, b, n, c, hw);
                    qs_set_threads(1);
                    qs_stream_set_min(QS_STREAM_MIN);
                    qs_simd_set_path(QS_KPATH_COUNT);
                }
                for (int v = 1; v < 3; v++)
                    for (int j = 0; j < NOUT; j++)
                        T_CHECK(memcmp(o[0][j], o[v][j], sz[j] * sizeof(float)) == 0,
                                "%s %dx%dx%d fused %d misaligned %d: output %d "
                                "streamed%s differs from plain stores",
                                qs_kpath_name(p), n, c, hw, fused, mis, j,
                                v == 2 ? " on 2 threads" : "");
                arena_free();
            }
}

static void bn_stream_matches_plain(void)
{
    qs_rng_seed(&rng, 7);
    for_vector_paths(bn_stream_on_path);
}

int main(void)
{
    T_RUN(bn_stats_large_mean);
    T_RUN(bn_stream_matches_plain);
    T_RUN(bn_relu_matches_separate);
    T_RUN(models_mark_fused_pairs);
    arena_free();
    T_EXIT();
}
