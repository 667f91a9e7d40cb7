/* Whole-model tests: parameter counts (methods.md section 8, Table 5),
 * width solver, gradient of whole small networks against finite
 * differences, determinism, and the BLAS core choice. */
#include <string.h>

#include "blas_fix.h"
#include "convk.h"
#include "err.h"
#include "gemm.h"
#include "layers.h"
#include "model.h"
#include "tharness.h"

static qs_model_cfg cfg_of(qs_arch arch, qs_block b, int depth, int width, int in_c)
{
    qs_model_cfg c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.block = b;
    c.depth = depth;
    c.width = width;
    c.in_c = in_c;
    c.in_h = c.in_w = arch == QS_ARCH_RESNET ? 32 : 1;
    c.classes = arch == QS_ARCH_RESNET ? 10 : 2;
    c.wbits = c.abits = 32;
    c.first_last_bits = 8;
    return c;
}

static void test_fcdnn_counts(void)
{
    qs_model_cfg c = cfg_of(QS_ARCH_FCDNN, 0, 4, 200, 2);
    T_CHECK(qs_model_param_count(&c) == 81402, "200-4: %ld", qs_model_param_count(&c));
    c.width = 128;
    c.depth = 6;
    T_CHECK(qs_model_param_count(&c) == 66690, "128-6: %ld", qs_model_param_count(&c));
    c.residual = 1; /* the residual sum adds no parameters */
    T_CHECK(qs_model_param_count(&c) == 66690, "res 128-6: %ld", qs_model_param_count(&c));
}

/* Table 5 of the paper (paper-results.json): block, depth, width, params_m. */
static const struct { qs_block b; int depth, width; double params_m; } table5[] = {
    {QS_BLOCK_BASIC, 8, 59, 1.05},      {QS_BLOCK_BASIC, 14, 40, 1.10},
    {QS_BLOCK_BASIC, 20, 31, 1.03},     {QS_BLOCK_BASIC, 32, 24, 1.06},
    {QS_BLOCK_BASIC, 44, 20, 1.04},     {QS_BLOCK_BASIC, 56, 18, 1.09},
    {QS_BLOCK_PREACT, 8, 59, 1.05},     {QS_BLOCK_PREACT, 14, 40, 1.10},
    {QS_BLOCK_PREACT, 20, 31, 1.03},    {QS_BLOCK_PREACT, 32, 24, 1.06},
    {QS_BLOCK_PREACT, 44, 20, 1.04},    {QS_BLOCK_PREACT, 56, 18, 1.09},
    {QS_BLOCK_DEPTHWISE, 29, 38, 1.11}, {QS_BLOCK_DEPTHWISE, 38, 32, 1.08},
    {QS_BLOCK_DEPTHWISE, 56, 26, 1.11}, {QS_BLOCK_DEPTHWISE, 74, 22, 1.08},
    {QS_BLOCK_DEPTHWISE, 110, 18, 1.13},
};

static void test_table5_counts(void)
{
    qs_model_cfg c = cfg_of(QS_ARCH_RESNET, QS_BLOCK_BASIC, 20, 31, 3);
    T_CHECK(qs_model_param_count(&c) == 1018019, "basic-20-31: %ld", qs_model_param_count(&c));
    for (size_t i = 0; i < sizeof table5 / sizeof table5[0]; i++) {
        c = cfg_of(QS_ARCH_RESNET, table5[i].b, table5[i].depth, table5[i].width, 3);
        double n = (double)qs_model_param_count(&c) / 1e6;
        double rel = fabs(n - table5[i].params_m) / table5[i].params_m;
        T_CHECK(rel <= 0.05, "%s-%d-%d: %.4fM vs paper %.2fM (%.1f%%)",
                qs_block_name(table5[i].b), table5[i].depth, table5[i].width, n,
                table5[i].params_m, 100 * rel);
    }
}

static void test_invalid_cfg(void)
{
    qs_model_cfg c = cfg_of(QS_ARCH_RESNET, QS_BLOCK_BASIC, 21, 16, 3);
    T_CHECK(qs_model_cfg_validate(&c) != 0, "depth 21 basic accepted");
    T_CHECK(strstr(qs_errmsg(), "6n+2") != NULL, "message: %s", qs_errmsg());
    c.block = QS_BLOCK_DEPTHWISE;
    c.depth = 21;
    T_CHECK(qs_model_cfg_validate(&c) != 0 && strstr(qs_errmsg(), "9n+2"), "dw 21: %s", qs_errmsg());
    c.depth = 29;
    T_CHECK(qs_model_cfg_validate(&c) == 0, "dw 29 rejected: %s", qs_errmsg());
    c.width = 0;
    T_CHECK(qs_model_cfg_validate(&c) != 0, "width 0 accepted");
    T_CHECK(qs_model_param_count(&c) == -1, "count of invalid cfg");
}

