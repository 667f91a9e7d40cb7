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

/* One ptq run of the float parent at wbits/abits with pc; *acc its test
 * accuracy. */
static int run(double *acc, qs_ptq_result *r, int wbits, int abits, const qs_ptq_cfg *pc)
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
        (rc = qs_ptq_run(r, &t)) == QS_OK)
        *acc = r->test_acc;
    qs_trainer_free(&t);
    return rc;
}

static void test_equalize_and_bn_correction(void)
{
    static const struct { int equalize; qs_ptq_bias_corr bc; const char *name; } v[] = {
        {0, QS_PTQ_BC_NONE, "nearest"},
        {1, QS_PTQ_BC_NONE, "+ equalise"},
        {1, QS_PTQ_BC_BN, "+ equalise + bn correction"},
        {0, QS_PTQ_BC_BN, "+ bn correction"},
    };
    double acc[4];
    qs_ptq_result r[4];
    for (int k = 0; k < 4; k++) {
        qs_ptq_cfg pc;
        qs_ptq_cfg_default(&pc);
        pc.calib_images = 512;
        pc.equalize = v[k].equalize;
        pc.bias_correction = v[k].bc;
        int rc = run(&acc[k], &r[k], 4, 8, &pc);
        T_CHECK(rc == QS_OK, "%s: %s", v[k].name, qs_errmsg());
        printf("# W4A8 per tensor %-28s %.2f %% (%d pairs equalised; float %.2f %%)\n",
               v[k].name, acc[k], r[k].npairs, float_acc);
    }
    /* margins from the recorded run: 22.8 nearest, 46.6 equalised, 48.6
     * equalised + corrected, 62.8 corrected (float 69.8) */
    T_CHECK(r[1].npairs == 6, "%d pairs equalised, want 6", r[1].npairs);
    T_CHECK(acc[1] > acc[0] + 10, "equalised %.2f vs nearest %.2f", acc[1], acc[0]);
    T_CHECK(acc[2] > acc[0] + 10, "equalised + corrected %.2f vs nearest %.2f", acc[2], acc[0]);
    T_CHECK(acc[3] > acc[0] + 20, "corrected %.2f vs nearest %.2f", acc[3], acc[0]);
}

int main(void)
{
    if (setup() != 0) {
        printf("FAIL setup: %s\n", qs_errmsg());
        return 1;
    }
    T_RUN(test_equalize_and_bn_correction);
    free(float_ck);
    qs_data_free(&fm_tr);
    qs_data_free(&fm_te);
    T_EXIT();
}
