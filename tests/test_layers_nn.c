/* Batch norm, elementwise layers, linear and the loss: finite differences,
 * hand-computed values, vector paths and thread splits against the scalar
 * one-thread result (the shared engine: layer_check.h). */
#include "layer_check.h"

/* ---- batch norm -------------------------------------------------------- */

typedef struct {
    int n, c, hw;
    float *x, *g, *b, *y, *r, *sm, *si, *rm, *rv;
} bn_ctx;

static double bn_loss(void *p)
{
    bn_ctx *c = p;
    qs_bn_forward_train(c->y, c->sm, c->si, c->rm, c->rv, c->x, c->g, c->b,
                        c->n, c->c, c->hw, 0.1f, 1e-5f, 0);
    return dot(c->y, c->r, (size_t)c->n * c->c * c->hw);
}

static void bn_setup(bn_ctx *c, int n, int ch, int hw)
{
    size_t len = (size_t)n * ch * hw;
    c->n = n;
    c->c = ch;
    c->hw = hw;
    c->x = rbuf(len, -1.0f, 1.5f);
    c->g = rbuf(ch, 0.5f, 1.5f);
    c->b = rbuf(ch, -0.5f, 0.5f);
    c->y = fbuf(len);
    c->r = rbuf(len, -1.0f, 1.0f);
    c->sm = fbuf(ch);
    c->si = fbuf(ch);
    c->rm = fbuf(ch);
    c->rv = fbuf(ch);
}

static void bn_grad_train(void)
{
    bn_ctx c;
    bn_setup(&c, 3, 2, 5);
    size_t len = 3 * 2 * 5;
    float *dx = fbuf(len), *dg = fbuf(2), *db = fbuf(2);
    bn_loss(&c);
    qs_bn_backward(dx, dg, db, c.r, c.x, c.sm, c.si, c.g, NULL, c.n, c.c, c.hw, 1, 0);
    T_CHECK(grad_check("dx", bn_loss, &c, c.x, dx, len, 5e-3f, RTOL, ATOL) ==
                0,
            "%s", msg);
    T_CHECK(grad_check("dgamma", bn_loss, &c, c.g, dg, 2, 5e-3f, RTOL,
                       ATOL) == 0,
            "%s", msg);
    T_CHECK(grad_check("dbeta", bn_loss, &c, c.b, db, 2, 5e-3f, RTOL,
                       ATOL) == 0,
            "%s", msg);
}

/* n = 2, c = 2, hw = 3, hand-computed. Channel 0 holds 1..6: mean 3.5,
 * biased var 35/12, unbiased 3.5. Channel 1 holds 0,0,0,0,0,6: mean 1,
 * biased var 5, unbiased 6. */
static void bn_running_stats(void)
{
    const float x[12] = {1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0, 6};
    const float g[2] = {2.0f, 0.5f}, b[2] = {1.0f, -1.0f};
    float y[12], sm[2], si[2], rm[2] = {0.0f, 2.0f}, rv[2] = {1.0f, 1.0f};
    qs_bn_forward_train(y, sm, si, rm, rv, x, g, b, 2, 2, 3, 0.1f, 1e-5f, 0);
    T_CHECK(fabsf(sm[0] - 3.5f) < 1e-6f && fabsf(sm[1] - 1.0f) < 1e-6f,
            "save_mean %g %g", sm[0], sm[1]);
    double i0 = 1.0 / sqrt(35.0 / 12.0 + 1e-5), i1 = 1.0 / sqrt(5.0 + 1e-5);
    T_CHECK(T_CLOSE(si[0], i0, 1e-6, 0) && T_CLOSE(si[1], i1, 1e-6, 0),
            "save_invstd %g %g, want %g %g", si[0], si[1], i0, i1);
    /* run = 0.9 run + 0.1 batch, unbiased variance */
    T_CHECK(T_CLOSE(rm[0], 0.35, 1e-6, 0) && T_CLOSE(rm[1], 1.9, 1e-6, 0),
            "run_mean %g %g, want 0.35 1.9", rm[0], rm[1]);
    T_CHECK(T_CLOSE(rv[0], 1.25, 1e-6, 0) && T_CLOSE(rv[1], 1.5, 1e-6, 0),
            "run_var %g %g, want 1.25 1.5", rv[0], rv[1]);
    for (int i = 0; i < 12; i++) {
        int ch = (i / 3) % 2;
        double inv = ch ? i1 : i0, mean = ch ? 1.0 : 3.5;
        double want = (x[i] - mean) * inv * g[ch] + b[ch];
        T_CHECK(T_CLOSE(y[i], want, 1e-5, 1e-6), "y[%d] %g want %g", i, y[i],
                want);
    }
}