static void test_width_solver(void)
{
    qs_model_cfg c = cfg_of(QS_ARCH_RESNET, QS_BLOCK_BASIC, 20, 1, 3);
    int k = 0;
    T_CHECK(qs_model_solve_width(&k, &c, 1e6) == 0, "solver failed");
    T_CHECK(k == 31, "basic-20 at 1M params: k = %d", k);
    /* the nearest count: neither neighbour is closer */
    c.width = k;
    long n = qs_model_param_count(&c);
    c.width = k - 1;
    long lo = qs_model_param_count(&c);
    c.width = k + 1;
    long hi = qs_model_param_count(&c);
    T_CHECK(labs(n - 1000000) <= labs(lo - 1000000) && labs(n - 1000000) <= labs(hi - 1000000),
            "k %d not nearest: %ld %ld %ld", k, lo, n, hi);
    c = cfg_of(QS_ARCH_RESNET, QS_BLOCK_BASIC, 8, 1, 3);
    T_CHECK(qs_model_solve_width(&k, &c, 1e6) == 0 && k == 58, "basic-8: k = %d (methods.md: 58)", k);
}

/* Loss of the model on a fixed batch (train-mode BN). */
static double model_loss(qs_model *m, const float *x, const int *y, int nb)
{
    const float *lg = qs_model_forward(m, x, nb, 1);
    return qs_softmax_xent(NULL, NULL, lg, y, nb, m->cfg.classes, 0.0f);
}

/* Directional derivative check of the whole network, one layer at a time:
 * for a random unit direction v over one layer's parameters,
 * (L(p + h v) - L(p - h v)) / 2h against g . v. ReLU kinks make a single
 * step size unreliable in float32, so a layer passes when any of three step
 * sizes agrees; a wiring error (a missed or doubled gradient path) is off at
 * every step size. Batch 32 keeps BN statistics smooth. */
static int grad_check(qs_model_cfg c, int nb, char *why, size_t whylen)
{
    qs_model m;
    qs_rng r;
    int ok = 1;
    if (qs_model_build(&m, &c, nb) != 0) {
        snprintf(why, whylen, "build: %s", qs_errmsg());
        return 0;
    }
    qs_rng_seed(&r, 7);
    qs_model_init(&m, &r);
    size_t xlen = (size_t)nb * c.in_c * c.in_h * c.in_w;
    float *x = malloc(xlen * sizeof(float)), *dl = malloc((size_t)nb * c.classes * sizeof(float));
    float *p0 = malloc((size_t)m.nparam * sizeof(float)), *g = malloc((size_t)m.nparam * sizeof(float));
    float *v = calloc((size_t)m.nparam, sizeof(float));
    int *y = malloc((size_t)nb * sizeof(int));
    for (size_t i = 0; i < xlen; i++)
        x[i] = (float)qs_rng_normal(&r);
    for (int i = 0; i < nb; i++)
        y[i] = (int)qs_rng_below(&r, (uint32_t)c.classes);
    const float *lg = qs_model_forward(&m, x, nb, 1);
    qs_softmax_xent(dl, NULL, lg, y, nb, c.classes, 1.0f / nb);
    qs_model_backward(&m, dl, nb);
    memcpy(g, m.grad, (size_t)m.nparam * sizeof(float));
    memcpy(p0, m.param, (size_t)m.nparam * sizeof(float));
    for (int i = 0; i < m.nnode && ok; i++) {
        const qs_node *n = &m.nodes[i];
        if (n->w_off < 0)
            continue;
        long off = n->w_off;
        long len = n->type == QS_NODE_BN ? 2L * n->c : n->wlen + (n->b_off >= 0 ? n->c : 0);
        double vn = 0, gv = 0, best = 1e30, fd_best = 0;
        memset(v, 0, (size_t)m.nparam * sizeof(float));
        for (long j = off; j < off + len; j++) {
            v[j] = (float)qs_rng_normal(&r);
            vn += (double)v[j] * v[j];
        }
        for (long j = off; j < off + len; j++) {
            v[j] /= (float)sqrt(vn);
            gv += (double)g[j] * v[j];
        }
        static const double hs[3] = {1e-3, 3e-4, 1e-4};
        for (int k = 0; k < 3; k++) {
            for (long j = off; j < off + len; j++)
                m.param[j] = p0[j] + (float)hs[k] * v[j];
            double lp = model_loss(&m, x, y, nb);
            for (long j = off; j < off + len; j++)
                m.param[j] = p0[j] - (float)hs[k] * v[j];
            double lm = model_loss(&m, x, y, nb);
            double fd = (lp - lm) / (2 * hs[k]);
            if (fabs(fd - gv) < best) {
                best = fabs(fd - gv);
                fd_best = fd;
            }
        }
        memcpy(m.param, p0, (size_t)m.nparam * sizeof(float));
        if (!T_CLOSE(fd_best, gv, 3e-2, 3e-4)) {
            snprintf(why, whylen, "node %d (type %d): finite difference %.6g vs analytic %.6g",
                     i, (int)n->type, fd_best, gv);
            ok = 0;
        }
    }
    free(x);
    free(dl);
    free(p0);
    free(g);
    free(v);
    free(y);
    qs_model_free(&m);
    return ok;
}

