/* The data-free steps inside the ptq phase (qs_ptq_run with equalize and
 * bias_correction "bn") on a depthwise ResNet trained 8 epochs on 2000
 * Fashion-MNIST images, at W4A8 per tensor, against nearest rounding alone
 * (figures printed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "model.h"
#include "ptq.h"
#include "qat_util.h"
#include "rng.h"
#include "tharness.h"
#include "train.h"

static qs_dataset fm_tr, fm_te;
static uint8_t *float_ck;
static size_t float_len;
static double float_acc;

static qs_model_cfg model_cfg(int wbits, int abits)
{
    return qu_resnet(QS_BLOCK_DEPTHWISE, 11, 4, wbits, abits);
}

static int setup(void)
{
    qs_trainer t;
    if (qs_data_load(&fm_tr, &fm_te, QS_DATA_FMNIST, NULL, 2000, 500, NULL))
        return -1;
    if (qu_trainer(&t, model_cfg(32, 32), QS_DATA_FMNIST, QS_PHASE_FLOAT, 8, 5, &fm_tr, &fm_te,
                   NULL, 0))
        return -1;
    return qu_finish(&t, &float_ck, &float_len, &float_acc);
}

/* The sole consumer of node p, or -1 (none, or more than one). */
static int sole_consumer(const qs_model *m, int p)
{
    int found = -1;
    for (int i = 0; i < m->nnode; i++)
        if (m->nodes[i].in0 == p || m->nodes[i].in1 == p) {
            if (found >= 0)
                return -1;
            found = i;
        }
    return found;
}

/* Unbalances the float model without changing its function: on every
 * chain BN -> ReLU -> conv / dwconv, BN channel c's gamma and beta times
 * s_c and the consumer's input channel c times 1 / s_c (ReLU is positively
 * homogeneous), s_c log-uniform in [1/8, 8]. Per-tensor rounding of the
 * consumer then suffers, and equalisation, whose scales depend only on
 * the function, should undo it. Returns the chains rescaled. */
static int unbalance(qs_model *m, uint64_t seed)
{
    qs_rng r;
    int chains = 0;
    qs_rng_seed(&r, seed);
    for (int b = 0; b < m->nnode; b++) {
        if (m->nodes[b].type != QS_NODE_BN)
            continue;
        int a = sole_consumer(m, b), k = a >= 0 ? sole_consumer(m, a) : -1;
        if (a < 0 || m->nodes[a].type != QS_NODE_RELU || m->nodes[a].relu6 || k < 0 ||
            (m->nodes[k].type != QS_NODE_CONV && m->nodes[k].type != QS_NODE_DWCONV))
            continue;
        const qs_node *n = &m->nodes[k];
        int dw = n->type == QS_NODE_DWCONV, cin = dw ? 1 : m->nodes[b].c;
        long taps = n->wlen / n->c / cin;
        for (int c = 0; c < m->nodes[b].c; c++) {
            float s = (float)exp(log(8.0) * (2.0 * qs_rng_uniform(&r) - 1.0));
            m->param[m->nodes[b].w_off + c] *= s;
            m->param[m->nodes[b].b_off + c] *= s;
            for (int o = 0; o < (dw ? 1 : n->c); o++)
                for (long t = 0; t < taps; t++)
                    m->param[n->w_off + ((size_t)(dw ? c : o) * cin + (dw ? 0 : c)) * taps + t] /= s;
        }
        chains++;
    }
    m->weights_dirty = 1;
    return chains;
}

/* One ptq run of the float parent at wbits/abits with pc (unbalanced
 * first when `skew`); *acc its test accuracy. */
static int run(double *acc, qs_ptq_result *r, int wbits, int abits, const qs_ptq_cfg *pc, int skew)
{
    qs_trainer t;
    qs_model_cfg mc = model_cfg(wbits, abits);
    qs_ptq_model_cfg(&mc, pc);
    qs_train_cfg c;
    qs_train_cfg_default(&c, QS_DATA_FMNIST, QS_PHASE_PTQ);
    c.ptq = *pc;
    int rc = qs_trainer_init(&t, &mc, &c, &fm_tr, &fm_te);
    if (rc)
        return rc;
    uint8_t *copy = malloc(float_len);
    if (!copy) {
        qs_trainer_free(&t);
        return QS_ENOMEM;
    }
    memcpy(copy, float_ck, float_len);
    if ((rc = qs_trainer_load_parent_bytes(&t, copy, float_len, "float parent")) == QS_OK &&
        (!skew || unbalance(&t.model, 7) > 0) && (rc = qs_ptq_run(r, &t)) == QS_OK)
        *acc = r->test_acc;
    qs_trainer_free(&t);
    return rc;
}

/* The unbalanced twin computes what the model does: logits of random
 * inputs (eval mode) agree to float rounding. */
