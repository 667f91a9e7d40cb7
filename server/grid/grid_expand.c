/* Grid expansion: every combination of the axes (crossed with each case and
 * each dataset), minus exclusions, becomes up to three phases:
 *   float   per (dataset, arch, block, depth, width, residual, seed),
 *           shared by every quantized variant of that model;
 *   retrain per (wbits, abits) != (32, 32) x regularizer x quantizer,
 *           parent = float;
 *   clr     when the combination has clr true, parent = that retrain;
 *   ptq     instead of retrain and clr when the method is ptq, per
 *           (wbits, abits) x rounding x equalize, parent = float
 *           (regularizer, clr and quantizer do not apply to it);
 *   compress per value of the "compress" block, parent = float.
 * A phase is identified by the hash of its job JSON (every effective setting,
 * keys sorted) plus its parent's id, so equal work is found again across
 * runs, grids and sweeps, and any change of setting (threads included)
 * makes a new phase. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_model.h"
#include "err.h"
#include "grid_int.h"
#include "hash.h"
#include "jsonw.h"
#include "ptq.h"

/* Beyond this a grid is almost certainly a mistake (and would not fit the
 * database or a lifetime of compute). */
#define GX_MAX_COMBOS 10000000.0
/* A ptq phase's cost in calibration-set forwards (float statistics,
 * calibration, scoring, bias correction's per-layer passes): a rough
 * figure for ordering and progress only. */
#define QS_GX_PTQ_PASSES 8.0

typedef struct {
    qs_grid *g;
    int cap;
    gx_memo mm;
    gx_proto *protos;       /* [dataset][protocol combination][phase] */
    char beta[40];          /* lipschitz.beta, formatted */
    /* The previous combination's float and retrain: consecutive
     * combinations differ in the innermost axes (bits, regularizer, clr)
     * and mostly share them, so they are not rebuilt and hashed again. */
    int last_ds, last_f, last_r, last_r_reg, last_r_wb, last_r_ab, last_r_q;
    qs_model_cfg last_mc;
    long long last_seed;
} ctx;

/* The protocol of phase kind ph in protocol set ps (dataset x protocol
 * combination). */
static const gx_proto *proto_of(const ctx *x, int ps, qs_phase ph)
{
    return &x->protos[QS_NPHASES * ps + ph];
}