static void test_gradcheck_models(void)
{
    char why[256];
    qs_gemm_set_backend(QS_GEMM_NAIVE);
    for (int b = 0; b <= QS_BLOCK_DEPTHWISE; b++) {
        qs_model_cfg c = cfg_of(QS_ARCH_RESNET, (qs_block)b, b == QS_BLOCK_DEPTHWISE ? 11 : 8, 3, 2);
        c.in_h = c.in_w = 4;
        int ok = grad_check(c, 32, why, sizeof why);
        T_CHECK(ok, "resnet %s: %s", qs_block_name((qs_block)b), why);
    }
    qs_model_cfg f = cfg_of(QS_ARCH_FCDNN, 0, 5, 16, 2);
    T_CHECK(grad_check(f, 32, why, sizeof why), "fcdnn: %s", why);
    f.residual = 1;
    T_CHECK(grad_check(f, 32, why, sizeof why), "fcdnn residual: %s", why);
    qs_gemm_set_backend(QS_GEMM_BLAS);
    qs_model_cfg c = cfg_of(QS_ARCH_RESNET, QS_BLOCK_BASIC, 8, 4, 3);
    c.in_h = c.in_w = 4;
    T_CHECK(grad_check(c, 32, why, sizeof why), "resnet basic (OpenBLAS): %s", why);
}

/* Same seed, same bits; BLAS and naive forward agree closely. */
static void test_determinism(void)
{
    qs_model_cfg c = cfg_of(QS_ARCH_RESNET, QS_BLOCK_PREACT, 8, 4, 3);
    qs_model a, b;
    qs_rng ra, rb;
    T_CHECK(qs_model_build(&a, &c, 4) == 0 && qs_model_build(&b, &c, 4) == 0, "build");
    qs_rng_seed(&ra, 3);
    qs_rng_seed(&rb, 3);
    qs_model_init(&a, &ra);
    qs_model_init(&b, &rb);
    T_CHECK(memcmp(a.param, b.param, (size_t)a.nparam * 4) == 0, "init differs");
    float x[4 * 3 * 32 * 32];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = (float)qs_rng_normal(&ra);
    const float *la = qs_model_forward(&a, x, 4, 1);
    const float *lb = qs_model_forward(&b, x, 4, 1);
    T_CHECK(memcmp(la, lb, 40 * sizeof(float)) == 0, "forward differs run to run");
    qs_gemm_set_backend(QS_GEMM_NAIVE);
    qs_rng_seed(&rb, 3);
    qs_model_init(&b, &rb);
    lb = qs_model_forward(&b, x, 4, 1);
    qs_gemm_set_backend(QS_GEMM_BLAS);
    for (int i = 0; i < 40; i++)
        T_CHECK(T_CLOSE(la[i], lb[i], 1e-3, 1e-4), "logit %d: blas %g naive %g", i, la[i], lb[i]);
    qs_model_free(&a);
    qs_model_free(&b);
}

static void test_cost(void)
{
    qs_model_cfg c = cfg_of(QS_ARCH_RESNET, QS_BLOCK_BASIC, 20, 31, 3);
    qs_model_cost k;
    T_CHECK(qs_model_cost_get(&k, &c) == 0, "cost");
    /* The figure: 0.914 GFLOP per image per training step. */
    T_CHECK(fabs(k.train_flop / 1e9 - 0.914) < 0.005, "train GFLOP/img %.4f", k.train_flop / 1e9);
    T_CHECK(fabs(k.model_bits - 32.0 * 1018019) < 1, "float model bits %.0f", k.model_bits);
    c.wbits = c.abits = 2;
    T_CHECK(qs_model_cost_get(&k, &c) == 0, "cost w2a2");
    T_CHECK(k.model_bits < 32.0 * 1018019 / 8, "w2a2 model bits %.0f", k.model_bits);
    qs_model_cfg f = cfg_of(QS_ARCH_FCDNN, 0, 4, 200, 2);
    f.wbits = f.abits = 2;
    T_CHECK(qs_model_cost_get(&k, &f) == 0, "fcdnn cost");
    /* first layer 8-bit weights x 32-bit input; two hidden 2x2; last 8x2 */
    double want = 400.0 * 8 * 32 + 2 * 40000.0 * 2 * 2 + 400.0 * 8 * 2;
    T_CHECK(fabs(k.bops - want) < 1, "bops %.0f want %.0f", k.bops, want);
}

