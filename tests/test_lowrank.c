/* Low-rank (SVD-factored) layers in the model graph (model.h svd_rank,
 * core/ptq/svd_model.h): finite-difference gradients through a factored
 * conv and a factored linear, the factored model equal to the whole one at
 * full rank, parameter and MAC counts at the factored shapes, the rank
 * rules over a model, BN re-estimation, and checkpoints that carry the
 * ranks (round trip, resume, refusal of other ranks naming the layer). */
#include "ckpt.h"
#include "err.h"
#include "gemm.h"
#include "model_check.h"
#include "ptq_util.h"
#include "qat_util.h"
#include "svd.h"
#include "svd_model.h"
#include "tharness.h"
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The model gradient check of model_check.h on a random batch. Returns 0
 * and fills why on a failure. */
static int grad_check(qs_model *m, int nb, char *why, size_t whylen)
{
    qs_rng r;
    const qs_model_cfg *c = &m->cfg;
    qs_rng_seed(&r, 11);
    size_t xlen = (size_t)nb * c->in_c * c->in_h * c->in_w;
    float *x = malloc(xlen * sizeof(float));
    int *y = malloc((size_t)nb * sizeof(int)), ok = 0;
    if (x && y) {
        pu_normal(x, xlen, &r);
        for (int i = 0; i < nb; i++)
            y[i] = (int)qs_rng_below(&r, (uint32_t)c->classes);
        ok = mc_grad_check(m, x, y, nb, &r, NULL, why, whylen);
    } else {
        snprintf(why, whylen, "out of memory");
    }
    free(x);
    free(y);
    return ok;
}

/* The weight layers' m x n, from a whole model's plan. */
static int layer_shapes(int *mm, int *nn, const qs_model_cfg *c)
{
    qs_model m;
    int nl = 0;
    if (qs_model_build(&m, c, 1) != QS_OK)
        return -1;
    for (int i = 0; i < m.nnode; i++)
        if (m.nodes[i].layer >= 0) {
            mm[nl] = m.nodes[i].c;
            nn[nl] = (int)(m.nodes[i].wlen / m.nodes[i].c);
            nl++;
        }
    qs_model_free(&m);
    return nl;
}

/* c with every weight layer at rank min(r, m, n) (r < 0: full rank); the
 * ranks live in one static buffer (the next call overwrites them). */
static int16_t rank_buf[QS_SVD_MAX_LAYERS];
static qs_model_cfg with_ranks(qs_model_cfg c, int r)
{
    int mm[64], nn[64];
    c.svd_rank = rank_buf;
    int nl = layer_shapes(mm, nn, &c);
    c.svd_nrank = nl;
    for (int l = 0; l < nl; l++) {
        int k = mm[l] < nn[l] ? mm[l] : nn[l];
        c.svd_rank[l] = r < 0 || r > k ? k : r;
    }
    return c;
}

static qs_model_cfg fcdnn_cfg(void)
{
    qs_model_cfg c = qu_fcdnn(24, 4, 32, 32);
    c.in_c = 6; /* a first layer of 24 x 6: rank 3 is a real factoring */
    c.classes = 5;
    return c;
}

static void test_grad_conv(void)
{
    qs_model m;
    qs_rng r;
    char why[256] = "";
    qs_model_cfg c = with_ranks(pu_resnet(QS_BLOCK_BASIC, 8, 4, 32, 32), 3);
    T_CHECK(qs_model_build(&m, &c, 4) == QS_OK, "build: %s", qs_errmsg());
    int parts = 0;
    for (int i = 0; i < m.nnode; i++)
        parts += m.nodes[i].type == QS_NODE_CONV && m.nodes[i].svd_part == 2 &&
                 m.nodes[i].cs.kh == 1 && m.nodes[m.nodes[i].in0].svd_part == 1;
    qs_rng_seed(&r, 5);
    qs_model_init(&m, &r);
    int ok = grad_check(&m, 4, why, sizeof why);
    qs_model_free(&m);
    T_CHECK(parts == 9, "%d factored convs (1x1 after the kh x kw), expected 9", parts);
    T_CHECK(ok, "%s", why);
}