/* Adds (or finds) one phase of protocol pr; *out = its index. */
static int add_job(int *out, ctx *x, const gx_spec *s, const gx_dataset *d, const gx_proto *pr,
                   const qs_model_cfg *mc, qs_phase ph, long long seed, int reg, int parent)
{
    int rc;
    qs_grid *g = x->g;
    char cfg[2048], id[QS_PHASE_ID_LEN + 1];
    qs_hash128 h;
    const int lipschitz = (ph == QS_PHASE_RETRAIN || ph == QS_PHASE_CLR) && reg == GX_REG_LIPSCHITZ;
    const char *lip = lipschitz ? x->beta : "0";
    if ((rc = qs_gx_job_config(cfg, sizeof cfg, s, d, mc, ph, pr, seed, lip)))
        return rc;
    /* A copy: g->jobs may move when it grows below. */
    char pid[QS_PHASE_ID_LEN + 1] = "";
    if (parent >= 0)
        memcpy(pid, g->jobs[parent].id, sizeof pid);
    qs_hash128_init(&h, 0x71737765657031ULL); /* "qsweep1" */
    qs_hash128_update(&h, cfg, strlen(cfg));
    qs_hash128_update(&h, "\n", 1);
    qs_hash128_update(&h, pid, strlen(pid));
    qs_hash128_hex(id, &h);
    if ((*out = qs_grid_find(g, id)) >= 0)
        return QS_OK;

    const gx_memo_ent *info = qs_gx_model_info(&x->mm, mc);
    if (!info)
        return qs_err(QS_ENOMEM, "out of memory");
    if (info->rc)
        return qs_err(QS_EINTERNAL, "model checked valid, then not: %s", info->msg);
    /* Checked as phases are made: about 1 KB each, so the refusal comes
     * at about 0.5 GB instead of wherever the combinations would end. */
    if (g->njobs >= QS_GRID_MAX_PHASES)
        return qs_err(QS_EINVAL, "more than %d phases (the limit of one grid)",
                      QS_GRID_MAX_PHASES);
    if (g->njobs == x->cap) {
        int cap = x->cap ? 2 * x->cap : 256;
        qs_grid_job *nj = realloc(g->jobs, (size_t)cap * sizeof *nj);
        if (!nj)
            return qs_err(QS_ENOMEM, "out of memory: %d phases", g->njobs);
        g->jobs = nj;
        x->cap = cap;
    }
    qs_grid_job *j = &g->jobs[g->njobs];
    memset(j, 0, sizeof *j);
    if (!(j->config = strdup(cfg)))
        return qs_err(QS_ENOMEM, "out of memory");
    memcpy(j->id, id, sizeof j->id);
    snprintf(j->parent, sizeof j->parent, "%s", pid);
    j->phase = ph;
    j->model = *mc;
    qs_model_name(j->model_name, sizeof j->model_name, mc);
    j->data = d->kind;
    j->params = info->nparams;
    j->seed = seed;
    j->threads = s->threads;
    j->epochs = pr->c.epochs;
    snprintf(j->regularizer, sizeof j->regularizer, "%s", lipschitz ? "lipschitz" : "none");
    j->clr = ph == QS_PHASE_CLR;
    j->train_images = qs_gx_train_images(s, d);
    j->gflop = (double)pr->c.epochs * j->train_images * info->cost.train_flop / 1e9;
    if (ph == QS_PHASE_PTQ) /* forwards over the calibration images, a handful of passes */
        j->gflop = QS_GX_PTQ_PASSES * 2.0 * pr->c.ptq.calib_images * info->cost.macs / 1e9;
    j->model_bits = info->cost.model_bits;
    j->bops = info->cost.bops;
    if (qs_gx_index_insert(g, g->njobs)) {
        free(j->config);
        return qs_err(QS_ENOMEM, "out of memory");
    }
    *out = g->njobs++;
    return QS_OK;
}

/* ---------------------------------------------------------- combinations */

static int value_match(const gx_list *l, int k, const gx_val *v, long long arch, int width)
{
    for (int i = 0; i < l->n; i++) {
        const gx_val *e = &l->v[i];
        /* v NULL: the key is not given (its default is the arch's). */
        if (k == AX_ARCH ? e->i == arch
            : k == AX_WIDTH ? (e->params > 0 ? v && e->params == v->params : e->i == width)
            : !v ? 0
            : k == AX_BLOCKS || k == AX_WMULT ? qs_gx_model_value_eq(k, e, v)
                                              : e->i == v->i)
            return 1;
    }
    return 0;
}

static int excluded(const gx_spec *s, const gx_val *const *v, long long arch, int width)
{
    for (int i = 0; i < s->nex; i++) {
        const gx_exclude *x = &s->ex[i];
        int all = x->set != 0;
        for (int k = 0; all && k < AX_N; k++)
            if (x->set & (1u << k))
                all = value_match(&x->k[k], k, v[k], arch, width);
        if (all)
            return 1;
    }
    return 0;
}

/* The ptq child of float phase f for combination v (mc: its bits). Its
 * own checks: 2 weight bits at least (the LSQ form the result is held
 * in), and calibration images the training set has. */
static int ptq_job(ctx *x, const gx_spec *s, const gx_dataset *d, int ps, qs_model_cfg *mc,
                   const gx_val *const *v, long long seed, int f, gx_errs *e)
{
    gx_proto pr;
    int p;
    if (mc->wbits < 32 && (mc->wbits < 2 || mc->first_last_bits < 2)) {
        qs_gx_err(e, v[AX_METHOD]->path[0] ? v[AX_METHOD]->path : v[AX_WBITS]->path,
                  "\"ptq\" needs at least 2 weight bits (this combination has wbits %d, "
                  "quant.first_last_bits %d; exclude it)", mc->wbits, mc->first_last_bits);
        return QS_OK;
    }
    qs_gx_proto_ptq(&pr, proto_of(x, ps, QS_PHASE_PTQ), (int)v[AX_ROUND]->i, (int)v[AX_EQUAL]->i);
    int n = qs_gx_train_images(s, d);
    if (pr.c.ptq.calib_images > n) {
        char path[GX_PATH_LEN + 32];
        if (qs_js_isset(&d->ov[QS_PHASE_PTQ], QS_JS_CALIB_IMAGES))
            snprintf(path, sizeof path, "%s.ptq.calib_images", d->jpath);
        else
            snprintf(path, sizeof path, "ptq.calib_images");
        qs_gx_err(e, path, "%d calibration images is more than the %d training images of "
                  "\"%s\"", pr.c.ptq.calib_images, n, qs_data_kind_name(d->kind));
        return QS_OK;
    }
    qs_ptq_model_cfg(mc, &pr.c.ptq);
    return add_job(&p, x, s, d, &pr, mc, QS_PHASE_PTQ, seed, GX_REG_NONE, f);
}

