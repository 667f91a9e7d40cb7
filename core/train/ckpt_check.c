#include "ckpt_check.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "bp_train.h"
#include "err.h"

/* The fields are memcpy'd out of the file as int32: the enums must be that. */
_Static_assert(sizeof(qs_phase) == 4 && sizeof(qs_opt_kind) == 4 &&
                   sizeof(qs_sched_kind) == 4 && sizeof(qs_alpha_init) == 4 &&
                   sizeof(qs_arch) == 4 && sizeof(qs_block) == 4,
               "checkpoint enums are 32-bit");
_Static_assert(sizeof(qs_ck_state) == 72, "state section layout");

#define MODEL_INTS 12
static const char *const model_names[MODEL_INTS] = {
    "arch", "block", "depth", "width", "residual", "in_c",
    "in_h", "in_w", "classes", "wbits", "abits", "first_last_bits"};

void qs_ck_model_ints(int32_t *v, const qs_model_cfg *c)
{
    int32_t x[MODEL_INTS] = {c->arch,  c->block, c->depth,   c->width, c->residual,
                             c->in_c,  c->in_h,  c->in_w,    c->classes,
                             c->wbits, c->abits, c->first_last_bits};
    memcpy(v, x, sizeof x);
}

const uint8_t *qs_ck_section(const qs_ckpt *ck, const char *name, size_t size,
                             const char *what, int *rc)
{
    size_t got = 0;
    const void *p = qs_ckpt_get(ck, name, &got);
    if (*rc)
        return NULL;
    if (!p)
        *rc = qs_err(QS_EFORMAT, "%s: checkpoint has no \"%s\" section", what, name);
    else if (size && got != size)
        *rc = qs_err(QS_EFORMAT, "%s: section \"%s\" is %zu bytes, expected %zu", what, name,
                     got, size);
    return *rc ? NULL : p;
}

/* Byte offset in the file of field `off` of the section at p. */
static size_t at(const qs_ckpt *ck, const uint8_t *p, size_t off)
{
    return (size_t)(p - ck->buf) + off;
}

static int out_of_range(const char *what, const char *sec, const char *field, size_t byte,
                        double v, double lo, double hi)
{
    return qs_err(QS_EFORMAT, "%s: %s.%s = %.10g (byte %zu) is out of range (allowed: "
                  "%.10g..%.10g); the checkpoint was not written by qsweep or was edited",
                  what, sec, field, v, byte, lo, hi);
}

/* --------------------------------------------------------------- model */

static int check_model(qs_model_cfg *c, const qs_ckpt *ck, const uint8_t *p, const char *what)
{
    int32_t v[MODEL_INTS];
    memcpy(v, p, sizeof v);
    /* Enumerations first: the validator indexes names by them. */
    static const struct { int i, hi; } enums[] = {{0, QS_ARCH_MOBILENETV2}, {1, QS_BLOCK_BOTTLENECK}, {4, 1}}; /* arch, block, residual */
    for (size_t e = 0; e < sizeof enums / sizeof enums[0]; e++) {
        int i = enums[e].i;
        if (v[i] < 0 || v[i] > enums[e].hi)
            return out_of_range(what, "model", model_names[i], at(ck, p, 4 * (size_t)i), v[i],
                                0, enums[e].hi);
    }
    memset(c, 0, sizeof *c);
    c->arch = (qs_arch)v[0];
    c->block = (qs_block)v[1];
    c->depth = v[2];
    c->width = v[3];
    c->residual = v[4];
    c->in_c = v[5];
    c->in_h = v[6];
    c->in_w = v[7];
    c->classes = v[8];
    c->wbits = v[9];
    c->abits = v[10];
    c->first_last_bits = v[11];
    if (c->arch == QS_ARCH_IMNET_RESNET || c->arch == QS_ARCH_MOBILENETV2) {
        size_t got = 0;
        const uint8_t *ip = qs_ckpt_get(ck, "imnet", &got);
        qs_ck_imnet im;
        if (!ip || got != sizeof im)
            return qs_err(QS_EFORMAT, "%s: an %s checkpoint needs an \"imnet\" section of %zu "
                          "bytes", what, c->arch == QS_ARCH_MOBILENETV2 ? "mobilenetv2"
                          : "imagenet-resnet", sizeof im);
        memcpy(&im, ip, sizeof im);
        for (int i = 0; i < QS_IMNET_STAGES; i++)
            c->stage_blocks[i] = im.stage_blocks[i];
        c->width_mult = im.width_mult;
    }
    if (qs_model_cfg_validate(c) != QS_OK)
        return qs_err_wrap(QS_EFORMAT, "%s: section \"model\" (bytes %zu..%zu)", what,
                           at(ck, p, 0), at(ck, p, sizeof v - 1));
    /* The input is one of the datasets': it sizes every activation. The
     * ImageNet models take an ImageNet tree at any crop side the trainer
     * allows, with its own classes. */
    int imnet = c->arch == QS_ARCH_IMNET_RESNET || c->arch == QS_ARCH_MOBILENETV2;
    if (imnet && c->in_c == 3 && c->in_h == c->in_w && c->in_h >= QS_IMNET_MIN_SIZE &&
        c->in_h <= QS_IMNET_MAX_SIZE && c->classes >= 2 && c->classes <= QS_IMNET_MAX_CLASSES)
        return QS_OK;
    for (int k = QS_DATA_SYNTHETIC; k <= QS_DATA_CIFAR10; k++) {
        int ic, ih, iw, cl;
        qs_data_shape((qs_data_kind)k, &ic, &ih, &iw, &cl);
        if (c->in_c == ic && c->in_h == ih && c->in_w == iw && c->classes == cl)
            return QS_OK;
    }
    return qs_err(QS_EFORMAT, "%s: model input %dx%dx%d with %d classes (bytes %zu..%zu) is "
                  "none of the datasets' (synthetic 2x1x1 / 2, fashion-mnist 1x32x32 / 10, "
                  "cifar10 3x32x32 / 10, imagenet 3xSxS / 2..%d classes, S %d..%d, "
                  "for imagenet-resnet and mobilenetv2)", what, c->in_c, c->in_h, c->in_w, c->classes,
                  at(ck, p, 20), at(ck, p, 35), QS_IMNET_MAX_CLASSES, QS_IMNET_MIN_SIZE,
                  QS_IMNET_MAX_SIZE);
}

