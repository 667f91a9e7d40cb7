/* Data-free bias correction (core/ptq/dfq_bias.h): the clipped-normal mean
 * against numerical integration, and the mean output error of quantized
 * layers on data before and after the correction. */
#include "dfq_bias.h"
#include "err.h"
#include "layers.h"
#include "model.h"
#include "ptq.h"
#include "ptq_util.h"
#include "rng.h"
#include "tharness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NB 64

/* E[clip(X, lo, hi)] by the midpoint rule over mu +- 12 sd. */
static double clipped_mean_numeric(double mu, double sd, double lo, double hi)
{
    const int n = 200000;
    double a = mu - 12.0 * sd, h = 24.0 * sd / n, e = 0.0;
    for (int i = 0; i < n; i++) {
        double x = a + (i + 0.5) * h, z = (x - mu) / sd;
        e += fmin(fmax(x, lo), hi) * exp(-0.5 * z * z) / sqrt(2.0 * M_PI) / sd * h;
    }
    return e;
}

static void test_clipped_mean(void)
{
    static const double cases[][4] = {
        {0.0, 1.0, 0.0, INFINITY}, {1.5, 0.5, 0.0, INFINITY}, {-2.0, 1.0, 0.0, INFINITY},
        {0.3, 2.0, 0.0, 6.0},      {4.0, 3.0, 0.0, 2.5},      {-1.0, 0.1, -INFINITY, INFINITY},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const double *c = cases[k];
        double got = qs_dfq_clipped_mean(c[0], c[1], c[2], c[3]);
        double want = clipped_mean_numeric(c[0], c[1], c[2], c[3]);
        T_CHECK(fabs(got - want) < 1e-6, "case %zu: %.8f, numeric %.8f", k, got, want);
    }
    /* sd 0: the clipped point itself */
    T_CHECK(qs_dfq_clipped_mean(-3.0, 0.0, 0.0, INFINITY) == 0.0, "sd 0 below");
    T_CHECK(qs_dfq_clipped_mean(7.0, 0.0, 0.0, 6.0) == 6.0, "sd 0 above");
}

#define MEAS_BATCHES 8
#define MAXL 16

/* acc [c] += sum over (n, hw) of layer(x, qw) - layer(x, w): the layer's
 * own computation on x, the float network's input to it. */
static void add_out_error(double *acc, const qs_node *n, const float *x, const float *w,
                          const float *qw, float *y, float *yq, float *scratch)
{
    qs_conv_shape cs = n->cs;
    cs.n = NB;
    if (n->type == QS_NODE_CONV) {
        qs_conv2d_forward(y, x, w, NULL, &cs, scratch);
        qs_conv2d_forward(yq, x, qw, NULL, &cs, scratch);
    } else {
        qs_dwconv_forward(y, x, w, &cs);
        qs_dwconv_forward(yq, x, qw, &cs);
    }
    size_t hw = (size_t)n->h * n->w;
    for (int o = 0; o < n->c; o++)
        for (int i = 0; i < NB; i++)
            for (size_t p = 0; p < hw; p++) {
                size_t k = ((size_t)i * n->c + o) * hw + p;
                acc[o] += (double)yq[k] - y[k];
            }
}

/* Mean over channels of |mean output error + bias change|. */
static double mean_abs(const double *acc, const qs_node *n, const float *b, const float *bq)
{
    double cnt = (double)MEAS_BATCHES * NB * n->h * n->w, e = 0.0;
    for (int o = 0; o < n->c; o++)
        e += fabs(acc[o] / cnt + ((double)bq[o] - b[o]));
    return e / n->c;
}

/* A depthwise ResNet whose BN statistics come from its data (train-mode
 * passes), folded; at W3 per tensor, the conv / dwconv layers fed by a
 * BN-ReLU have their mean output error on fresh data (8 batches of 64) cut
 * by the correction. */