static void bn_eval_formula(void)
{
    bn_ctx c;
    bn_setup(&c, 2, 3, 4);
    fill(c.rm, 3, -1.0f, 1.0f);
    fill(c.rv, 3, 0.5f, 2.0f);
    qs_bn_forward_eval(c.y, c.x, c.g, c.b, c.rm, c.rv, 2, 3, 4, 1e-5f, 0);
    for (int i = 0; i < 24; i++) {
        int ch = (i / 4) % 3;
        double want = (c.x[i] - c.rm[ch]) / sqrt(c.rv[ch] + 1e-5) * c.g[ch] +
                      c.b[ch];
        T_CHECK(T_CLOSE(c.y[i], want, 1e-5, 1e-6), "y[%d] %g want %g", i,
                c.y[i], want);
    }
    /* in place gives the same values */
    float *z = copy(c.x, 24);
    qs_bn_forward_eval(z, z, c.g, c.b, c.rm, c.rv, 2, 3, 4, 1e-5f, 0);
    T_CHECK(memcmp(z, c.y, sizeof(float) * 24) == 0, "in-place eval BN");
}

/* A large common offset must not cost precision (mean 1000, std ~1). */
static void bn_large_mean(void)
{
    bn_ctx c;
    bn_setup(&c, 4, 1, 16);
    for (int i = 0; i < 64; i++)
        c.x[i] += 1000.0f;
    bn_loss(&c);
    double s = 0, ss = 0;
    for (int i = 0; i < 64; i++) {
        double v = (c.y[i] - c.b[0]) / c.g[0];
        s += v;
        ss += v * v;
    }
    T_CHECK(fabs(s / 64) < 1e-4 && fabs(ss / 64 - 1.0) < 1e-3,
            "normalised mean %g, var %g", s / 64, ss / 64);
}

static void bn_accumulate_and_null(void)
{
    bn_ctx c;
    bn_setup(&c, 3, 2, 5);
    size_t len = 30;
    bn_loss(&c);
    float *dx1 = fbuf(len), *dg1 = fbuf(2), *db1 = fbuf(2);
    float *dx2 = fbuf(len), *dg2 = fbuf(2), *db2 = fbuf(2);
    float *dg3 = fbuf(2), *db3 = fbuf(2);
    qs_bn_backward(dx1, dg1, db1, c.r, c.x, c.sm, c.si, c.g, NULL, 3, 2, 5, 1, 0);
    qs_bn_backward(dx2, dg2, db2, c.r, c.x, c.sm, c.si, c.g, NULL, 3, 2, 5, 1, 0);
    qs_bn_backward(dx2, dg2, db2, c.r, c.x, c.sm, c.si, c.g, NULL, 3, 2, 5, 1, 0);
    for (size_t i = 0; i < len; i++)
        T_CHECK(T_CLOSE(dx2[i], 2 * dx1[i], 1e-5, 1e-6),
                "dx[%zu] %g vs 2 x %g", i, dx2[i], dx1[i]);
    for (int i = 0; i < 2; i++)
        T_CHECK(T_CLOSE(dg2[i], 2 * dg1[i], 1e-5, 1e-6) &&
                    T_CLOSE(db2[i], 2 * db1[i], 1e-5, 1e-6),
                "dgamma/dbeta[%d] not doubled", i);
    qs_bn_backward(NULL, dg3, db3, c.r, c.x, c.sm, c.si, c.g, NULL, 3, 2, 5, 1, 0);
    T_CHECK(memcmp(dg3, dg1, sizeof(float) * 2) == 0 &&
                memcmp(db3, db1, sizeof(float) * 2) == 0,
            "NULL dx changed dgamma/dbeta");
}