/* One combination: validates its model and adds its phases. */
static int combo(ctx *x, const gx_spec *s, const gx_dataset *d, int ps,
                 const gx_val *const *v, gx_errs *e)
{
    long long arch = v[AX_ARCH] ? v[AX_ARCH]->i
                                : (d->kind == QS_DATA_SYNTHETIC ? QS_ARCH_FCDNN : QS_ARCH_RESNET);
    if (!qs_gx_arch_fits(arch, d->kind))
        return QS_OK; /* reported once for the arch value, or another dataset's */
    /* wb, ab: a width, or GX_BITS_LEARNED (kept so, distinct from 8, for
     * the retrain cache below); the model plans a learned side at 8. */
    int wb = (int)v[AX_WBITS]->i, ab = (int)v[AX_ABITS]->i;
    int learn = (wb == GX_BITS_LEARNED ? QS_BP_LEARN_W : 0) |
                (ab == GX_BITS_LEARNED ? QS_BP_LEARN_A : 0);
    int reg = (int)v[AX_REG]->i, clr = (int)v[AX_CLR]->i;
    qs_quantizer q = (qs_quantizer)v[AX_QUANT]->i;
    /* grid.md: the float phase with a regularizer, CLR or a quantizer other
     * than the default means nothing; the combination is dropped rather
     * than reported. */
    if (wb == 32 && ab == 32 && (reg != GX_REG_NONE || clr || q != QS_QUANT_HWANG_PACT))
        return QS_OK;

    qs_model_cfg mc;
    const char *err, *err_path;
    int skip;
    if (qs_gx_combo_model(&mc, &x->mm, s, d, arch, v, &skip, &err, &err_path))
        return qs_err(QS_ENOMEM, "out of memory");
    if (skip)
        return QS_OK;
    if (excluded(s, v, arch, err ? 0 : mc.width))
        return QS_OK;
    if (err) {
        /* "depth 21 is not 6n+2 ..." at the depth's own path; the message
         * names the block, which may come from another axis. */
        qs_gx_err(e, err_path, "%s", err);
        return QS_OK;
    }
    /* Learned widths have their own interpolated quantizers. */
    if (q == QS_QUANT_LSQ && learn) {
        qs_gx_err(e, v[AX_QUANT]->path, "\"lsq+\" does not learn bit widths (\"learned\" "
                  "wbits / abits take the default quantizer, hwang-pact; exclude it)");
        return QS_OK;
    }
    /* Symmetric LSQ has no 1-bit form (the model refuses it too). */
    if (q == QS_QUANT_LSQ && wb < 32 && (wb == 1 || s->first_last_bits == 1)) {
        qs_gx_err(e, v[AX_QUANT]->path, "\"lsq+\" needs at least 2 weight bits (this "
                  "combination has wbits %d, quant.first_last_bits %d; exclude it)", wb,
                  s->first_last_bits);
        return QS_OK;
    }

    long long seed = v[AX_SEED]->i;
    int f, r, c, rc;
    if (x->last_f >= 0 && x->last_ds == ps && x->last_seed == seed &&
        memcmp(&x->last_mc, &mc, sizeof mc) == 0) {
        f = x->last_f;
    } else {
        if ((rc = add_job(&f, x, s, d, proto_of(x, ps, QS_PHASE_FLOAT), &mc, QS_PHASE_FLOAT,
                          seed, GX_REG_NONE, -1)))
            return rc;
        /* the compress children of this float phase, one per value */
        for (int k = 0; k < s->ncompress; k++) {
            gx_proto pr;
            int cp;
            qs_gx_proto_compress(&pr, proto_of(x, ps, QS_PHASE_COMPRESS), s, s->compress_v[k]);
            if ((rc = add_job(&cp, x, s, d, &pr, &mc, QS_PHASE_COMPRESS, seed, GX_REG_NONE, f)))
                return rc;
        }
        x->last_f = f;
        x->last_r = -1;
        x->last_ds = ps;
        x->last_seed = seed;
        x->last_mc = mc;
    }
    if (wb == 32 && ab == 32)
        return QS_OK;
    mc.wbits = learn & QS_BP_LEARN_W ? QS_BP_BMAX : wb;
    mc.abits = learn & QS_BP_LEARN_A ? QS_BP_BMAX : ab;
    if (learn) {
        mc.bp_learned = learn;
        mc.bp_bmin = s->bp_bmin;
        mc.bp_init = s->bp_init;
    }
    if (v[AX_METHOD]->i == GX_METHOD_PTQ)
        return ptq_job(x, s, d, ps, &mc, v, seed, f, e);
    /* The quantizer belongs to the quantized phases only: both quantizers'
     * retrains share one float parent. */
    mc.quantizer = q;
    if (q == QS_QUANT_LSQ) {
        mc.lsq_per_channel = s->lsq_per_channel;
        mc.lsq_winit = s->lsq_winit;
    }
    if (x->last_r >= 0 && x->last_r_wb == wb && x->last_r_ab == ab && x->last_r_reg == reg &&
        x->last_r_q == (int)q) {
        r = x->last_r;
    } else {
        if ((rc = add_job(&r, x, s, d, proto_of(x, ps, QS_PHASE_RETRAIN), &mc,
                          QS_PHASE_RETRAIN, seed, reg, f)))
            return rc;
        x->last_r = r;
        x->last_r_wb = wb;
        x->last_r_ab = ab;
        x->last_r_reg = reg;
        x->last_r_q = (int)q;
    }
    if (clr && (rc = add_job(&c, x, s, d, proto_of(x, ps, QS_PHASE_CLR), &mc, QS_PHASE_CLR,
                             seed, reg, r)))
        return rc;
    return QS_OK;
}