/* --------------------------------------------------------------- state */

#define SF(f, lo, hi) {#f, offsetof(qs_ck_state, f), sizeof(((qs_ck_state *)0)->f), lo, hi}

static int check_state(const qs_ck_state *s, const qs_ckpt *ck, const uint8_t *p,
                       const char *what)
{
    /* Counts far above any model qsweep builds (the section sizes are then
     * compared with the model's), so that no size computed from them wraps. */
    static const struct { const char *name; size_t off, size; double lo, hi; } f[] = {
        SF(epoch_done, 0, QS_MAX_EPOCHS), SF(nnode, 1, 1 << 24),
        SF(nalpha, 0, 1 << 24),           SF(nparam, 0, 1e12),
        SF(nbuf, 0, 1e12),                SF(quant_ready, 0, 1),
        SF(phase, 0, QS_NPHASES - 1),
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        int64_t v64 = 0;
        int32_t v32 = 0;
        double v;
        if (f[i].size == 8) {
            memcpy(&v64, (const uint8_t *)s + f[i].off, 8);
            v = (double)v64;
        } else {
            memcpy(&v32, (const uint8_t *)s + f[i].off, 4);
            v = v32;
        }
        if (v < f[i].lo || v > f[i].hi)
            return out_of_range(what, "state", f[i].name, at(ck, p, f[i].off), v, f[i].lo,
                                f[i].hi);
    }
    /* quantizer parameters are part of params (LSQ: a step per channel
     * can outnumber the nodes); the exact count is compared with the
     * model once it is built */
    if (s->nalpha > s->nparam)
        return out_of_range(what, "state", "nalpha", at(ck, p, offsetof(qs_ck_state, nalpha)),
                            (double)s->nalpha, 0, (double)s->nparam);
    /* One optimiser step per batch: at most QS_MAX_EXAMPLES per epoch. */
    double max_iter = (double)s->epoch_done * QS_MAX_EXAMPLES;
    if (s->iter < 0 || (double)s->iter > max_iter)
        return out_of_range(what, "state", "iter", at(ck, p, offsetof(qs_ck_state, iter)),
                            (double)s->iter, 0, max_iter);
    /* xoshiro's one forbidden state: it would draw zeros forever. */
    if (!(s->rng[0] | s->rng[1] | s->rng[2] | s->rng[3]))
        return qs_err(QS_EFORMAT, "%s: state.rng (byte %zu) is all zero, which no seeded "
                      "generator reaches", what, at(ck, p, offsetof(qs_ck_state, rng)));
    return QS_OK;
}

/* ------------------------------------------------------------ train_cfg */

typedef struct {
    const char *name;
    size_t off;
    char type;     /* 'i' int32, 'd' double */
    double lo, hi;
    int lo_open;   /* lo itself not allowed */
} cfg_field;

#define FI(f, lo, hi) {#f, offsetof(qs_train_cfg, f), 'i', lo, hi, 0}
#define FD(f, lo, hi) {#f, offsetof(qs_train_cfg, f), 'd', lo, hi, 0}
#define FP(f, lo, hi) {#f, offsetof(qs_train_cfg, f), 'd', lo, hi, 1}