/* ---- relu, add, gap ---------------------------------------------------- */

typedef struct {
    size_t len;
    float *x, *y, *r;
} relu_ctx;

static double relu_loss(void *p)
{
    relu_ctx *c = p;
    qs_relu_forward(c->y, c->x, c->len);
    return dot(c->y, c->r, c->len);
}

static void relu_grad(void)
{
    relu_ctx c = {.len = 37};
    c.x = rbuf(c.len, 0.05f, 1.0f);
    /* keep every input at least 0.05 from the kink at 0 (h is 1e-2) */
    for (size_t i = 0; i < c.len; i += 2)
        c.x[i] = -c.x[i];
    c.y = fbuf(c.len);
    c.r = rbuf(c.len, -1.0f, 1.0f);
    float *dx = fbuf(c.len), *dx2 = fbuf(c.len);
    relu_loss(&c);
    qs_relu_backward(dx, c.r, c.y, c.len, 1);
    T_CHECK(grad_check("dx", relu_loss, &c, c.x, dx, c.len, 1e-2f, RTOL,
                       ATOL) == 0,
            "%s", msg);
    qs_relu_backward(dx2, c.r, c.y, c.len, 1);
    qs_relu_backward(dx2, c.r, c.y, c.len, 1);
    for (size_t i = 0; i < c.len; i++)
        T_CHECK(dx2[i] == 2 * dx[i], "dx[%zu] not doubled", i);
    qs_relu_backward(NULL, c.r, c.y, c.len, 1);
    /* in place, and a NaN passes through so divergence stays visible */
    c.x[3] = NAN;
    float *z = copy(c.x, c.len);
    qs_relu_forward(z, z, c.len);
    qs_relu_forward(c.y, c.x, c.len);
    T_CHECK(isnan(z[3]) && isnan(c.y[3]), "NaN swallowed by relu");
    for (size_t i = 0; i < c.len; i++)
        if (i != 3)
            T_CHECK(z[i] == c.y[i] && z[i] == (c.x[i] > 0 ? c.x[i] : 0.0f),
                    "relu[%zu] %g (in place %g) for x %g", i, c.y[i], z[i],
                    c.x[i]);
}

typedef struct {
    size_t len;
    float *a, *b, *y, *r;
} add_ctx;

static double add_loss(void *p)
{
    add_ctx *c = p;
    qs_add_forward(c->y, c->a, c->b, 0.5f, c->len);
    return dot(c->y, c->r, c->len);
}

