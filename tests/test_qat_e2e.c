/* End to end QAT (issue 5): synthetic 256-4 float then W2A2 retraining
 * loses accuracy and recovers part of it; a small ResNet at W2A2 on a
 * Fashion-MNIST subset trains well above chance. Shortened protocols (the
 * suite must stay fast); thresholds from the PyTorch reference with the same
 * quantizers and the same shortened protocol, tests/reference/qat_fcdnn.py
 * (see the numbers next to each threshold). Accuracies go to stderr. */
#include <stdio.h>
#include <stdlib.h>

#include "qat_util.h"
#include "tharness.h"

/* Protocol of the synthetic case: the spec's float protocol cut to 20
 * epochs, then W2A2 retraining for 15 epochs at Adam 1e-3 cosine. The
 * spec's retrain lr 1e-4 recovers little and erratically at 2 bits on this
 * data (reference, full protocol, 128-4 W2A2: 54.8% before, 54.5% after;
 * 256-4 here with 8 epochs at 3e-4: +8.5, +0.9, +10.2 and -2.8 points over
 * 4 seeds), so the test uses the lr at which the recovery is robust:
 *   /usr/bin/python3 tests/reference/qat_fcdnn.py --width 256 --depth 4 \
 *       --float-epochs 20 --retrain-epochs 15 --retrain-lr 1e-3 \
 *       --settings W2A2 --seeds 0 1 2 3
 * PyTorch (float / W2A2 start / W2A2 after retraining):
 *   seed 0: 87.4 / 56.7 / 66.2    seed 1: 84.2 / 55.5 / 75.1
 *   seed 2: 81.0 / 52.1 / 69.0    seed 3: 86.3 / 58.0 / 68.4
 * (this C test, seed 1: 81.1 / 52.0 / 68.4). Worst cases over the seeds:
 * float 81.0, loss 28.3 points, gain 9.5, final 9.1 below float.
 * Thresholds, with margin: float >= 78; the start loses >= 15 points;
 * retraining gains >= 5 points and stays >= 5 points below float. */
#define SYN_FLOAT_EPOCHS 20
#define SYN_RETRAIN_EPOCHS 15
#define SYN_RETRAIN_LR 1e-3
#define SYN_MIN_FLOAT 78.0
#define SYN_MIN_LOSS 15.0
#define SYN_MIN_GAIN 5.0
#define SYN_MIN_GAP 5.0

static void test_synthetic_256_4_w2a2(void)
{
    qs_dataset tr, te;
    qs_trainer t;
    uint8_t *ck = NULL;
    size_t len = 0;
    double fl = 0, start = 0, fin = 0;
    T_CHECK(qu_synth(&tr, &te, 0, 0) == 0, "%s", qs_errmsg());
    T_CHECK(qu_trainer(&t, qu_fcdnn(256, 4, 32, 32), QS_DATA_SYNTHETIC, QS_PHASE_FLOAT,
                       SYN_FLOAT_EPOCHS, 1, &tr, &te, NULL, 0) == 0, "%s", qs_errmsg());
    T_CHECK(qu_finish(&t, &ck, &len, &fl) == 0, "float: %s", qs_errmsg());
    T_CHECK(qu_trainer(&t, qu_fcdnn(256, 4, 2, 2), QS_DATA_SYNTHETIC, QS_PHASE_RETRAIN,
                       SYN_RETRAIN_EPOCHS, 1, &tr, &te, ck, len) == 0, "%s", qs_errmsg());
    free(ck);
    t.cfg.sched.lr = SYN_RETRAIN_LR;
    T_CHECK(qs_trainer_prepare_quant(&t) == 0, "%s", qs_errmsg());
    start = qu_acc(&t, &te);
    T_CHECK(qu_finish(&t, NULL, NULL, &fin) == 0, "retrain: %s", qs_errmsg());
    fprintf(stderr, "fcdnn-256-4: float %.2f%%, W2A2 start %.2f%%, after %d epochs %.2f%%\n", fl,
            start, SYN_RETRAIN_EPOCHS, fin);
    qs_data_free(&tr);
    qs_data_free(&te);
    T_CHECK(fl >= SYN_MIN_FLOAT, "float accuracy %.2f%% < %.0f%%", fl, SYN_MIN_FLOAT);
    T_CHECK(start <= fl - SYN_MIN_LOSS, "W2A2 before retraining %.2f%%: lost less than %.0f points "
            "of %.2f%%", start, SYN_MIN_LOSS, fl);
    T_CHECK(fin >= start + SYN_MIN_GAIN, "retraining did not recover: %.2f%% -> %.2f%%", start, fin);
    T_CHECK(fin <= fl - SYN_MIN_GAP, "W2A2 %.2f%% is within %.0f points of float %.2f%%", fin,
            SYN_MIN_GAP, fl);
}

/* resnet-basic-8-8, 1-channel stem, first 2000 / 500 Fashion-MNIST images,
 * float 3 epochs (the Fashion-MNIST protocol, cosine over 3) then W2A2 3
 * epochs (retrain protocol, lr 0.01 cosine). Chance is 10%. Reference:
 *   /usr/bin/python3 tests/reference/qat_resnet.py --seeds 0
 * PyTorch seed 0: float 54.4%, W2A2 start 9.8%, after retraining 48.6%
 * (this test: 58.6 / 12.4 / 44.0). Threshold 30%. */
static void test_resnet_fmnist_w2a2(void)
{
    qs_dataset tr, te;
    qs_trainer t;
    uint8_t *ck = NULL;
    size_t len = 0;
    double fl = 0, start = 0, fin = 0;
    T_CHECK(qs_data_load(&tr, &te, QS_DATA_FMNIST, NULL, 2000, 500, NULL) == 0, "%s", qs_errmsg());
    qs_model_cfg c = qu_resnet(QS_BLOCK_BASIC, 8, 8, 32, 32);
    T_CHECK(qu_trainer(&t, c, QS_DATA_FMNIST, QS_PHASE_FLOAT, 3, 1, &tr, &te, NULL, 0) == 0,
            "%s", qs_errmsg());
    T_CHECK(qu_finish(&t, &ck, &len, &fl) == 0, "float: %s", qs_errmsg());
    c.wbits = c.abits = 2;
    T_CHECK(qu_trainer(&t, c, QS_DATA_FMNIST, QS_PHASE_RETRAIN, 3, 1, &tr, &te, ck, len) == 0,
            "%s", qs_errmsg());
    free(ck);
    T_CHECK(qs_trainer_prepare_quant(&t) == 0, "%s", qs_errmsg());
    start = qu_acc(&t, &te);
    T_CHECK(qu_finish(&t, NULL, NULL, &fin) == 0, "retrain: %s", qs_errmsg());
    fprintf(stderr, "resnet-basic-8-8 fashion-mnist 2000/500: float %.2f%%, W2A2 start %.2f%%, "
            "after 3 epochs %.2f%%\n", fl, start, fin);
    qs_data_free(&tr);
    qs_data_free(&te);
    T_CHECK(fin >= 30.0, "W2A2 accuracy %.2f%% < 30%% (chance 10%%)", fin);
}

int main(void)
{
    T_RUN(test_synthetic_256_4_w2a2);
    T_RUN(test_resnet_fmnist_w2a2);
    T_EXIT();
}