/* Some arch the case may have cannot do without key k (depth, width):
 * the case's arch, else the arch axis, else the default (which needs
 * both); an arch read badly counts as needing it. */
static int case_needs(const gx_spec *s, const gx_case *cs, int k)
{
    const unsigned bit = 1u << AX_ARCH;
    if (cs->set & bit)
        return qs_gx_arch_needs(cs->v[AX_ARCH].i, k);
    if ((cs->bad | s->axes_bad) & bit)
        return 1;
    if (!s->axes[AX_ARCH].n)
        return 1;
    for (int i = 0; i < s->axes[AX_ARCH].n; i++)
        if (qs_gx_arch_needs(s->axes[AX_ARCH].v[i].i, k))
            return 1;
    return 0;
}

static const gx_val *default_val(int k)
{
    static gx_val defs[AX_N];
    static int init;
    if (!init) {
        /* grid.md: regularizer none, clr false, seed 1, residual false,
         * wbits 32, abits 32, quantizer hwang-pact (0); block basic
         * (ignored by fcdnn). */
        defs[AX_BLOCK].i = QS_BLOCK_BASIC;
        defs[AX_WBITS].i = 32;
        defs[AX_ABITS].i = 32;
        defs[AX_SEED].i = 1;
        init = 1;
    }
    return &defs[k];
}

/* Expansion also checks a grid that already has problems (grid.md: every
 * problem at once): what was read badly is left out or stood in for, so
 * the model rules (a depth that does not fit its block, a width budget no
 * width meets) are still checked on the rest. Such an expansion only
 * reports; the grid is refused. */