static void add_grad_half(void)
{
    add_ctx c = {.len = 23};
    c.a = rbuf(c.len, -1.0f, 1.0f);
    c.b = rbuf(c.len, -1.0f, 1.0f);
    c.y = fbuf(c.len);
    c.r = rbuf(c.len, -1.0f, 1.0f);
    float *da = fbuf(c.len), *db = fbuf(c.len), *da2 = fbuf(c.len);
    add_loss(&c);
    qs_add_backward(da, db, c.r, 0.5f, c.len, 1, 1);
    T_CHECK(grad_check("da", add_loss, &c, c.a, da, c.len, 1e-2f, RTOL,
                       ATOL) == 0,
            "%s", msg);
    T_CHECK(grad_check("db", add_loss, &c, c.b, db, c.len, 1e-2f, RTOL,
                       ATOL) == 0,
            "%s", msg);
    qs_add_backward(da2, NULL, c.r, 0.5f, c.len, 1, 1);
    qs_add_backward(da2, NULL, c.r, 0.5f, c.len, 1, 1);
    for (size_t i = 0; i < c.len; i++)
        T_CHECK(da2[i] == 2 * da[i], "da[%zu] not doubled", i);
    qs_add_backward(NULL, NULL, c.r, 0.5f, c.len, 1, 1);
    /* in place on either operand equals the out-of-place result (c.y is
     * recomputed: grad_check leaves the last perturbed forward in it) */
    add_loss(&c);
    float *ya = copy(c.a, c.len), *yb = copy(c.b, c.len), *yy = copy(c.a, c.len);
    qs_add_forward(ya, ya, c.b, 0.5f, c.len);
    qs_add_forward(yb, c.a, yb, 0.5f, c.len);
    qs_add_forward(yy, yy, yy, 0.5f, c.len);
    for (size_t i = 0; i < c.len; i++) {
        T_CHECK(ya[i] == c.y[i] && yb[i] == c.y[i], "in-place add [%zu]", i);
        T_CHECK(yy[i] == c.a[i], "y = (y + y) / 2 [%zu]", i);
    }
    float *y1 = fbuf(c.len), *z1 = copy(c.b, c.len);
    qs_add_forward(y1, c.a, c.b, 1.0f, c.len);
    qs_add_forward(z1, c.a, z1, 1.0f, c.len);
    for (size_t i = 0; i < c.len; i++)
        T_CHECK(y1[i] == c.a[i] + c.b[i] && z1[i] == y1[i],
                "scale 1 add [%zu]", i);
}

typedef struct {
    int n, c, hw;
    float *x, *y, *r;
} gap_ctx;

static double gap_loss(void *p)
{
    gap_ctx *c = p;
    qs_gap_forward(c->y, c->x, c->n, c->c, c->hw);
    return dot(c->y, c->r, (size_t)c->n * c->c);
}

static void gap_grad(void)
{
    gap_ctx c = {.n = 2, .c = 3, .hw = 7};
    size_t len = 42;
    c.x = rbuf(len, -1.0f, 1.0f);
    c.y = fbuf(6);
    c.r = rbuf(6, -1.0f, 1.0f);
    float *dx = fbuf(len), *dx2 = fbuf(len);
    gap_loss(&c);
    for (int p = 0; p < 6; p++) {
        double s = 0;
        for (int j = 0; j < 7; j++)
            s += c.x[p * 7 + j];
        T_CHECK(T_CLOSE(c.y[p], s / 7, 1e-6, 1e-7), "mean[%d]", p);
    }
    qs_gap_backward(dx, c.r, 2, 3, 7);
    T_CHECK(grad_check("dx", gap_loss, &c, c.x, dx, len, 1e-2f, RTOL,
                       1e-4) == 0,
            "%s", msg);
    qs_gap_backward(dx2, c.r, 2, 3, 7);
    qs_gap_backward(dx2, c.r, 2, 3, 7);
    for (size_t i = 0; i < len; i++)
        T_CHECK(dx2[i] == 2 * dx[i], "dx[%zu] not doubled", i);
    qs_gap_backward(NULL, c.r, 2, 3, 7);
}

/* ---- linear ------------------------------------------------------------ */

typedef struct {
    int n, in, out;
    float *x, *w, *b, *y, *r;
} lin_ctx;

static double lin_loss(void *p)
{
    lin_ctx *c = p;
    qs_linear_forward(c->y, c->x, c->w, c->b, c->n, c->in, c->out);
    return dot(c->y, c->r, (size_t)c->n * c->out);
}

