/* AdaRound (core/ptq/adaround.h): the objective's gradient against finite
 * differences, and on small trained ResNets at 4 bits AdaRound against
 * nearest rounding on reconstruction and accuracy. */
#include "adaround.h"
#include "err.h"
#include "lsq.h"
#include "model.h"
#include "ptq.h"
#include "ptq_util.h"
#include "rng.h"
#include "tharness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A model in the ptq phase's form: LSQ weights with fixed per-tensor
 * (or per-channel) steps from the MSE rule, float activations. */
static qs_model_cfg lsq_cfg(qs_block b, int depth, int width, int wbits, int per_channel)
{
    qs_model_cfg c = pu_resnet(b, depth, width, wbits, 32);
    c.quantizer = QS_QUANT_LSQ;
    c.lsq_per_channel = per_channel;
    return c;
}

static void set_steps(qs_model *m)
{
    for (int i = 0; i < m->nnode; i++) {
        const qs_node *n = &m->nodes[i];
        if (n->step_off >= 0)
            qs_lsq_w_init(m->param + n->step_off, m->param + n->w_off, (size_t)n->wlen,
                          n->nstep, n->wbits, QS_LSQ_WINIT_MSE);
    }
    m->weights_dirty = 1;
}

/* dL/dv of every layer kind (conv, depthwise, linear) against central
 * differences, with the regulariser on (beta 3, lambda 0.05). */
static void test_gradient(void)
{
    const int nb = 4;
    qs_model m;
    qs_rng r;
    qs_rng_seed(&r, 5);
    qs_model_cfg c = lsq_cfg(QS_BLOCK_DEPTHWISE, 11, 4, 4, 1);
    T_CHECK(qs_model_build(&m, &c, nb) == QS_OK, "%s", qs_errmsg());
    qs_model_init(&m, &r);
    set_steps(&m);
    int kinds[3] = {-1, -1, -1}; /* conv (not the stem), dwconv, linear */
    for (int i = 0; i < m.nnode; i++) {
        qs_node_type t = m.nodes[i].type;
        int k = t == QS_NODE_CONV && i > 1 ? 0 : t == QS_NODE_DWCONV ? 1 : t == QS_NODE_LINEAR ? 2 : -1;
        if (k >= 0 && kinds[k] < 0)
            kinds[k] = i;
    }
    for (int k = 0; k < 3; k++) {
        qs_adaround_layer L;
        T_CHECK(kinds[k] > 0, "no layer of kind %d", k);
        T_CHECK(qs_adaround_layer_init(&L, &m, kinds[k], nb) == QS_OK, "%s", qs_errmsg());
        size_t wl = (size_t)L.wlen;
        float *x = malloc(sizeof(float) * nb * L.in_len), *t = malloc(sizeof(float) * nb * L.out_len);
        float *v = malloc(sizeof(float) * wl), *dv = malloc(sizeof(float) * wl);
        pu_normal(x, nb * L.in_len, &r);
        pu_normal(t, nb * L.out_len, &r);
        qs_adaround_v_init(v, &L);
        for (size_t i = 0; i < wl; i++) /* off the init, inside h's linear range */
            v[i] = (float)fmax(-1.5, fmin(1.5, v[i] + 0.5 * qs_rng_normal(&r)));
        const double beta = 3.0, lambda = 0.05, h = 1e-2;
        qs_adaround_loss(dv, &L, v, x, t, nb, beta, lambda);
        int bad = -1, checked = 0;
        double got = 0, want = 0;
        for (size_t i = 0; i < wl && checked < 40; i += 1 + wl / 40, checked++) {
            float v0 = v[i];
            v[i] = v0 + (float)h;
            double lp = qs_adaround_loss(NULL, &L, v, x, t, nb, beta, lambda);
            v[i] = v0 - (float)h;
            double lm = qs_adaround_loss(NULL, &L, v, x, t, nb, beta, lambda);
            v[i] = v0;
            double fd = (lp - lm) / (2 * h);
            if (bad < 0 && !T_CLOSE(dv[i], fd, 2e-2, 2e-4)) {
                bad = (int)i;
                got = dv[i];
                want = fd;
            }
        }
        free(x);
        free(t);
        free(v);
        free(dv);
        qs_adaround_layer_free(&L);
        T_CHECK(bad < 0, "layer %d weight %d: dv %.6g, finite difference %.6g", kinds[k], bad, got, want);
    }
    qs_model_free(&m);
}

#define NCAL 256

typedef struct {
    double acc_f, acc_n, acc_a; /* test accuracy: float, nearest, AdaRound */
    int worse_node;             /* a layer reconstructing worse, or -1 */
    double r1;                  /* first 4-bit layer: rec AdaRound / nearest */
} ar_outcome;

/* Train a float ResNet from init seed `seed`, fold its BNs, quantize its
 * weights at wbits per tensor (stem and classifier 8 bits): nearest vs
 * AdaRound. */
