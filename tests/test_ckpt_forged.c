/* Forged trainer checkpoints: each range-checked field set to a value out
 * of its range, the CRC recomputed so the container accepts the file. Every
 * reader (resume from bytes and from a file, a retrain's parent, export)
 * must refuse it with QS_EFORMAT naming the field, never crash or train. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "ckpt.h"
#include "ckpt_check.h"
#include "data.h"
#include "err.h"
#include "model.h"
#include "train.h"
#include "tharness.h"

static qs_dataset tr, te;

static qs_model_cfg qu_fcdnn(int width, int depth, int wbits, int abits)
{
    qs_model_cfg c;
    memset(&c, 0, sizeof c);
    c.arch = QS_ARCH_FCDNN;
    c.width = width;
    c.depth = depth;
    qs_data_shape(QS_DATA_SYNTHETIC, &c.in_c, &c.in_h, &c.in_w, &c.classes);
    c.wbits = wbits;
    c.abits = abits;
    c.first_last_bits = 8;
    return c;
}
static uint8_t *good_f, *good_q; /* float fcdnn-8-3 after 1 of 3 epochs; its W2A2 retrain */
static size_t good_f_len, good_q_len;
static char tmpdir[64];

static qs_train_cfg proto(qs_phase ph)
{
    qs_train_cfg c;
    qs_train_cfg_default(&c, QS_DATA_SYNTHETIC, ph);
    c.epochs = 3;
    c.batch = 64;
    return c;
}

static int make_ckpts(void)
{
    qs_trainer t;
    qs_model_cfg fm = qu_fcdnn(8, 3, 32, 32), qm = qu_fcdnn(8, 3, 2, 2);
    qs_train_cfg fc = proto(QS_PHASE_FLOAT), qc = proto(QS_PHASE_RETRAIN);
    int rc = qs_trainer_init(&t, &fm, &fc, &tr, &te);
    if (rc || (rc = qs_trainer_run(&t, 1, NULL, NULL)) ||
        (rc = qs_trainer_encode(&t, &good_f, &good_f_len)))
        return rc;
    qs_trainer_free(&t);
    uint8_t *p = malloc(good_f_len);
    memcpy(p, good_f, good_f_len);
    if ((rc = qs_trainer_init(&t, &qm, &qc, &tr, &te)) ||
        (rc = qs_trainer_load_parent_bytes(&t, p, good_f_len, "parent")) ||
        (rc = qs_trainer_run(&t, 1, NULL, NULL)) ||
        (rc = qs_trainer_encode(&t, &good_q, &good_q_len)))
        return rc;
    qs_trainer_free(&t);
    return QS_OK;
}

/* A copy of ck with `n` bytes at field `off` of section `sec` replaced and
 * the CRC recomputed (NULL if the section is missing). */
static uint8_t *forge(const uint8_t *ck, size_t len, const char *sec, size_t off,
                      const void *val, size_t n)
{
    qs_ckpt d;
    uint8_t *c = malloc(len);
    memcpy(c, ck, len);
    if (qs_ckpt_decode(&d, c, len, "forge"))
        return NULL;
    size_t size, at;
    const uint8_t *p = qs_ckpt_get(&d, sec, &size);
    at = p ? (size_t)(p - d.buf) + off : 0;
    uint8_t *out = p && off + n <= size ? malloc(len) : NULL;
    if (out) {
        memcpy(out, d.buf, len);
        memcpy(out + at, val, n);
        uint32_t crc = (uint32_t)crc32(0L, out, (uInt)(len - 4));
        for (int i = 0; i < 4; i++)
            out[len - 4 + i] = (uint8_t)(crc >> (8 * i));
    }
    qs_ckpt_free(&d);
    return out;
}

typedef struct {
    const char *sec, *field; /* field: what the message must name */
    size_t off;
    int size;                /* 4: int32 v, 8: int64 v or double d, 16: zeros */
    long long v;
    double d;
    int is_double;
    int quant;               /* forge the W2A2 checkpoint (alphas, steps) */
} bad_field;

#define CFG(f) "train_cfg", "train_cfg." #f, offsetof(qs_train_cfg, f)
#define ST(f) "state", "state." #f, offsetof(qs_ck_state, f)

