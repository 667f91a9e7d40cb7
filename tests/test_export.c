/* Export of integer weight codes and scales (core/io/export.h, the JSON of
 * docs/export.md) and the integer-code FCDNN inference (core/quant/intinfer.h):
 * a checkpoint loads back to the model it was evaluated as, codes times
 * steps are the fake-quant weights bit for bit, the JSON round-trips, and
 * integer inference agrees with the fake-quant predictions on >= 99.9% of
 * the synthetic test set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export.h"
#include "intinfer.h"
#include "qat_util.h"
#include "tharness.h"

static qs_dataset tr, te;
static char dir[] = "/tmp/qs-export-XXXXXX";

/* Float (12 epochs) then a quantized phase (2 epochs) of an FCDNN, saved to
 * dir/name.qsc; the trainer of the quantized phase stays alive in *t. */
static int trained(qs_trainer *t, qs_model_cfg q, const char *name, char *path, size_t pl)
{
    qs_trainer f;
    uint8_t *ck = NULL;
    size_t len = 0;
    qs_model_cfg fc = q;
    fc.wbits = fc.abits = 32;
    int rc = qu_trainer(&f, fc, QS_DATA_SYNTHETIC, QS_PHASE_FLOAT, 12, 3, &tr, &te, NULL, 0);
    if (!rc)
        rc = qu_finish(&f, &ck, &len, NULL);
    if (!rc)
        rc = qu_trainer(t, q, QS_DATA_SYNTHETIC, QS_PHASE_RETRAIN, 2, 3, &tr, &te, ck, len);
    free(ck);
    if (!rc)
        rc = qs_trainer_run(t, 0, NULL, NULL);
    snprintf(path, pl, "%s/%s.qsc", dir, name);
    if (!rc)
        rc = qs_trainer_save(t, path);
    return rc;
}