static int one_model(ar_outcome *o, uint64_t seed, int wbits)
{
    qs_model f, qn, qa;
    pu_set tr, te;
    qs_rng r;
    int rc = QS_ENOMEM;
    qs_rng_seed(&r, seed);
    memset(&f, 0, sizeof f);
    memset(&qn, 0, sizeof qn);
    memset(&qa, 0, sizeof qa);
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    if (pu_set_make(&tr, 4096, 0.25f, 1) || pu_set_make(&te, 1024, 0.25f, 2))
        goto cleanup;
    qs_model_cfg fc = pu_resnet(QS_BLOCK_BASIC, 8, 4, 32, 32);
    qs_model_cfg qc = lsq_cfg(QS_BLOCK_BASIC, 8, 4, wbits, 0);
    if ((rc = qs_model_build(&f, &fc, 64)) || (rc = qs_model_build(&qn, &qc, 64)) ||
        (rc = qs_model_build(&qa, &qc, 64)))
        goto cleanup;
    qs_model_init(&f, &r);
    pu_train(&f, &tr, 600, 0.05f);
    if ((rc = qs_ptq_fold_bn(&f, NULL)))
        goto cleanup;
    o->acc_f = pu_accuracy(&f, &te);
    pu_copy_params(&qn, &f);
    set_steps(&qn);
    pu_copy_params(&qa, &f);
    set_steps(&qa);
    o->acc_n = pu_accuracy(&qn, &te);
    qs_adaround_cfg c;
    qs_adaround_cfg_default(&c);
    c.iterations = 1000; /* with lr 5e-3: as good here as 2000 at the paper's 1e-3 */
    c.lr = 5e-3;
    qs_adaround_result res;
    if ((rc = qs_adaround_run(&res, &qa, tr.x, NCAL, &c)))
        goto cleanup;
    o->acc_a = pu_accuracy(&qa, &te);
    /* every low-bit layer reconstructs better, the first by a margin
     * (its input has no rounded layer before it but the 8-bit stem); the
     * 8-bit ones (stem, classifier) no worse */
    int first = -1;
    o->worse_node = -1;
    for (int k = 0; k < res.nlayer; k++) {
        const qs_node *n = &qa.nodes[res.node[k]];
        int ok = n->wbits == wbits ? res.rec_adaround[k] < res.rec_nearest[k]
                                   : res.rec_adaround[k] <= 1.001 * res.rec_nearest[k];
        if (!ok && o->worse_node < 0)
            o->worse_node = res.node[k];
        if (n->wbits == wbits && first < 0)
            first = k;
    }
    o->r1 = first >= 0 ? res.rec_adaround[first] / res.rec_nearest[first] : 1.0;
    printf("  seed %llu W%d: float %.4f, nearest %.4f, AdaRound %.4f; first layer rec ratio %.3f\n",
           (unsigned long long)seed, wbits, o->acc_f, o->acc_n, o->acc_a, o->r1);
    qs_adaround_result_free(&res);
cleanup:
    qs_model_free(&f);
    qs_model_free(&qn);
    qs_model_free(&qa);
    pu_set_free(&tr);
    pu_set_free(&te);
    return rc;
}

/* Three trained models, since one model's margin moves with every change
 * in the low-order bits of training (a BN statistics change once moved
 * seed 1 from +5.7 to +1.7 points). Seeds 1..5 measured: nearest loses
 * 2.0..10.7 points, AdaRound wins back 76..99 % of it (mean +5.4 points),
 * first-layer reconstruction ratio 0.32..0.49 (avx512). The trained models
 * differ by kernel path, and so does that ratio: seeds 1..3 gave 0.48,
 * 0.77, 0.55 on avx2 and 0.83, 0.37, 0.28 on generic (AdaRound closing
 * 64..86 % of the gap on both), so the bound is 0.9, not the 0.6 first
 * taken from avx512 runs. */
static void test_beats_nearest(void)
{
    enum { NSEED = 3 };
    double gain = 0.0;
    for (int s = 1; s <= NSEED; s++) {
        ar_outcome o;
        T_CHECK(one_model(&o, (uint64_t)s, 4) == QS_OK, "seed %d: %s", s, qs_errmsg());
        T_CHECK(o.worse_node < 0, "seed %d: layer %d reconstructs worse than nearest", s, o.worse_node);
        T_CHECK(o.r1 < 0.9, "seed %d: first 4-bit layer: rec ratio %.3f, want < 0.9", s, o.r1);
        double closed = (o.acc_a - o.acc_n) / (o.acc_f - o.acc_n);
        T_CHECK(o.acc_f > o.acc_n && closed > 0.6,
                "seed %d: AdaRound %.4f, nearest %.4f, float %.4f: closes %.0f %% of the gap, want > 60 %%",
                s, o.acc_a, o.acc_n, o.acc_f, 100.0 * closed);
        gain += (o.acc_a - o.acc_n) / NSEED;
    }
    printf("  mean gain over nearest: %.4f\n", gain);
    T_CHECK(gain > 0.03, "AdaRound beats nearest by %.4f on average, want > 3 points", gain);
}

int main(void)
{
    T_RUN(test_gradient);
    T_RUN(test_beats_nearest);
    T_EXIT();
}