static void linear_grad(void)
{
    lin_ctx c = {.n = 3, .in = 7, .out = 5};
    size_t xl = 21, wl = 35, yl = 15;
    c.x = rbuf(xl, -1.0f, 1.0f);
    c.w = rbuf(wl, -1.0f, 1.0f);
    c.b = rbuf(5, -1.0f, 1.0f);
    c.y = fbuf(yl);
    c.r = rbuf(yl, -1.0f, 1.0f);
    float *dx = fbuf(xl), *dw = fbuf(wl), *db = fbuf(5);
    lin_loss(&c);
    /* y = x W^T + b against a direct loop */
    for (int i = 0; i < 3; i++)
        for (int o = 0; o < 5; o++) {
            double s = c.b[o];
            for (int j = 0; j < 7; j++)
                s += (double)c.x[i * 7 + j] * c.w[o * 7 + j];
            T_CHECK(T_CLOSE(c.y[i * 5 + o], s, 1e-5, 1e-6), "y[%d,%d]", i, o);
        }
    qs_linear_backward(dx, dw, db, c.r, c.x, c.w, 3, 7, 5);
    T_CHECK(grad_check("dx", lin_loss, &c, c.x, dx, xl, 1e-2f, RTOL, ATOL) ==
                0,
            "%s", msg);
    T_CHECK(grad_check("dweight", lin_loss, &c, c.w, dw, wl, 1e-2f, RTOL,
                       ATOL) == 0,
            "%s", msg);
    T_CHECK(grad_check("dbias", lin_loss, &c, c.b, db, 5, 1e-2f, RTOL,
                       ATOL) == 0,
            "%s", msg);
}

static void linear_accumulate_and_null(void)
{
    lin_ctx c = {.n = 3, .in = 7, .out = 5};
    c.x = rbuf(21, -1.0f, 1.0f);
    c.w = rbuf(35, -1.0f, 1.0f);
    c.r = rbuf(15, -1.0f, 1.0f);
    float *dx1 = fbuf(21), *dw1 = fbuf(35), *db1 = fbuf(5);
    float *dx2 = fbuf(21), *dw2 = fbuf(35), *db2 = fbuf(5);
    float *dw3 = fbuf(35);
    qs_linear_backward(dx1, dw1, db1, c.r, c.x, c.w, 3, 7, 5);
    qs_linear_backward(dx2, dw2, db2, c.r, c.x, c.w, 3, 7, 5);
    qs_linear_backward(dx2, dw2, db2, c.r, c.x, c.w, 3, 7, 5);
    for (int i = 0; i < 21; i++)
        T_CHECK(T_CLOSE(dx2[i], 2 * dx1[i], 1e-5, 1e-6), "dx[%d]", i);
    for (int i = 0; i < 35; i++)
        T_CHECK(T_CLOSE(dw2[i], 2 * dw1[i], 1e-5, 1e-6), "dweight[%d]", i);
    for (int i = 0; i < 5; i++)
        T_CHECK(T_CLOSE(db2[i], 2 * db1[i], 1e-5, 1e-6), "dbias[%d]", i);
    qs_linear_backward(NULL, dw3, NULL, c.r, c.x, c.w, 3, 7, 5);
    T_CHECK(memcmp(dw3, dw1, sizeof(float) * 35) == 0,
            "NULL dx / dbias changed dweight");
}

/* ---- softmax cross-entropy --------------------------------------------- */

typedef struct {
    int n, classes;
    float *z;
    const int *labels;
} xent_ctx;

static double xent_loss(void *p)
{
    xent_ctx *c = p;
    return qs_softmax_xent(NULL, NULL, c->z, c->labels, c->n, c->classes,
                           1.0f);
}

static void softmax_xent_grad(void)
{
    static const int labels[4] = {0, 6, 3, 3};
    xent_ctx c = {.n = 4, .classes = 7, .labels = labels};
    c.z = rbuf(28, -3.0f, 3.0f);
    float *d = fbuf(28);
    fill(d, 28, 5.0f, 6.0f);   /* dlogits is set, not accumulated */
    int correct = -1;
    double loss = qs_softmax_xent(d, &correct, c.z, labels, 4, 7, 0.25f);
    T_CHECK(loss > 0 && isfinite(loss), "loss %g", loss);
    T_CHECK(correct >= 0 && correct <= 4, "correct %d", correct);
    T_CHECK(grad_check("dlogits", xent_loss, &c, c.z, d, 28, 1e-2f, RTOL,
                       1e-4) == 0,
            "%s", msg);
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 7; j++)
            s += d[i * 7 + j];
        T_CHECK(fabs(s) < 1e-6, "row %d of dlogits sums to %g", i, s);
    }
}