/* The whole chain for one FCDNN configuration. */
static void check_fcdnn(qs_model_cfg q, const char *name)
{
    qs_trainer t;
    qs_model m;
    qs_ckpt_info info;
    qs_export e, r;
    char path[256], json[256];
    T_CHECK(trained(&t, q, name, path, sizeof path) == 0, "%s: %s", name, qs_errmsg());
    T_CHECK(qs_model_load_ckpt(&m, &info, path, 128) == 0, "%s: %s", name, qs_errmsg());
    T_CHECK(info.phase == QS_PHASE_RETRAIN && info.epoch_done == 2 && info.quant_ready,
            "%s: info phase %d epoch %d", name, info.phase, info.epoch_done);
    for (int i = 0; i < m.nnode; i++)
        if (m.nodes[i].wbits < 32)
            T_CHECK(m.nodes[i].step == t.model.nodes[i].step &&
                    !memcmp(m.nodes[i].qw, t.model.nodes[i].qw, (size_t)m.nodes[i].wlen * 4),
                    "%s: node %d: loaded quantized weights differ from the trained ones", name, i);

    T_CHECK(qs_export_from_model(&e, &m, "retrain", 2, 2) == 0, "%s: %s", name, qs_errmsg());
    for (int i = 0; i < e.n; i++) {
        const qs_export_node *x = &e.nodes[i];
        if (x->type != QS_NODE_LINEAR || x->bits >= 32)
            continue;
        int mx = x->bits == 1 ? 1 : (1 << (x->bits - 1)) - 1;
        for (long j = 0; j < x->wlen; j++)
            T_CHECK(x->codes[j] >= -mx && x->codes[j] <= mx && x->step * x->codes[j] == m.nodes[i].qw[j],
                    "%s: node %d code %d", name, i, x->codes[j]);
    }
    snprintf(json, sizeof json, "%s/%s.json", dir, name);
    T_CHECK(qs_export_write_json(&e, json) == 0, "%s", qs_errmsg());
    T_CHECK(qs_export_read_json(&r, json) == 0, "%s", qs_errmsg());
    T_CHECK(r.n == e.n && !strcmp(r.model, e.model), "%s: read back %d nodes %s", name, r.n, r.model);
    for (int i = 0; i < e.n; i++) {
        const qs_export_node *a = &e.nodes[i], *b = &r.nodes[i];
        T_CHECK(a->type == b->type && a->in0 == b->in0 && a->in1 == b->in1 && a->bits == b->bits &&
                a->step == b->step && a->abits == b->abits && a->alpha == b->alpha &&
                a->scale == b->scale, "%s: node %d differs after the JSON round trip", name, i);
        if (a->codes)
            T_CHECK(!memcmp(a->codes, b->codes, (size_t)a->wlen), "%s: node %d codes", name, i);
        if (a->bias)
            T_CHECK(!memcmp(a->bias, b->bias, (size_t)a->c * 4), "%s: node %d bias", name, i);
    }

    int *p_int = malloc((size_t)te.n * sizeof *p_int), *p_rd = malloc((size_t)te.n * sizeof *p_rd);
    uint8_t *p_fq = malloc((size_t)te.n);
    T_CHECK(qs_trainer_predict(&t, &te, p_fq) == 0, "%s", qs_errmsg());
    T_CHECK(qs_intinfer_fcdnn(p_int, NULL, &e, te.xf, te.n) == 0, "%s: %s", name, qs_errmsg());
    T_CHECK(qs_intinfer_fcdnn(p_rd, NULL, &r, te.xf, te.n) == 0, "%s: %s", name, qs_errmsg());
    int agree = 0, correct = 0, ones = 0;
    for (int i = 0; i < te.n; i++) {
        ones += p_fq[i] == 1;
        agree += p_int[i] == p_fq[i];
        correct += p_int[i] == te.y[i];
        T_CHECK(p_int[i] == p_rd[i], "%s: example %d: the JSON export predicts differently", name, i);
    }
    fprintf(stderr, "%s: integer inference agrees on %d / %d test points (%.3f%%), its accuracy "
            "%.2f%%, label 1 predicted on %d\n", name, agree, te.n, 100.0 * agree / te.n,
            100.0 * correct / te.n, ones);
    /* A model that predicts one class everywhere would agree trivially. */
    T_CHECK(ones > te.n / 10 && ones < te.n - te.n / 10, "%s: label 1 predicted on %d of %d",
            name, ones, te.n);
    T_CHECK(agree >= 0.999 * te.n, "%s: integer and fake-quant predictions agree on %d of %d",
            name, agree, te.n);
    free(p_int);
    free(p_rd);
    free(p_fq);
    qs_export_free(&e);
    qs_export_free(&r);
    qs_model_free(&m);
    qs_trainer_free(&t);
}

static void test_intinfer_w2a2(void) { check_fcdnn(qu_fcdnn(128, 4, 2, 2), "fcdnn-128-4-w2a2"); }

/* 8-bit codes keep the trained boundary: many test points lie close to it. */
static void test_intinfer_w8a8_residual(void)
{
    qs_model_cfg q = qu_fcdnn(64, 5, 8, 8);
    q.residual = 1;
    check_fcdnn(q, "fcdnn-res-64-5-w8a8");
}

static void test_intinfer_w1af(void) { check_fcdnn(qu_fcdnn(32, 4, 1, 32), "fcdnn-32-4-w1af"); }

/* A ResNet exports (and round-trips); integer inference is FCDNN-only and
 * says so; a model with float weights has no codes for it; a float
 * checkpoint has nothing to export. */