static const bad_field cases[] = {
    {CFG(batch), 4, 0, 0, 0, 0},
    {CFG(batch), 4, -128, 0, 0, 0},
    {CFG(batch), 4, 1 << 30, 0, 0, 0},
    {CFG(phase), 4, 7, 0, 0, 0},
    {CFG(epochs), 4, 0, 0, 0, 0},
    {CFG(epochs), 4, -1, 0, 0, 0},
    {CFG(opt.kind), 4, 2, 0, 0, 0},
    {CFG(opt.momentum), 8, 0, 1.5, 1, 0},
    {CFG(opt.weight_decay), 8, 0, -1, 1, 0},
    {CFG(opt.beta1), 8, 0, 1.0, 1, 0},
    {CFG(opt.beta2), 8, 0, NAN, 1, 0},
    {CFG(opt.eps), 8, 0, 0.0, 1, 0},
    {CFG(sched.kind), 4, 9, 0, 0, 0},
    {CFG(sched.lr), 8, 0, INFINITY, 1, 0},
    {CFG(sched.nmilestones), 4, 9, 0, 0, 0},
    {CFG(sched.nmilestones), 4, -1, 0, 0, 0},
    {CFG(sched.gamma), 8, 0, 2, 1, 0},
    {CFG(sched.lr_min), 8, 0, -1, 1, 0},
    {CFG(sched.period), 8, 0, -3, 1, 0},
    {CFG(sched.clr_shape), 4, 5, 0, 0, 0},
    {CFG(augment), 4, 2, 0, 0, 0},
    {CFG(threads), 4, 0, 0, 0, 0},
    {CFG(threads), 4, 100000, 0, 0, 0},
    {CFG(lipschitz), 8, 0, -1, 1, 0},
    {CFG(pact_l2), 8, 0, 5, 1, 0},
    {CFG(alpha_init), 4, 3, 0, 0, 0},
    {CFG(alpha_value), 8, 0, -1, 1, 0},
    {CFG(calib_examples), 4, 0, 0, 0, 0},
    {ST(epoch_done), 8, -5, 0, 0, 0},
    {ST(epoch_done), 8, 4, 0, 0, 0},        /* past the plan's 3 epochs */
    {ST(iter), 8, -1, 0, 0, 0},
    {ST(nparam), 8, -1, 0, 0, 0},
    {ST(nparam), 8, 1LL << 62, 0, 0, 0},
    {ST(nalpha), 8, -1, 0, 0, 0},
    {ST(nbuf), 8, -4, 0, 0, 0},
    {ST(nnode), 8, 0, 0, 0, 0},
    {ST(nnode), 8, 1LL << 40, 0, 0, 0},
    {ST(quant_ready), 4, 2, 0, 0, 0},
    {ST(phase), 4, -1, 0, 0, 0},
    {ST(phase), 4, 1, 0, 0, 0},             /* differs from train_cfg.phase */
    {"state", "state.rng", offsetof(qs_ck_state, rng), 16, 0, 0, 0, 0},
    {"model", "model.arch", 0, 4, 5, 0, 0, 0},
    {"model", "model.block", 4, 4, -1, 0, 0, 0},
    {"model", "model.residual", 16, 4, 3, 0, 0, 0},
    {"model", "depth", 8, 4, 0, 0, 0, 0},
    {"model", "width", 12, 4, 1 << 30, 0, 0, 0},
    {"model", "model input", 20, 4, 4096, 0, 0, 0},  /* in_c */
    {"model", "bits", 36, 4, 99, 0, 0, 0},           /* wbits */
    {"params", "params[0]", 0, 4, 0x7fc00000, 0, 0, 0}, /* NaN */
    {"opt_v", "opt_v[1]", 4, 4, 0xbf800000, 0, 0, 0},   /* -1.0f */
    {"steps", "steps[0]", 0, 4, 0xbf800000, 0, 0, 1},
    {"qclean", "qclean", 0, 4, 7, 0, 0, 1},
};

/* Whether the message names the field; a crash ends the test binary. */
static int names(const char *field) { return strstr(qs_errmsg(), field) != NULL; }