static void test_unbalance_keeps_function(void)
{
    qs_model m;
    qs_ckpt_info info;
    qs_rng r;
    const int nb = 16;
    uint8_t *copy = malloc(float_len);
    T_CHECK(copy != NULL, "oom");
    memcpy(copy, float_ck, float_len);
    T_CHECK(qs_model_load_ckpt_bytes(&m, &info, copy, float_len, "float parent", nb) == QS_OK, "%s", qs_errmsg());
    size_t nx = (size_t)nb * m.cfg.in_c * m.cfg.in_h * m.cfg.in_w, ny = (size_t)nb * m.cfg.classes;
    float *x = malloc(sizeof(float) * nx), *y0 = malloc(sizeof(float) * ny);
    T_CHECK(x && y0, "oom");
    qs_rng_seed(&r, 3);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)qs_rng_normal(&r);
    memcpy(y0, qs_model_forward(&m, x, nb, 0), sizeof(float) * ny);
    int chains = unbalance(&m, 7);
    const float *y1 = qs_model_forward(&m, x, nb, 0);
    double d = 0.0, mag = 0.0;
    for (size_t i = 0; i < ny; i++) {
        d = fmax(d, fabs((double)y1[i] - y0[i]));
        mag = fmax(mag, fabs((double)y0[i]));
    }
    printf("# unbalanced %d chains: logits up to %.3g moved by %.3g\n", chains, mag, d);
    T_CHECK(chains == 6, "%d chains unbalanced, want 6", chains);
    T_CHECK(d < 1e-4 * fmax(1.0, mag), "logits moved by %g (|y| up to %g)", d, mag);
    free(x);
    free(y0);
    qs_model_free(&m);
}

/* Each variant at W4A8 per tensor on the trained model and on its
 * unbalanced twin (same function: test_unbalance_keeps_function). The margins
 * hold for every trained model, since they come from the construction:
 * the twin's nearest rounding collapses, and equalisation, whose scales
 * depend only on the function, lands where it lands on the original.
 * Recorded (8 epochs, seed 5): nearest 53.8 / twin 11.0, equalised 61.4 /
 * twin 61.2, empirical correction 64.8 (float 68.2). The BN-statistics
 * correction is printed, not bounded: on small trained nets at W4 it has
 * both helped (+40 points) and hurt (-1.4) nearest rounding (docs/ptq-methods.md). */
static void test_equalize_and_bn_correction(void)
{
    static const struct { int equalize, skew, wbits; qs_ptq_bias_corr bc; const char *name; } v[] = {
        {0, 0, 4, QS_PTQ_BC_NONE, "nearest"},
        {1, 0, 4, QS_PTQ_BC_NONE, "+ equalise"},
        {1, 0, 4, QS_PTQ_BC_BN, "+ equalise + bn correction"},
        {0, 0, 4, QS_PTQ_BC_BN, "+ bn correction"},
        {0, 0, 4, QS_PTQ_BC_EMPIRICAL, "+ empirical correction"},
        {0, 1, 4, QS_PTQ_BC_NONE, "unbalanced: nearest"},
        {1, 1, 4, QS_PTQ_BC_NONE, "unbalanced: + equalise"},
    };
    enum { NV = sizeof v / sizeof v[0] };
    double acc[NV];
    qs_ptq_result r[NV];
    for (int k = 0; k < NV; k++) {
        qs_ptq_cfg pc;
        qs_ptq_cfg_default(&pc);
        pc.calib_images = 512;
        pc.equalize = v[k].equalize;
        pc.bias_correction = v[k].bc;
        int rc = run(&acc[k], &r[k], v[k].wbits, v[k].wbits < 32 ? 8 : 32, &pc, v[k].skew);
        T_CHECK(rc == QS_OK, "%s: %s", v[k].name, qs_errmsg());
        printf("# W%dA%d per tensor %-28s %.2f %% (%d pairs equalised; float %.2f %%)\n",
               v[k].wbits, v[k].wbits < 32 ? 8 : 32, v[k].name, acc[k], r[k].npairs, float_acc);
    }
    T_CHECK(r[1].npairs == 6 && r[6].npairs == 6, "%d / %d pairs equalised, want 6", r[1].npairs,
            r[6].npairs);
    T_CHECK(acc[5] < acc[0] - 10, "unbalanced nearest %.2f vs nearest %.2f: not unbalanced", acc[5],
            acc[0]);
    T_CHECK(fabs(acc[6] - acc[1]) < 2.0, "equalised: unbalanced %.2f vs original %.2f", acc[6],
            acc[1]);
    T_CHECK(acc[6] > acc[5] + 20, "unbalanced: equalised %.2f vs nearest %.2f", acc[6], acc[5]);
    T_CHECK(acc[1] > acc[0] && acc[4] > acc[0], "equalised %.2f, empirical %.2f vs nearest %.2f",
            acc[1], acc[4], acc[0]);
}

int main(void)
{
    if (setup() != 0) {
        printf("FAIL setup: %s\n", qs_errmsg());
        return 1;
    }
    T_RUN(test_unbalance_keeps_function);
    T_RUN(test_equalize_and_bn_correction);
    free(float_ck);
    qs_data_free(&fm_tr);
    qs_data_free(&fm_te);
    T_EXIT();
}