typedef struct {
    xent_ctx x;
    double eps;
} xent_ls_ctx;

static double xent_ls_loss(void *p)
{
    xent_ls_ctx *c = p;
    return qs_softmax_xent_ls(NULL, NULL, c->x.z, c->x.labels, c->x.n, c->x.classes, 1.0f,
                              c->eps);
}

/* Label smoothing (PyTorch's definition): the gradient of the smoothed loss
 * by finite differences, its closed form on uniform logits, and eps = 0
 * giving the plain loss bit for bit. */
static void softmax_xent_label_smoothing(void)
{
    static const int labels[4] = {2, 0, 6, 2};
    xent_ls_ctx c = {{.n = 4, .classes = 7, .labels = labels}, 0.1};
    c.x.z = rbuf(28, -3.0f, 3.0f);
    float *d = fbuf(28);
    double loss = qs_softmax_xent_ls(d, NULL, c.x.z, labels, 4, 7, 0.25f, c.eps);
    double plain = qs_softmax_xent(NULL, NULL, c.x.z, labels, 4, 7, 0.25f);
    T_CHECK(isfinite(loss) && loss != plain, "smoothed loss %g, plain %g", loss, plain);
    T_CHECK(grad_check("dlogits (eps 0.1)", xent_ls_loss, &c, c.x.z, d, 28, 1e-2f, RTOL,
                       1e-4) == 0,
            "%s", msg);
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 7; j++)
            s += d[i * 7 + j];
        T_CHECK(fabs(s) < 1e-6, "row %d of smoothed dlogits sums to %g", i, s);
    }
    c.eps = 0.6;
    qs_softmax_xent_ls(d, NULL, c.x.z, labels, 4, 7, 0.25f, c.eps);
    T_CHECK(grad_check("dlogits (eps 0.6)", xent_ls_loss, &c, c.x.z, d, 28, 1e-2f, RTOL,
                       1e-4) == 0,
            "%s", msg);

    /* Uniform logits: p = 1/K whatever eps, so loss log K; dlogits
     * (1/K - t) with t_y = 1 - eps + eps/K, t_j = eps/K. */
    float z[5] = {0}, du[5];
    int y = 3;
    loss = qs_softmax_xent_ls(du, NULL, z, &y, 1, 5, 1.0f, 0.2);
    T_CHECK(fabs(loss - log(5.0)) < 1e-6, "uniform smoothed loss %.9g", loss);
    T_CHECK(fabsf(du[3] - (0.2f - (0.8f + 0.04f))) < 1e-6f && fabsf(du[0] - (0.2f - 0.04f)) < 1e-6f,
            "uniform smoothed dlogits %g %g", du[0], du[3]);
    /* One confident row: loss = lse - (1 - eps) z_y - eps/K sum z. */
    float zc[3] = {2.0f, -1.0f, 0.5f};
    int yc = 0;
    double lse = log(exp(2.0) + exp(-1.0) + exp(0.5));
    loss = qs_softmax_xent_ls(NULL, NULL, zc, &yc, 1, 3, 1.0f, 0.3);
    double want = lse - 0.7 * 2.0 - 0.1 * 1.5;
    T_CHECK(fabs(loss - want) < 1e-9, "smoothed loss %.12g want %.12g", loss, want);

    /* eps = 0 is the plain loss and gradient, bit for bit. */
    float *d0 = fbuf(28), *d1 = fbuf(28);
    double l0 = qs_softmax_xent(d0, NULL, c.x.z, labels, 4, 7, 0.25f);
    double l1 = qs_softmax_xent_ls(d1, NULL, c.x.z, labels, 4, 7, 0.25f, 0.0);
    T_CHECK(l0 == l1 && memcmp(d0, d1, 28 * sizeof *d0) == 0, "eps 0 differs from plain");
}