static void test_reduces_output_error(void)
{
    qs_model f, q;
    qs_rng r;
    qs_rng_seed(&r, 3);
    qs_model_cfg fc = pu_resnet(QS_BLOCK_DEPTHWISE, 11, 4, 32, 32);
    qs_model_cfg qc = pu_resnet(QS_BLOCK_DEPTHWISE, 11, 4, 3, 32);
    T_CHECK(qs_model_build(&f, &fc, NB) == QS_OK, "%s", qs_errmsg());
    T_CHECK(qs_model_build(&q, &qc, NB) == QS_OK, "%s", qs_errmsg());
    qs_model_init(&f, &r);
    pu_random_bn(&f, &r, 0.0f);
    size_t xlen = (size_t)NB * 3 * 8 * 8;
    float *x = malloc(sizeof(float) * xlen);
    for (int it = 0; it < 60; it++) {
        pu_normal(x, xlen, &r);
        qs_model_forward(&f, x, NB, 1);
    }
    qs_ptq_bnstats st;
    T_CHECK(qs_ptq_fold_bn_stats(&f, &st, NULL) == QS_OK, "%s", qs_errmsg());
    pu_copy_params(&q, &f);
    qs_model_forward(&q, x, NB, 0); /* the quantized weights, q.nodes[i].qw */
    float *b0 = malloc(sizeof(float) * (size_t)q.nparam);
    memcpy(b0, q.param, sizeof(float) * (size_t)q.nparam);
    int nfix = 0;
    int rc = qs_dfq_bias_correct(&nfix, &q, &st);
    size_t big = (size_t)NB * 6 * 4 * 64 + 1;
    float *y = malloc(sizeof(float) * big), *yq = malloc(sizeof(float) * big);
    float *scratch = malloc(sizeof(float) * f.scratch_len);
    double *acc = calloc((size_t)MAXL * 64, sizeof(double));
    int layer[MAXL];
    long boffs[MAXL];
    int nl = 0;
    for (int i = 0; i < q.nnode && nl < MAXL; i++) {
        const qs_node *n = &q.nodes[i];
        if ((n->type == QS_NODE_CONV || n->type == QS_NODE_DWCONV) && n->wbits < 32 &&
            q.nodes[n->in0].type == QS_NODE_RELU && qs_ptq_bias_node(&q, i, &boffs[nl]) >= 0)
            layer[nl++] = i;
    }
    for (int bt = 0; bt < MEAS_BATCHES; bt++) {
        pu_normal(x, xlen, &r);
        qs_model_forward(&f, x, NB, 0); /* every layer's float input */
        for (int l = 0; l < nl; l++) {
            const qs_node *n = &q.nodes[layer[l]];
            add_out_error(acc + l * 64, n, f.nodes[n->in0].out, f.param + n->w_off, n->qw, y, yq,
                          scratch);
        }
    }
    double e0 = 0.0, e1 = 0.0;
    for (int l = 0; l < nl; l++) {
        const qs_node *n = &q.nodes[layer[l]];
        double a0 = mean_abs(acc + l * 64, n, f.param + boffs[l], b0 + boffs[l]);
        double a1 = mean_abs(acc + l * 64, n, f.param + boffs[l], q.param + boffs[l]);
        printf("    node %d (%s): %.4e -> %.4e\n", layer[l],
               n->type == QS_NODE_CONV ? "conv" : "dw", a0, a1);
        e0 += a0;
        e1 += a1;
    }
    printf("  %d layers corrected, %d measured: mean |output mean error| %.4e -> %.4e\n",
           nfix, nl, e0 / nl, e1 / nl);
    free(x);
    free(b0);
    free(y);
    free(yq);
    free(scratch);
    free(acc);
    qs_ptq_bnstats_free(&st);
    qs_model_free(&f);
    qs_model_free(&q);
    T_CHECK(rc == QS_OK, "%s", qs_errmsg());
    T_CHECK(nl >= 6, "only %d layers measured", nl);
    T_CHECK(e1 < 0.4 * e0, "error %.4e -> %.4e: not cut to 40 %%", e0 / nl, e1 / nl);
}

int main(void)
{
    T_RUN(test_clipped_mean);
    T_RUN(test_reduces_output_error);
    T_EXIT();
}