static void test_grad_linear(void)
{
    qs_model m;
    qs_rng r;
    char why[256] = "";
    qs_model_cfg c = with_ranks(fcdnn_cfg(), 3);
    T_CHECK(qs_model_build(&m, &c, 6) == QS_OK, "build: %s", qs_errmsg());
    int first_nobias = 0;
    for (int i = 0; i < m.nnode; i++)
        if (m.nodes[i].type == QS_NODE_LINEAR && m.nodes[i].svd_part == 1)
            first_nobias += m.nodes[i].b_off < 0 && m.nodes[i].c == 3;
    qs_rng_seed(&r, 6);
    qs_model_init(&m, &r);
    int ok = grad_check(&m, 6, why, sizeof why);
    qs_model_free(&m);
    T_CHECK(first_nobias == 4, "%d bias-free rank-3 first factors, expected 4", first_nobias);
    T_CHECK(ok, "%s", why);
}

/* Whole src, factored at full rank: the same logits (eval, random BN
 * statistics); counts at the factored shapes. */
static void full_rank_case(qs_model_cfg wc, int nb, const char *what)
{
    qs_model w, f;
    qs_rng r;
    qs_model_cfg fc = with_ranks(wc, -1);
    T_CHECK(qs_model_build(&w, &wc, nb) == QS_OK, "%s build: %s", what, qs_errmsg());
    T_CHECK(qs_model_build(&f, &fc, nb) == QS_OK, "%s factored build: %s", what, qs_errmsg());
    qs_rng_seed(&r, 8);
    qs_model_init(&w, &r);
    pu_random_bn(&w, &r, 0.1f);
    double err = 1;
    int rc = qs_svd_copy_factors(&f, &err, &w);
    size_t xl = (size_t)nb * wc.in_c * wc.in_h * wc.in_w, yl = (size_t)nb * wc.classes;
    float *x = malloc(xl * sizeof(float)), *a = malloc(yl * sizeof(float)), *b = malloc(yl * sizeof(float));
    pu_normal(x, xl, &r);
    pu_logits(a, &w, x, nb);
    pu_logits(b, &f, x, nb);
    double d = pu_maxdiff(a, b, yl);
    /* counts: every factored layer r (m + n) instead of m n */
    int mm[64], nn[64], nl = layer_shapes(mm, nn, &wc);
    long want = w.nparam;
    double macs_w = 0, macs_f = 0, want_macs = 0;
    for (int l = 0; l < nl; l++)
        want += qs_svd_params(mm[l], nn[l], fc.svd_rank[l]) - (long)mm[l] * nn[l];
    for (int i = 0; i < w.nnode; i++) {
        macs_w += qs_node_macs(&w.nodes[i]);
        const qs_node *n = &w.nodes[i];
        if (n->layer >= 0) { /* r n MACs per output pixel for B, m r for A */
            int l = n->layer, k = fc.svd_rank[l];
            want_macs += ((double)k * nn[l] + (double)mm[l] * k) * n->h * n->w;
        } else {
            want_macs += qs_node_macs(n);
        }
    }
    for (int i = 0; i < f.nnode; i++)
        macs_f += qs_node_macs(&f.nodes[i]);
    qs_model_cost cost;
    int crc = qs_model_cost_get(&cost, &fc);
    long fparams = f.nparam, cnt = qs_model_param_count(&fc);
    qs_model_free(&w);
    qs_model_free(&f);
    free(x);
    free(a);
    free(b);
    T_CHECK(rc == QS_OK, "%s copy: %s", what, qs_errmsg());
    T_CHECK(err < 1e-5, "%s: full-rank factor error %g", what, err);
    T_CHECK(d < 1e-4, "%s: factored logits differ by %g at full rank", what, d);
    T_CHECK(fparams == want && cnt == want, "%s: %ld params (count %ld), expected %ld", what,
            fparams, cnt, want);
    T_CHECK(crc == QS_OK && fabs(cost.macs - want_macs) < 0.5 && fabs(macs_f - want_macs) < 0.5,
            "%s: MACs %.0f (nodes %.0f), expected %.0f (whole %.0f)", what, cost.macs, macs_f,
            want_macs, macs_w);
    T_CHECK(fabs(cost.bops - cost.macs * 32 * 32) < 1, "%s: float BOPs %.0f", what, cost.bops);
}

static void test_full_rank_conv(void) { full_rank_case(pu_resnet(QS_BLOCK_BASIC, 8, 4, 32, 32), 3, "resnet"); }
static void test_full_rank_linear(void) { full_rank_case(fcdnn_cfg(), 5, "fcdnn"); }