static void softmax_xent_values(void)
{
    /* uniform logits: loss log(classes), gradient (1/C - onehot) scale */
    float z[10] = {0};
    int lab[2] = {1, 4};
    float d[10];
    double loss = qs_softmax_xent(d, NULL, z, lab, 2, 5, 0.5f);
    T_CHECK(fabs(loss - log(5.0)) < 1e-6, "uniform loss %.9g", loss);
    T_CHECK(fabsf(d[1] - (0.2f - 1.0f) * 0.5f) < 1e-7f &&
                fabsf(d[0] - 0.1f) < 1e-7f,
            "uniform dlogits %g %g", d[0], d[1]);

    /* large logits: the max shift keeps exp finite */
    float big[3] = {1000.0f, 1001.0f, 999.0f};
    int l1 = 1;
    float db[3];
    loss = qs_softmax_xent(db, NULL, big, &l1, 1, 3, 1.0f);
    double want = log(1.0 + exp(-1.0) + exp(-2.0));
    T_CHECK(fabs(loss - want) < 1e-6, "large-logit loss %.9g want %.9g",
            loss, want);
    T_CHECK(isfinite(db[0]) && isfinite(db[1]) && isfinite(db[2]),
            "large-logit gradient not finite");
    float neg[3] = {-1000.0f, -1001.0f, -999.0f};
    int l2 = 0;
    loss = qs_softmax_xent(NULL, NULL, neg, &l2, 1, 3, 1.0f);
    want = log(exp(-1.0) + exp(-2.0) + 1.0) + 1.0;
    T_CHECK(fabs(loss - want) < 1e-6, "very negative logits %.9g want %.9g",
            loss, want);

    /* argmax ties go to the lowest index */
    float tie[8] = {2, 5, 5, 1, 3, 3, 3, 3};
    int lt[2] = {1, 0};
    int correct = -1;
    qs_softmax_xent(NULL, &correct, tie, lt, 2, 4, 1.0f);
    T_CHECK(correct == 2, "ties: %d correct, want 2", correct);
    int lt2[2] = {2, 1};
    qs_softmax_xent(NULL, &correct, tie, lt2, 2, 4, 1.0f);
    T_CHECK(correct == 0, "ties: %d correct, want 0", correct);
}

/* The elementwise passes (ReLU, add, PACT) split a long array over the
 * threads: two threads must give the bits of one, PACT's clip gradient
 * included, at a length that is not a multiple of the cut (16), of PACT's
 * blocks or of the loop steps. */
static void elementwise_threads_match(void)
{
    const size_t n = ((size_t)1 << 18) + 7;
    float *x = rbuf(n, -1.0f, 1.0f), *b = rbuf(n, -1.0f, 1.0f);
    float *dy = rbuf(n, -1.0f, 1.0f);
    float *o[2][8];
    double da[2];
    for (int v = 0; v < 2; v++) {
        qs_set_threads(v ? 2 : 1);
        for (int j = 0; j < 8; j++)
            o[v][j] = copy(x, n);
        qs_pact_forward(o[v][6], x, n, 0.6f, 2);
        da[v] = qs_pact_backward(o[v][7], dy, x, n, 0.6f);
        qs_relu_forward(o[v][0], x, n);           /* copy */
        qs_relu_forward(o[v][1], o[v][1], n);     /* in place */
        qs_relu_backward(o[v][2], dy, o[v][0], n, 1);
        qs_add_forward(o[v][3], o[v][3], b, 0.5f, n);
        qs_add_backward(o[v][4], o[v][5], dy, 0.7f, n, 1, 1);
        qs_par_zero(o[v][5] + 3, n - 5);
    }
    qs_set_threads(1);
    for (int j = 0; j < 8; j++)
        T_CHECK(memcmp(o[0][j], o[1][j], n * sizeof(float)) == 0,
                "output %d differs between 1 and 2 threads", j);
    T_CHECK(da[0] == da[1], "PACT clip gradient %.17g on 2 threads, %.17g on 1",
            da[1], da[0]);
    T_CHECK(o[1][5][2] != 0.0f && o[1][5][3] == 0.0f &&
                o[1][5][n - 3] == 0.0f && o[1][5][n - 2] != 0.0f,
            "qs_par_zero: wrong span zeroed");
}