static void test_blas_pick(void)
{
    T_CHECK(qs_blas_pick_core("Prescott", 1, 1) && !strcmp(qs_blas_pick_core("Prescott", 1, 1), "SkylakeX"), "avx512");
    T_CHECK(!strcmp(qs_blas_pick_core("Prescott", 0, 1), "Haswell"), "avx2");
    T_CHECK(qs_blas_pick_core("Prescott", 0, 0) == NULL, "no avx");
    T_CHECK(qs_blas_pick_core("SkylakeX", 1, 1) == NULL, "recognised core left alone");
    T_CHECK(qs_blas_pick_core("Cooperlake", 1, 1) == NULL, "recognised core left alone");
    fprintf(stderr, "BLAS core in use: %s\n", qs_blas_core());
}

/* One training step of basic-20 k16 (batch 32) with and without the
 * Winograd convs, on the same weights and data: logits and every layer's
 * gradient within 1e-4 of that layer's largest (measured on AVX2: 5.8e-6
 * at most), so Winograd changes rounding, not the gradient. On CPUs
 * without the vector paths both runs are the same code. */
static void test_winograd_model_grads(void)
{
    qs_model_cfg c = cfg_of(QS_ARCH_RESNET, QS_BLOCK_BASIC, 20, 16, 3);
    const int nb = 32;
    qs_model m;
    qs_rng r;
    T_CHECK(qs_model_build(&m, &c, nb) == 0, "build: %s", qs_errmsg());
    qs_rng_seed(&r, 7);
    qs_model_init(&m, &r);
    const size_t xlen = (size_t)nb * 3 * 32 * 32, ll = (size_t)nb * 10;
    float *x = malloc(xlen * sizeof(float)), *dl = malloc(ll * sizeof(float));
    float *lg[2] = {malloc(ll * sizeof(float)), malloc(ll * sizeof(float))};
    float *g[2] = {malloc((size_t)m.nparam * sizeof(float)),
                   malloc((size_t)m.nparam * sizeof(float))};
    int *y = malloc((size_t)nb * sizeof(int));
    T_CHECK(x && dl && lg[0] && lg[1] && g[0] && g[1] && y, "out of memory");
    for (size_t i = 0; i < xlen; i++)
        x[i] = (float)qs_rng_normal(&r);
    for (int i = 0; i < nb; i++)
        y[i] = (int)qs_rng_below(&r, 10);
    for (int w = 0; w < 2; w++) {
        qs_convk_set_winograd(w);
        memcpy(lg[w], qs_model_forward(&m, x, nb, 1), ll * sizeof(float));
        qs_softmax_xent(dl, NULL, lg[w], y, nb, 10, 1.0f / nb);
        qs_model_backward(&m, dl, nb);
        memcpy(g[w], m.grad, (size_t)m.nparam * sizeof(float));
    }
    qs_convk_set_winograd(-1);
    double lmax = 0.0, ldiff = 0.0, worst = 0.0;
    for (size_t i = 0; i < ll; i++) {
        lmax = fmax(lmax, fabs(lg[0][i]));
        ldiff = fmax(ldiff, fabs(lg[0][i] - lg[1][i]));
    }
    T_CHECK(ldiff <= 1e-4 * lmax, "logits differ by %.3g (largest %.3g)", ldiff, lmax);
    for (int i = 0; i < m.nnode; i++) {
        const qs_node *n = &m.nodes[i];
        if (n->w_off < 0)
            continue;
        long len = n->type == QS_NODE_BN ? 2L * n->c : n->wlen + (n->b_off >= 0 ? n->c : 0);
        double mx = 0.0, e = 0.0;
        for (long j = n->w_off; j < n->w_off + len; j++) {
            mx = fmax(mx, fabs(g[0][j]));
            e = fmax(e, fabs(g[0][j] - g[1][j]));
        }
        worst = fmax(worst, e / mx);
        T_CHECK(e <= 1e-4 * mx, "node %d: gradient differs by %.3g of its largest", i, e / mx);
    }
    printf("    (largest per-layer gradient difference: %.3g)\n", worst);
    free(x);
    free(dl);
    free(lg[0]);
    free(lg[1]);
    free(g[0]);
    free(g[1]);
    free(y);
    qs_model_free(&m);
}

int main(void)
{
    T_RUN(test_fcdnn_counts);
    T_RUN(test_table5_counts);
    T_RUN(test_invalid_cfg);
    T_RUN(test_width_solver);
    T_RUN(test_gradcheck_models);
    T_RUN(test_determinism);
    T_RUN(test_cost);
    T_RUN(test_blas_pick);
    T_RUN(test_winograd_model_grads);
    T_EXIT();
}