/* seed and calib_seed take any 64-bit value. */
static const cfg_field cfg_fields[] = {
    FI(phase, 0, QS_NPHASES - 1),
    FI(epochs, 1, QS_MAX_EPOCHS),
    FI(batch, 1, QS_MAX_BATCH),
    FI(opt.kind, 0, 1),
    FD(opt.momentum, 0, 1),
    FD(opt.weight_decay, 0, 1),
    /* Adam divides by 1 - beta^t. */
    FD(opt.beta1, 0, 0.999999),
    FD(opt.beta2, 0, 0.999999),
    FP(opt.eps, 0, 1),
    FI(sched.kind, 0, 3),
    FD(sched.lr, 0, QS_MAX_LR),
    FI(sched.nmilestones, 0, QS_MAX_MILESTONES),
    FD(sched.gamma, 0, 1),
    FD(sched.lr_min, 0, QS_MAX_LR),
    FD(sched.period, 0, QS_MAX_PERIOD),
    FI(sched.clr_shape, 0, 1),
    FI(augment, 0, 1),
    FI(threads, 1, QS_MAX_THREADS),
    FD(lipschitz, 0, QS_MAX_LIPSCHITZ),
    FD(pact_l2, 0, 1),
    FI(alpha_init, 0, 2),
    FD(alpha_value, 0, 1e6),
    FI(calib_examples, 1, QS_MAX_EXAMPLES),
};

static int check_cfg(const qs_train_cfg *c, const qs_ckpt *ck, const uint8_t *p,
                     const char *what)
{
    for (size_t i = 0; i < sizeof cfg_fields / sizeof cfg_fields[0]; i++) {
        const cfg_field *f = &cfg_fields[i];
        double v;
        if (f->type == 'i') {
            int32_t x;
            memcpy(&x, (const uint8_t *)c + f->off, 4);
            v = x;
        } else {
            memcpy(&v, (const uint8_t *)c + f->off, 8);
        }
        if (!isfinite(v) || v < f->lo || v > f->hi || (f->lo_open && v <= f->lo))
            return out_of_range(what, "train_cfg", f->name, at(ck, p, f->off), v, f->lo,
                                f->hi);
    }
    for (int i = 0; i < c->sched.nmilestones; i++) {
        double m = c->sched.milestones[i];
        if (!(m > 0 && m < 1) || (i > 0 && !(m > c->sched.milestones[i - 1])))
            return qs_err(QS_EFORMAT, "%s: train_cfg.sched.milestones[%d] = %.10g (byte %zu) "
                          "is not an increasing fraction in (0, 1)", what, i, m,
                          at(ck, p, offsetof(qs_train_cfg, sched.milestones) + 8 * (size_t)i));
    }
    /* Settings that only some choices use, checked where they are used. */
    if (c->sched.kind == QS_SCHED_CLR && c->sched.period < QS_MIN_PERIOD)
        return out_of_range(what, "train_cfg", "sched.period",
                            at(ck, p, offsetof(qs_train_cfg, sched.period)), c->sched.period,
                            QS_MIN_PERIOD, QS_MAX_PERIOD);
    if (c->alpha_init != QS_ALPHA_MSE &&
        !(c->alpha_value > 0 && (c->alpha_init != QS_ALPHA_PERCENTILE || c->alpha_value <= 100)))
        return out_of_range(what, "train_cfg", "alpha_value",
                            at(ck, p, offsetof(qs_train_cfg, alpha_value)), c->alpha_value,
                            0, c->alpha_init == QS_ALPHA_PERCENTILE ? 100 : 1e6);
    return QS_OK;
}

/* ----------------------------------------------------------------- api */