/* ---- vector paths ------------------------------------------------------- */

/* BN's AVX2 paths against its scalar ones, bit for bit: forward (train and
 * eval, copy and in place) and backward, ragged plane sizes, a channel
 * mean far from zero. */
static void bn_pass(float *out[8], const float *x, const float *dy,
                    const float *g, const float *b, int n, int c, int hw)
{
    size_t len = (size_t)n * c * hw;
    float *y = out[0], *sm = out[1], *si = out[2], *rm = out[3], *rv = out[4];
    float *dx = out[5], *dg = out[6], *ye = out[7];
    for (int i = 0; i < c; i++)
        rm[i] = 0.1f * i, rv[i] = 1.0f + i;
    qs_bn_forward_train(y, sm, si, rm, rv, x, g, b, n, c, hw, 0.1f, 1e-5f, 0);
    for (size_t i = 0; i < len; i++)
        dx[i] = 0.5f;
    qs_bn_backward(dx, dg, dg + c, dy, x, sm, si, g, NULL, n, c, hw, 1, 0);
    memcpy(ye, x, len * sizeof *ye);
    qs_bn_forward_eval(ye, ye, g, b, rm, rv, n, c, hw, 1e-5f, 0);
}

static void test_bn_simd_matches_scalar(void)
{
    const int n = 3, c = 5, hws[] = {1, 4, 37, 64, 1031};
    for (unsigned k = 0; k < sizeof hws / sizeof *hws; k++) {
        int hw = hws[k];
        size_t len = (size_t)n * c * hw;
        float *x = rbuf(len, 90.0f, 110.0f), *dy = rbuf(len, -1.0f, 1.0f);
        float *g = rbuf((size_t)c, 0.5f, 1.5f), *b = rbuf((size_t)c, -1.0f, 1.0f);
        size_t sz[8] = {len, (size_t)c, (size_t)c, (size_t)c, (size_t)c, len,
                        2 * (size_t)c, len};
        float *o[2][8];
        for (int v = 0; v < 2; v++) {
            for (int j = 0; j < 8; j++)
                o[v][j] = fbuf(sz[j]);
            qs_simd_set_path(v ? QS_KPATH_COUNT : QS_KPATH_GENERIC);
            bn_pass(o[v], x, dy, g, b, n, c, hw);
        }
        qs_simd_set_path(QS_KPATH_COUNT);
        for (int j = 0; j < 8; j++)
            T_CHECK(memcmp(o[0][j], o[1][j], sz[j] * sizeof(float)) == 0,
                    "hw %d: output %d differs between the scalar and vector paths", hw, j);
        arena_free();
    }
}

static const layer_case cases[] = {
#define C(f) {#f, f}
    C(bn_grad_train),
    C(bn_running_stats),
    C(bn_eval_formula),
    C(bn_large_mean),
    C(bn_accumulate_and_null),
    C(relu_grad),
    C(add_grad_half),
    C(gap_grad),
    C(linear_grad),
    C(linear_accumulate_and_null),
    C(softmax_xent_grad),
    C(softmax_xent_values),
    C(softmax_xent_label_smoothing),
#undef C
};

int main(void)
{
    run_layer_cases(cases, sizeof cases / sizeof cases[0]);
    T_RUN(test_bn_simd_matches_scalar);
    arena_free();
    T_RUN(elementwise_threads_match);
    arena_free();
    T_EXIT();
}