static void test_bad_ranks(void)
{
    qs_model m;
    qs_model_cfg c = with_ranks(fcdnn_cfg(), 3);
    c.svd_rank[0] = 7; /* a 24 x 6 weight has rank at most 6 */
    int rc = qs_model_build(&m, &c, 1);
    T_CHECK(rc == QS_EINVAL && strstr(qs_errmsg(), "weight layer 0"), "rank 7 of 24x6: %s",
            qs_errmsg());
    c = with_ranks(fcdnn_cfg(), 3);
    c.svd_nrank = 3;
    rc = qs_model_build(&m, &c, 1);
    T_CHECK(rc == QS_EINVAL && strstr(qs_errmsg(), "3 SVD ranks"), "3 ranks for 4: %s", qs_errmsg());
}

/* The rank rules over a model: energy, the skip rule, first/last, budget. */
static void test_plan_ranks(void)
{
    qs_model w;
    qs_rng r;
    qs_model_cfg wc = pu_resnet(QS_BLOCK_BASIC, 14, 8, 32, 32);
    T_CHECK(qs_model_build(&w, &wc, 2) == QS_OK, "build: %s", qs_errmsg());
    qs_rng_seed(&r, 9);
    qs_model_init(&w, &r);
    qs_svd_cfg sc = {QS_COMPRESS_SVD, 0.6, 0, 0, 0};
    qs_model_cfg mc;
    qs_svd_result res;
    int rc = qs_svd_plan_ranks(&mc, &res, &w, &sc);
    int mm[64], nn[64], nl = layer_shapes(mm, nn, &wc), bad = -1;
    for (int l = 0; rc == QS_OK && l < nl; l++) {
        int k = mc.svd_rank[l];
        if ((l == 0 || l == nl - 1) && k != 0)
            bad = l; /* first / last stay whole by default */
        if (k > 0 && (long)k * (mm[l] + nn[l]) >= (long)mm[l] * nn[l])
            bad = l; /* the skip rule */
    }
    T_CHECK(rc == QS_OK, "energy 0.6: %s", qs_errmsg());
    T_CHECK(bad < 0, "layer %d breaks the rank rules (rank %d of %dx%d)", bad,
            bad >= 0 ? mc.svd_rank[bad] : 0, bad >= 0 ? mm[bad] : 0, bad >= 0 ? nn[bad] : 0);
    T_CHECK(res.nfactored > 0 && res.params_after < res.params_before &&
            res.params_after == qs_model_param_count(&mc),
            "energy 0.6: %d factored, %ld -> %ld params (count %ld)", res.nfactored,
            res.params_before, res.params_after, qs_model_param_count(&mc));
    sc.energy = 0;
    sc.params = 0.5;
    sc.first_last = 1;
    rc = qs_svd_plan_ranks(&mc, &res, &w, &sc);
    T_CHECK(rc == QS_OK && res.params_after <= 0.5 * res.params_before &&
            res.params_after > 0.4 * res.params_before,
            "params 0.5: %ld -> %ld (%s)", res.params_before, res.params_after,
            rc ? qs_errmsg() : "ok");
    sc.params = 0.001;
    rc = qs_svd_plan_ranks(&mc, &res, &w, &sc);
    T_CHECK(rc == QS_EINVAL && strstr(qs_errmsg(), "out of reach"), "params 0.001: %s",
            qs_errmsg());
    sc.params = 0;
    sc.energy = 1.5;
    rc = qs_svd_plan_ranks(&mc, &res, &w, &sc);
    T_CHECK(rc == QS_EINVAL && strstr(qs_errmsg(), "energy"), "energy 1.5: %s", qs_errmsg());
    qs_model_free(&w);
}

/* One batch of all the images: the running statistics become that
 * batch's mean and unbiased variance, whatever they were before. */
static void test_bn_recalibrate(void)
{
    qs_model m, ref;
    qs_rng r;
    qs_model_cfg c = pu_resnet(QS_BLOCK_BASIC, 8, 4, 32, 32);
    T_CHECK(qs_model_build(&m, &c, 16) == QS_OK && qs_model_build(&ref, &c, 16) == QS_OK,
            "build: %s", qs_errmsg());
    qs_rng_seed(&r, 10);
    qs_model_init(&m, &r);
    pu_random_bn(&m, &r, 0.3f);
    pu_copy_params(&ref, &m);
    float x[16 * PU_IMG];
    pu_normal(x, 16 * PU_IMG, &r);
    int rc = qs_svd_bn_recalibrate(&m, x, 16, 16);
    /* ref: momentum 0.1 from (0, 1) after one batch is 0.1 x the batch's */
    for (int i = 0; i < ref.nnode; i++)
        if (ref.nodes[i].type == QS_NODE_BN)
            for (int k = 0; k < ref.nodes[i].c; k++) {
                ref.buf[ref.nodes[i].rm_off + k] = 0;
                ref.buf[ref.nodes[i].rv_off + k] = 0;
            }
    qs_model_forward(&ref, x, 16, 1);
    double worst = 0;
    for (long k = 0; k < m.nbuf; k++)
        worst = fmax(worst, fabs(m.buf[k] - 10.0 * ref.buf[k]) / (fabs(10.0 * ref.buf[k]) + 1e-3));
    qs_model_free(&m);
    qs_model_free(&ref);
    T_CHECK(rc == QS_OK, "recalibrate: %s", qs_errmsg());
    T_CHECK(worst < 1e-3, "running stats off by %g (relative) from the batch's", worst);
}