int qs_gx_expand(qs_grid *g, const gx_spec *s, gx_errs *e)
{
    ctx x;
    int rc = QS_OK;
    gx_dataset defds, *good = NULL;
    gx_spec nopax;
    const gx_dataset *ds = s->ds;
    int nds = s->nds;
    const gx_case none = {0};
    memset(&x, 0, sizeof x);
    x.g = g;
    if (s->pax_bad) {
        /* The protocol axes change protocols, never a model: leave them out. */
        nopax = *s;
        nopax.npax = 0;
        s = &nopax;
    }
    if (s->ds_bad && nds > 0) {
        /* Only the entries read whole; none left: the stand-in below. */
        if (!(good = malloc((size_t)nds * sizeof *good)))
            return qs_err(QS_ENOMEM, "out of memory");
        int n = 0;
        for (int i = 0; i < s->nds; i++)
            if (!s->ds[i].bad)
                good[n++] = s->ds[i];
        ds = good;
        nds = n;
    }

    /* Every arch value given anywhere. */
    const gx_val *archs[256];
    int narch = 0;
    for (int i = 0; i < s->axes[AX_ARCH].n && narch < 256; i++)
        archs[narch++] = &s->axes[AX_ARCH].v[i];
    for (int i = 0; i < s->ncases && narch < 256; i++)
        if (s->cases[i].set & (1u << AX_ARCH))
            archs[narch++] = &s->cases[i].v[AX_ARCH];

    if (nds == 0) {
        /* No dataset: the one every arch fits (synthetic for fcdnn grids,
         * else the paper's CIFAR-10). */
        int all_fc = narch > 0;
        for (int i = 0; i < narch; i++)
            all_fc &= archs[i]->i == QS_ARCH_FCDNN;
        memset(&defds, 0, sizeof defds);
        defds.kind = all_fc ? QS_DATA_SYNTHETIC : QS_DATA_CIFAR10;
        snprintf(defds.jpath, sizeof defds.jpath, "dataset");
        ds = &defds;
        nds = 1;
    }
    if (!s->ds_bad)
        for (int i = 0; i < narch; i++) {
            int fits = 0;
            for (int j = 0; j < nds; j++)
                fits |= qs_gx_arch_fits(archs[i]->i, ds[j].kind);
            if (!fits) {
                char have[128] = "";
                for (int j = 0; j < nds; j++)
                    snprintf(have + strlen(have), sizeof have - strlen(have), "%s\"%s\"",
                             j ? ", " : "", qs_data_kind_name(ds[j].kind));
                qs_gx_err(e, archs[i]->path, "\"%s\" needs %s data (this grid has %s)",
                          qs_arch_name((qs_arch)archs[i]->i), qs_gx_arch_data(archs[i]->i),
                          have);
            }
        }

    /* depth and width have no default: axes or every case. */
    const int required[2] = {AX_DEPTH, AX_WIDTH};
    for (int r = 0; r < 2; r++) {
        int k = required[r];
        unsigned bit = 1u << k;
        if ((s->axes_set | s->axes_bad) & bit)
            continue;
        if (s->ncases == 0 && case_needs(s, &none, k)) {
            char p[GX_PATH_LEN];
            snprintf(p, sizeof p, "axes.%s", qs_gx_axis_names[k]);
            qs_gx_err(e, p, "missing (give %s in axes or in every case)", qs_gx_axis_names[k]);
        }
        for (int i = 0; i < s->ncases; i++)
            if (!((s->cases[i].set | s->cases[i].bad) & bit) && case_needs(s, &s->cases[i], k)) {
                char p[GX_PATH_LEN + 16];
                snprintf(p, sizeof p, "%s.%s", s->cases[i].path, qs_gx_axis_names[k]);
                qs_gx_err(e, p, "missing (%s is not an axis, so every case needs it)",
                          qs_gx_axis_names[k]);
            }
    }

    /* Protocol combinations: the product of the protocol axes. */
    int npc = 1;
    for (int i = 0; i < s->npax; i++) {
        if ((double)npc * s->pax[i].n > GX_MAX_PCOMBOS) {
            qs_gx_err(e, "axes", "the protocol axes make more than %d protocol combinations",
                      GX_MAX_PCOMBOS);
            goto cleanup;
        }
        npc *= s->pax[i].n;
    }
    if (!(x.protos = calloc((size_t)nds * npc * QS_NPHASES, sizeof *x.protos))) {
        rc = qs_err(QS_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (int di = 0; di < nds; di++)
        for (int pc = 0; pc < npc; pc++)
            for (int ph = 0; ph < QS_NPHASES; ph++)
                qs_gx_proto_init(&x.protos[QS_NPHASES * (di * npc + pc) + ph], s, &ds[di],
                                 (qs_phase)ph, pc);
    qs_fmt_num(x.beta, sizeof x.beta, s->beta);
    x.last_f = x.last_r = -1;

    int ncase = s->ncases ? s->ncases : 1;
    double total = 0;
    for (int di = 0; di < nds; di++)
        for (int ci = 0; ci < ncase; ci++) {
            const gx_case *cs = s->ncases ? &s->cases[ci] : &none;
            double p = 1;
            for (int k = 0; k < AX_N; k++)
                if (!(cs->set & (1u << k)) && s->axes[k].n > 0)
                    p *= s->axes[k].n;
            total += p;
        }
    total *= npc;
    if (total > GX_MAX_COMBOS) {
        qs_gx_err(e, "axes", "%.0f combinations is more than the %.0f allowed", total,
                  GX_MAX_COMBOS);
        goto cleanup;
    }

    for (int ps = 0; ps < nds * npc && rc == QS_OK; ps++)
        for (int ci = 0; ci < ncase && rc == QS_OK; ci++) {
            int di = ps / npc;
            const gx_case *cs = s->ncases ? &s->cases[ci] : &none;
            const gx_val *lists[AX_N];
            int lens[AX_N], idx[AX_N], skip = 0;
            for (int k = 0; k < AX_N; k++) {
                unsigned bit = 1u << k;
                idx[k] = 0;
                if (cs->set & bit) {
                    lists[k] = &cs->v[k];
                    lens[k] = 1;
                } else if (s->axes[k].n > 0) {
                    lists[k] = s->axes[k].v;
                    lens[k] = s->axes[k].n;
                } else if (k <= AX_WIDTH && ((cs->bad | s->axes_bad) & bit)) {
                    /* Arch, block, depth and width decide the model rules:
                     * read badly, there is nothing to check (the problem
                     * is reported). */
                    skip = 1;
                    break;
                } else {
                    /* NULL: not given; the arch's default, or missing
                     * where the arch needs it (reported). */
                    lists[k] = k == AX_ARCH || k == AX_DEPTH || k == AX_WIDTH ||
                               k == AX_BLOCKS || k == AX_WMULT ? NULL : default_val(k);
                    lens[k] = 1;
                }
            }
            if (skip)
                continue;
            for (;;) {
                const gx_val *v[AX_N];
                for (int k = 0; k < AX_N; k++)
                    v[k] = lists[k] ? &lists[k][idx[k]] : NULL;
                if ((rc = combo(&x, s, &ds[di], ps, v, e)))
                    break;
                /* Next combination, the quantization axes fastest so the
                 * float phase of one model is found once, not per variant. */
                static const int order[AX_N] = {AX_ARCH, AX_BLOCK, AX_DEPTH, AX_WIDTH,
                                                AX_BLOCKS, AX_WMULT, AX_RESIDUAL, AX_SEED, AX_METHOD, AX_QUANT,
                                                AX_ROUND, AX_EQUAL, AX_WBITS, AX_ABITS,
                                                AX_REG, AX_CLR};
                int q = AX_N - 1;
                while (q >= 0 && ++idx[order[q]] == lens[order[q]])
                    idx[order[q--]] = 0;
                if (q < 0)
                    break;
            }
        }
    if (rc == QS_EINVAL) {
        /* The phase limit: a problem of the grid, reported with the others. */
        qs_gx_err(e, "axes", "%s", qs_errmsg());
        rc = QS_OK;
        goto cleanup;
    }
    if (rc != QS_OK)
        goto cleanup;
    if (e->n == 0 && g->njobs == 0)
        qs_gx_err(e, "exclude", "every combination is excluded: the grid has no phases");
    if (e->n == 0)
        rc = qs_gx_sort_jobs(g);
cleanup:
    qs_gx_memo_free(&x.mm);
    free(x.protos);
    free(good);
    if (rc != QS_OK)
        rc = qs_err_wrap(rc, "expanding grid %s", e->file);
    return rc;
}