int qs_ck_head_read(qs_ck_head *h, const qs_ckpt *ck, const char *what, int need_cfg)
{
    int rc = QS_OK;
    memset(h, 0, sizeof *h);
    const uint8_t *mp = qs_ck_section(ck, "model", MODEL_INTS * sizeof(int32_t), what, &rc);
    const uint8_t *sp = qs_ck_section(ck, "state", sizeof(qs_ck_state), what, &rc);
    const uint8_t *cp =
        need_cfg ? qs_ck_section(ck, "train_cfg", QS_TRAIN_CFG_CKPT_SIZE, what, &rc) : NULL;
    if (rc)
        return rc;
    /* Sections are unaligned inside the buffer: copy, never cast. */
    memcpy(&h->st, sp, sizeof h->st);
    if ((rc = check_model(&h->mcfg, ck, mp, what)) || (rc = check_state(&h->st, ck, sp, what)))
        return rc;
    if (!need_cfg)
        return QS_OK;
    memcpy(&h->tcfg, cp, QS_TRAIN_CFG_CKPT_SIZE);
    /* Optional: checkpoints from before label smoothing trained without. */
    size_t lslen = 0;
    const uint8_t *ls = qs_ckpt_get(ck, "label_smoothing", &lslen);
    if (ls && lslen != sizeof h->tcfg.label_smoothing)
        return qs_err(QS_EFORMAT, "%s: section \"label_smoothing\" is %zu bytes, expected %zu",
                      what, lslen, sizeof h->tcfg.label_smoothing);
    if (ls)
        memcpy(&h->tcfg.label_smoothing, ls, lslen);
    if (!(h->tcfg.label_smoothing >= 0 && h->tcfg.label_smoothing < 1))
        return out_of_range(what, "label_smoothing", "eps", ls ? at(ck, ls, 0) : 0,
                            h->tcfg.label_smoothing, 0, 1);
    if ((rc = qs_bp_train_from_ckpt(&h->tcfg, ck, what)) || (rc = check_cfg(&h->tcfg, ck, cp, what)))
        return rc;
    if (h->st.phase != (int32_t)h->tcfg.phase)
        return qs_err(QS_EFORMAT, "%s: state.phase %d (byte %zu) differs from train_cfg.phase "
                      "%d", what, h->st.phase, at(ck, sp, offsetof(qs_ck_state, phase)),
                      (int)h->tcfg.phase);
    if (h->st.epoch_done > h->tcfg.epochs)
        return out_of_range(what, "state", "epoch_done",
                            at(ck, sp, offsetof(qs_ck_state, epoch_done)),
                            (double)h->st.epoch_done, 0, h->tcfg.epochs);
    return QS_OK;
}

int qs_ck_floats(const qs_ckpt *ck, const char *what, const char *name, const uint8_t *p,
                 size_t n, float min)
{
    for (size_t i = 0; i < n; i++) {
        float x;
        memcpy(&x, p + 4 * i, 4);
        if (!isfinite(x) || x < min)
            return qs_err(QS_EFORMAT, "%s: %s[%zu] = %g (byte %zu) is not %s", what, name, i,
                          (double)x, at(ck, p, 4 * i),
                          min > -INFINITY ? "a finite number >= 0" : "a finite number");
    }
    return QS_OK;
}

int qs_ck_imnet_from(qs_ck_imnet *im, const qs_model_cfg *c)
{
    memset(im, 0, sizeof *im);
    if (c->arch != QS_ARCH_IMNET_RESNET && c->arch != QS_ARCH_MOBILENETV2)
        return 0;
    for (int i = 0; i < QS_IMNET_STAGES; i++)
        im->stage_blocks[i] = c->stage_blocks[i];
    im->width_mult = c->width_mult;
    return 1;
}

/* ------------------------------------------------------------- svd ranks */

int qs_ck_svd_read(qs_model_cfg *c, int16_t *buf, const qs_ckpt *ck, const char *what)
{
    size_t len = 0;
    const uint8_t *p = qs_ckpt_get(ck, "svd_ranks", &len);
    c->svd_nrank = 0;
    c->svd_rank = NULL;
    if (!p)
        return QS_OK;
    if (len == 0 || len % 4 != 0 || len / 4 > QS_SVD_MAX_LAYERS)
        return qs_err(QS_EFORMAT, "%s: section \"svd_ranks\" is %zu bytes (allowed: 4..%d, a "
                      "multiple of 4)", what, len, 4 * QS_SVD_MAX_LAYERS);
    for (int i = 0; i < (int)(len / 4); i++) {
        int32_t r;
        memcpy(&r, p + 4 * (size_t)i, 4);
        if (r < 0 || r > QS_SVD_MAX_RANK)
            return out_of_range(what, "svd_ranks", "rank", at(ck, p, 4 * (size_t)i), r, 0,
                                QS_SVD_MAX_RANK);
        buf[i] = (int16_t)r;
    }
    c->svd_nrank = (int32_t)(len / 4);
    c->svd_rank = buf;
    return QS_OK;
}

int qs_ck_svd_same(const qs_model_cfg *ck, const qs_model_cfg *want, const char *what)
{
    int n = ck->svd_nrank > want->svd_nrank ? ck->svd_nrank : want->svd_nrank;
    for (int i = 0; i < n; i++) {
        int a = i < ck->svd_nrank ? ck->svd_rank[i] : 0;
        int b = i < want->svd_nrank ? want->svd_rank[i] : 0;
        if (a != b)
            return qs_err(QS_EINVAL, "%s: weight layer %d has SVD rank %d (0: not factored), this "
                          "phase's model has rank %d there", what, i, a, b);
    }
    return QS_OK;
}