static void test_export_limits(void)
{
    qs_model m;
    qs_rng rng;
    qs_export e, r;
    char json[256];
    int pred[1];
    float x[2] = {0, 0};
    qs_model_cfg c = qu_resnet(QS_BLOCK_DEPTHWISE, 11, 4, 3, 2);
    T_CHECK(qs_model_build(&m, &c, 1) == 0, "%s", qs_errmsg());
    qs_rng_seed(&rng, 1);
    qs_model_init(&m, &rng);
    T_CHECK(qs_export_from_model(&e, &m, "retrain", 0, 1) == QS_EINVAL &&
            strstr(qs_errmsg(), "never quantized"), "unquantized model: %s", qs_errmsg());
    m.quant_ready = 1;
    float *img = calloc(32 * 32, sizeof *img);
    qs_model_forward(&m, img, 1, 0);
    free(img);
    T_CHECK(qs_export_from_model(&e, &m, "retrain", 0, 1) == 0, "%s", qs_errmsg());
    snprintf(json, sizeof json, "%s/resnet.json", dir);
    T_CHECK(qs_export_write_json(&e, json) == 0 && qs_export_read_json(&r, json) == 0, "%s",
            qs_errmsg());
    T_CHECK(r.n == e.n && r.cfg.block == QS_BLOCK_DEPTHWISE, "resnet round trip");
    for (int i = 0; i < e.n; i++)
        if (e.nodes[i].type == QS_NODE_BN)
            T_CHECK(!memcmp(e.nodes[i].var, r.nodes[i].var, (size_t)e.nodes[i].c * 4), "bn %d", i);
    T_CHECK(qs_intinfer_fcdnn(pred, NULL, &e, x, 1) == QS_EINVAL && strstr(qs_errmsg(), "FCDNN"),
            "resnet integer inference: %s", qs_errmsg());
    qs_export_free(&e);
    qs_export_free(&r);
    qs_model_free(&m);

    c = qu_fcdnn(8, 3, 32, 2);
    T_CHECK(qs_model_build(&m, &c, 1) == 0, "%s", qs_errmsg());
    qs_model_init(&m, &rng);
    m.quant_ready = 1;
    T_CHECK(qs_export_from_model(&e, &m, "retrain", 0, 1) == 0, "%s", qs_errmsg());
    T_CHECK(qs_intinfer_fcdnn(pred, NULL, &e, x, 1) == QS_EINVAL && strstr(qs_errmsg(), "float weights"),
            "WFA2 integer inference: %s", qs_errmsg());
    qs_export_free(&e);
    qs_model_free(&m);

    c.abits = 32;
    T_CHECK(qs_model_build(&m, &c, 1) == 0, "%s", qs_errmsg());
    T_CHECK(qs_export_from_model(&e, &m, "float", 0, 1) == QS_EINVAL && strstr(qs_errmsg(), "W32A32"),
            "float export: %s", qs_errmsg());
    qs_model_free(&m);
}

/* Unreadable or damaged files: errors name the file and what is wrong. */
static void test_export_read_errors(void)
{
    qs_export e;
    char path[256];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    const char *cases[][2] = {
        {"not json", "not a JSON object"},
        {"{\"format\":\"other\"}", "not a qsweep export"},
        {"{\"format\":\"qsweep-export\",\"version\":9}", "version 9"},
        {"{\"format\":\"qsweep-export\",\"version\":1,\"model\":\"m\",\"arch\":\"fcdnn\","
         "\"block\":\"basic\",\"depth\":3,\"width\":2,\"input\":[2,1,1],\"classes\":2,\"wbits\":2,"
         "\"abits\":32,\"first_last_bits\":8,\"nodes\":[{\"id\":0,\"type\":\"input\",\"shape\":[2,1,1]},"
         "{\"id\":1,\"type\":\"linear\",\"shape\":[2,1,1],\"inputs\":[0],\"weight_shape\":[2,2,1,1],"
         "\"stride\":1,\"pad\":0,\"bits\":2,\"step\":0.5,\"codes\":\"AAE\"}]}", "node 1: \"codes\""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        FILE *f = fopen(path, "w");
        fputs(cases[k][0], f);
        fclose(f);
        T_CHECK(qs_export_read_json(&e, path) == QS_EFORMAT && strstr(qs_errmsg(), path) &&
                strstr(qs_errmsg(), cases[k][1]), "case %zu: %s", k, qs_errmsg());
    }
    snprintf(path, sizeof path, "%s/missing.json", dir);
    T_CHECK(qs_export_read_json(&e, path) == QS_EIO && strstr(qs_errmsg(), path), "%s", qs_errmsg());
}

int main(void)
{
    if (!mkdtemp(dir) || qu_synth(&tr, &te, 0, 0)) {
        printf("FAIL test_export_setup: %s\n", qs_errmsg());
        return 1;
    }
    T_RUN(test_intinfer_w2a2);
    T_RUN(test_intinfer_w8a8_residual);
    T_RUN(test_intinfer_w1af);
    T_RUN(test_export_limits);
    T_RUN(test_export_read_errors);
    qs_data_free(&tr);
    qs_data_free(&te);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    T_EXIT();
}