/* A compress phase on the synthetic rings: factor, one of two fine-tune
 * epochs, checkpoint; the checkpoint loads with its ranks, resumes with
 * the same ranks, and is refused by a phase asking for other ones. */
static int compress_trainer(qs_trainer *t, const qs_dataset *tr, const qs_dataset *te,
                            const uint8_t *parent, size_t plen, double energy, int recal)
{
    qs_train_cfg c;
    qs_svd_result res;
    qs_model_cfg mc = fcdnn_cfg();
    mc.in_c = 2;
    mc.classes = 2;
    qs_train_cfg_default(&c, QS_DATA_SYNTHETIC, QS_PHASE_COMPRESS);
    c.svd.energy = energy;
    c.svd.first_last = 1;
    c.svd.epochs = c.epochs = 2;
    uint8_t *copy = malloc(plen);
    int rc = qs_trainer_init(t, &mc, &c, tr, te);
    if (rc || !copy) {
        free(copy);
        return rc ? rc : QS_ENOMEM;
    }
    memcpy(copy, parent, plen);
    if ((rc = qs_trainer_load_parent_bytes(t, copy, plen, "parent")))
        return rc;
    return qs_svd_compress_trainer(&res, t, recal);
}

/* ck with its first SVD rank set to r (or, shorten 1, the section's
 * length cut by one rank and the file shortened to match), the CRC
 * recomputed: what a forged file looks like once it passes the checksum. */
static uint8_t *forge_rank(size_t *outlen, const uint8_t *ck, size_t len, int32_t r, int shorten)
{
    qs_ckpt d;
    uint8_t *copy = malloc(len);
    memcpy(copy, ck, len);
    if (qs_ckpt_decode(&d, copy, len, "ck") != QS_OK)
        return NULL;
    size_t sl = 0;
    const uint8_t *p = qs_ckpt_get(&d, "svd_ranks", &sl);
    size_t at = (size_t)(p - d.buf);
    qs_ckpt_free(&d);
    uint8_t *f = malloc(len);
    memcpy(f, ck, len);
    size_t n = len;
    if (shorten) { /* size field 8 bytes before the data; drop the last 4 data bytes */
        uint64_t sz = sl - 4;
        for (int i = 0; i < 8; i++)
            f[at - 8 + i] = (uint8_t)(sz >> (8 * i));
        memmove(f + at + sz, f + at + sl, len - (at + sl));
        n = len - 4;
    } else {
        memcpy(f + at, &r, 4);
    }
    uint32_t c = (uint32_t)crc32(0L, f, (uInt)(n - 4));
    for (int i = 0; i < 4; i++)
        f[n - 4 + i] = (uint8_t)(c >> (8 * i));
    *outlen = n;
    return f;
}