static void every_reader_refuses(void)
{
    T_CHECK(make_ckpts() == 0, "%s", qs_errmsg());
    char path[128];
    snprintf(path, sizeof path, "%s/forged.qsc", tmpdir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_field *c = &cases[i];
        uint8_t val[16] = {0};
        int32_t v32 = (int32_t)c->v;
        int64_t v64 = c->v;
        if (c->size <= 8)
            memcpy(val, c->is_double ? (const void *)&c->d : c->size == 4 ? (const void *)&v32
                                                                          : (const void *)&v64,
                   (size_t)c->size);
        const uint8_t *base = c->quant ? good_q : good_f;
        size_t len = c->quant ? good_q_len : good_f_len;
        uint8_t *f = forge(base, len, c->sec, c->off, val, (size_t)c->size);
        T_CHECK(f, "case %zu: cannot forge %s", i, c->field);
        qs_trainer t;
        qs_model_cfg mc = qu_fcdnn(8, 3, c->quant ? 2 : 32, c->quant ? 2 : 32);
        qs_train_cfg tc = proto(c->quant ? QS_PHASE_RETRAIN : QS_PHASE_FLOAT);
        T_CHECK(qs_trainer_init(&t, &mc, &tc, &tr, &te) == 0, "%s", qs_errmsg());
        /* The worker's path: bytes. */
        uint8_t *b = malloc(len);
        memcpy(b, f, len);
        int rc = qs_trainer_resume_bytes(&t, b, len, "forged");
        T_CHECK(rc == QS_EFORMAT && names(c->field), "%s = %lld/%g: resume rc %d: %s",
                c->field, c->v, c->d, rc, qs_errmsg());
        /* The CLI's: a file, with the file named. */
        FILE *out = fopen(path, "wb");
        T_CHECK(out && fwrite(f, 1, len, out) == len && fclose(out) == 0, "write %s", path);
        rc = qs_trainer_resume(&t, path);
        T_CHECK(rc == QS_EFORMAT && names(c->field) && names(path), "%s: resume file: %s",
                c->field, qs_errmsg());
        qs_trainer_free(&t);
        /* qsweep export --from (which has no use for the optimiser state). */
        qs_model m;
        qs_ckpt_info info;
        rc = strcmp(c->sec, "opt_v") && strcmp(c->sec, "qclean")
                 ? qs_model_load_ckpt(&m, &info, path, 1) : QS_EFORMAT;
        T_CHECK(rc == QS_EFORMAT && (names(c->field) || c->sec[1] == 'p' || c->sec[0] == 'q'),
                "%s: export: rc %d %s", c->field, rc, qs_errmsg());
        /* A retrain's parent reads model, state and the tensors only. */
        if (!c->quant && strcmp(c->sec, "train_cfg") && strcmp(c->sec, "opt_v") &&
            !(c->sec[0] == 's' && strstr(c->field, ".phase")) && !strstr(c->field, "epoch_done")) {
            qs_model_cfg qm = qu_fcdnn(8, 3, 2, 2);
            qs_train_cfg qc = proto(QS_PHASE_RETRAIN);
            T_CHECK(qs_trainer_init(&t, &qm, &qc, &tr, &te) == 0, "%s", qs_errmsg());
            b = malloc(len);
            memcpy(b, f, len);
            rc = qs_trainer_load_parent_bytes(&t, b, len, "forged");
            qs_trainer_free(&t);
            T_CHECK(rc != QS_OK && names(c->field), "%s: parent: rc %d %s", c->field, rc,
                    qs_errmsg());
        }
        free(f);
    }
    unlink(path);
}

/* The forging itself leaves a valid checkpoint valid (so the refusals above
 * are the field checks', not the CRC's). */
static void unchanged_field_still_loads(void)
{
    int32_t batch = 64;
    uint8_t *f = forge(good_f, good_f_len, "train_cfg", offsetof(qs_train_cfg, batch), &batch, 4);
    T_CHECK(f && memcmp(f, good_f, good_f_len) == 0, "forge changed the bytes");
    qs_trainer t;
    qs_model_cfg mc = qu_fcdnn(8, 3, 32, 32);
    qs_train_cfg tc = proto(QS_PHASE_FLOAT);
    T_CHECK(qs_trainer_init(&t, &mc, &tc, &tr, &te) == 0, "%s", qs_errmsg());
    T_CHECK(qs_trainer_resume_bytes(&t, f, good_f_len, "same") == 0, "%s", qs_errmsg());
    T_CHECK(t.epoch_done == 1 && qs_trainer_run(&t, 0, NULL, NULL) == 0 && t.epoch_done == 3,
            "resumed run: epoch %d, %s", t.epoch_done, qs_errmsg());
    qs_trainer_free(&t);
}

/* A checkpoint saved with a larger batch than this run's buffers: refused
 * with the flag to use, not an overflow. */
static void larger_batch_refused(void)
{
    qs_trainer t;
    qs_model_cfg mc = qu_fcdnn(8, 3, 32, 32);
    qs_train_cfg tc = proto(QS_PHASE_FLOAT);
    tc.batch = 32;
    T_CHECK(qs_trainer_init(&t, &mc, &tc, &tr, &te) == 0, "%s", qs_errmsg());
    uint8_t *b = malloc(good_f_len);
    memcpy(b, good_f, good_f_len);
    int rc = qs_trainer_resume_bytes(&t, b, good_f_len, "ck");
    qs_trainer_free(&t);
    T_CHECK(rc == QS_EINVAL && strstr(qs_errmsg(), "--batch 64"), "rc %d: %s", rc,
            qs_errmsg());
}

int main(void)
{
    strcpy(tmpdir, "/tmp/qs_test_forged_XXXXXX");
    qs_synth_cfg s;
    qs_synth_cfg_default(&s);
    if (!mkdtemp(tmpdir) || qs_data_load(&tr, &te, QS_DATA_SYNTHETIC, NULL, 256, 64, &s)) {
        printf("FAIL setup: %s\n", qs_errmsg());
        return 1;
    }
    T_RUN(every_reader_refuses);
    if (good_f) {
        T_RUN(unchanged_field_still_loads);
        T_RUN(larger_batch_refused);
    }
    rmdir(tmpdir);
    free(good_f);
    free(good_q);
    qs_data_free(&tr);
    qs_data_free(&te);
    T_EXIT();
}