static void test_ckpt_ranks(void)
{
    qs_dataset tr, te;
    qs_trainer t, t2, t3;
    qs_model lm;
    qs_ckpt_info info;
    uint8_t *fck = NULL, *ck = NULL;
    size_t flen = 0, len = 0;
    T_CHECK(qu_synth(&tr, &te, 512, 256) == QS_OK, "data: %s", qs_errmsg());
    qs_model_cfg fc = fcdnn_cfg();
    fc.in_c = 2;
    fc.classes = 2;
    int rc = qu_trainer(&t, fc, QS_DATA_SYNTHETIC, QS_PHASE_FLOAT, 2, 1, &tr, &te, NULL, 0);
    T_CHECK(rc == QS_OK && qu_finish(&t, &fck, &flen, NULL) == QS_OK, "float: %s", qs_errmsg());
    rc = compress_trainer(&t, &tr, &te, fck, flen, 0.5, 1);
    T_CHECK(rc == QS_OK, "compress: %s", qs_errmsg());
    char sum[128];
    qs_svd_rank_summary(sum, sizeof sum, &t.mcfg);
    printf("# energy 0.5: %s, %ld params\n", sum, t.model.nparam);
    rc = qs_trainer_run(&t, 1, NULL, NULL);
    if (rc == QS_OK)
        rc = qs_trainer_encode(&t, &ck, &len);
    T_CHECK(rc == QS_OK, "fine-tune epoch 1: %s", qs_errmsg());
    /* load: the ranks, the parameters and the logits are the trainer's */
    uint8_t *copy = malloc(len);
    memcpy(copy, ck, len);
    rc = qs_model_load_ckpt_bytes(&lm, &info, copy, len, "compress.ck", 8);
    T_CHECK(rc == QS_OK, "load: %s", qs_errmsg());
    int same = lm.cfg.svd_nrank == t.mcfg.svd_nrank && lm.nparam == t.model.nparam &&
               memcmp(lm.cfg.svd_rank, t.mcfg.svd_rank, (size_t)lm.cfg.svd_nrank * 2) == 0 &&
               memcmp(lm.param, t.model.param, (size_t)lm.nparam * 4) == 0;
    qs_model_free(&lm);
    T_CHECK(same && info.phase == QS_PHASE_COMPRESS, "loaded model differs (phase %d)", info.phase);
    /* forged ranks with a valid CRC: a negative rank, a rank list one
     * short of the model's layers; both refused naming the file */
    qs_model fm;
    qs_ckpt_info fi;
    size_t fl = 0;
    uint8_t *bad = forge_rank(&fl, ck, len, -3, 0);
    rc = bad ? qs_model_load_ckpt_bytes(&fm, &fi, bad, fl, "forged.ck", 1) : QS_EINTERNAL;
    T_CHECK(rc == QS_EFORMAT && strstr(qs_errmsg(), "forged.ck: svd_ranks.rank = -3"),
            "negative rank: %s", qs_errmsg());
    bad = forge_rank(&fl, ck, len, 0, 1);
    rc = bad ? qs_model_load_ckpt_bytes(&fm, &fi, bad, fl, "forged.ck", 1) : QS_EINTERNAL;
    T_CHECK(rc == QS_EFORMAT && strstr(qs_errmsg(), "forged.ck") &&
            strstr(qs_errmsg(), "3 SVD ranks for a model of 4 weight layers"),
            "short rank list: %s", qs_errmsg());
    /* resume with the same ranks, recomputed from the parent */
    T_CHECK(compress_trainer(&t2, &tr, &te, fck, flen, 0.5, 0) == QS_OK, "t2: %s", qs_errmsg());
    copy = malloc(len);
    memcpy(copy, ck, len);
    rc = qs_trainer_resume_bytes(&t2, copy, len, "compress.ck");
    T_CHECK(rc == QS_OK && t2.epoch_done == 1, "resume: %s", qs_errmsg());
    T_CHECK(qs_trainer_run(&t2, 0, NULL, NULL) == QS_OK && t2.epoch_done == 2, "finish: %s",
            qs_errmsg());
    /* another energy, other ranks: refused, naming a layer */
    T_CHECK(compress_trainer(&t3, &tr, &te, fck, flen, 0.2, 0) == QS_OK, "t3: %s", qs_errmsg());
    int differ = memcmp(t3.mcfg.svd_rank, t.mcfg.svd_rank, (size_t)t.mcfg.svd_nrank * 2) != 0;
    copy = malloc(len);
    memcpy(copy, ck, len);
    rc = qs_trainer_resume_bytes(&t3, copy, len, "compress.ck");
    char msg[512];
    snprintf(msg, sizeof msg, "%s", qs_errmsg());
    qs_trainer_free(&t);
    qs_trainer_free(&t2);
    qs_trainer_free(&t3);
    free(fck);
    free(ck);
    qs_data_free(&tr);
    qs_data_free(&te);
    T_CHECK(differ, "energies 0.5 and 0.2 gave the same ranks: the refusal is not tested");
    T_CHECK(rc == QS_EINVAL && strstr(msg, "compress.ck: weight layer") && strstr(msg, "SVD rank"),
            "other ranks: rc %d: %s", rc, msg);
}

int main(void)
{
    qs_set_threads(1);
    T_RUN(test_grad_conv);
    T_RUN(test_grad_linear);
    T_RUN(test_full_rank_conv);
    T_RUN(test_full_rank_linear);
    T_RUN(test_bad_ranks);
    T_RUN(test_plan_ranks);
    T_RUN(test_bn_recalibrate);
    T_RUN(test_ckpt_ranks);
    T_EXIT();
}
