/* `qsweep train`: one phase, no MPI; JSON lines on stdout. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bp_model.h"
#include "cmd.h"
#include "err.h"
#include "gemm.h"
#include "io.h"
#include "job.h"
#include "opts.h"
#include "ptq.h"
#include "simd.h"
#include "svd_model.h"
#include "train.h"

int qs_exit_status(int rc)
{
    switch (rc) {
    case QS_OK: return QS_EXIT_OK;
    case QS_EINVAL: case QS_EIO: case QS_EFORMAT: case QS_EBUSY: return QS_EXIT_USAGE;
    case QS_EINTR: return QS_EXIT_SIGNAL;
    default: return QS_EXIT_FAILED;
    }
}

typedef struct {
    qs_trainer *t;
    const char *save;
    char model[64];
    int save_rc;
    qs_model_cost cost;    /* model_bits and bops of this phase's bits */
    qs_svd_result svd;     /* compress: the counts of the factoring */
} train_ctx;

/* Floats as JSON: NaN/inf are not JSON, so they become null. */
static void jnum(const char *key, double v, const char *fmt)
{
    if (isfinite(v)) {
        printf(",\"%s\":", key);
        printf(fmt, v);
    } else {
        printf(",\"%s\":null", key);
    }
}

static int on_epoch(void *user, const qs_epoch_metrics *m)
{
    train_ctx *c = user;
    printf("{\"phase\":\"%s\",\"epoch\":%d,\"epochs\":%d", m->phase, m->epoch, m->epochs);
    jnum("lr", m->lr, "%.6g");
    jnum("train_loss", m->train_loss, "%.6f");
    jnum("train_acc", m->train_acc, "%.2f");
    jnum("test_loss", m->test_loss, "%.6f");
    jnum("test_acc", m->test_acc, "%.2f");
    jnum("seconds", m->seconds, "%.3f");
    jnum("img_per_s", m->img_per_s, "%.1f");
    if (c->t->cfg.lipschitz > 0 && c->t->cfg.phase != QS_PHASE_FLOAT)
        jnum("lipschitz", m->lipschitz, "%.6g");
    if (c->t->train->kind == QS_DATA_IMAGENET)
        printf(",\"skipped\":%d", m->skipped);
    /* Size and cost of the model as this phase quantizes it (methods.md
     * section 8): the same on every line, so any line describes the run;
     * with learned widths, at this epoch's widths (rounded up) and with
     * their means and values. */
    if (c->t->model.nbits > 0) {
        double mw, ma;
        qs_model_cost_of(&c->cost, &c->t->model);
        qs_bp_mean_bits(&mw, &ma, &c->t->model);
        jnum("mean_wbits", mw, "%.4g");
        jnum("mean_abits", ma, "%.4g");
        printf(",\"bits\":[");
        for (long l = 0; l < c->t->model.nbits; l++)
            printf("%s%.4g", l ? "," : "",
                   (double)c->t->model.param[c->t->model.nparam - c->t->model.nbits + l]);
        printf("]");
    }
    jnum("model_bits", c->cost.model_bits, "%.0f");
    jnum("bops", c->cost.bops, "%.0f");
    if (c->t->cfg.phase == QS_PHASE_COMPRESS) { /* the factoring's size and ranks */
        const qs_model_cfg *mc = &c->t->mcfg;
        char label[96];
        qs_svd_label(label, sizeof label, &c->t->cfg.svd);
        /* ranks as "0,6,7": the lines stay flat objects */
        printf(",\"compress\":\"%s\",\"params\":%ld,\"params_before\":%ld,\"ranks\":\"", label,
               c->t->model.nparam - c->t->model.nalpha, c->svd.params_before);
        for (int l = 0; l < mc->svd_nrank; l++)
            printf("%s%d", l ? "," : "", mc->svd_rank[l]);
        printf("\"");
    }
    printf(",\"model\":\"%s\",\"wbits\":%d,\"abits\":%d}\n", c->model, c->t->mcfg.wbits,
           c->t->mcfg.abits);
    fflush(stdout);
    qs_job_warn_skipped("qsweep train", m);
    /* The latest checkpoint after every epoch: a killed run loses at most
     * one epoch. */
    if (c->save && (c->save_rc = qs_trainer_save(c->t, c->save)) != QS_OK)
        return 1;
    return 0;
}

/* Predictions on the 256 x 256 grid set as a binary PGM (label 1 = white),
 * viewable as an image: the paper's decision maps. */
static int write_decision_map(qs_trainer *t, const char *path, const qs_synth_cfg *synth)
{
    qs_dataset grid;
    uint8_t *labels = NULL;
    FILE *f = NULL;
    int rc = qs_data_synth_grid(&grid, synth);
    if (rc)
        return rc;
    labels = malloc((size_t)grid.n);
    if (!labels) {
        rc = qs_err(QS_ENOMEM, "out of memory for the decision map");
        goto cleanup;
    }
    if ((rc = qs_trainer_predict(t, &grid, labels)))
        goto cleanup;
    for (int i = 0; i < grid.n; i++)
        labels[i] = labels[i] ? 255 : 0;
    f = fopen(path, "wb");
    if (!f) {
        rc = qs_err(QS_EIO, "--decision-map %s: cannot write", path);
        goto cleanup;
    }
    fprintf(f, "P5\n256 256\n255\n");
    if (fwrite(labels, 1, (size_t)grid.n, f) != (size_t)grid.n)
        rc = qs_err(QS_EIO, "--decision-map %s: write failed", path);
cleanup:
    if (f && fclose(f) != 0 && rc == QS_OK)
        rc = qs_err(QS_EIO, "--decision-map %s: write failed", path);
    free(labels);
    qs_data_free(&grid);
    return rc;
}

/* The flags are the job spec's (worker/job/opts.c), listed by its usage. */
static const qs_cmd_spec train_spec = {"train", NULL, NULL, NULL, 0, 0, qs_job_opts_usage};

int qs_cmd_train(int argc, char **argv)
{
    qs_job_opts o;
    qs_train_cfg cfg;
    qs_dataset train = {0}, test = {0};
    qs_trainer t;
    train_ctx ctx = {0};
    int rc, trainer_ready = 0;

    memset(&t, 0, sizeof t);
    qs_job_opts_default(&o);
    if ((rc = qs_args_meta(&train_spec, argc, argv)) >= 0)
        return rc;
    if ((rc = qs_job_opts_parse(&o, argc, argv, 0)) || (rc = qs_job_opts_resolve(&o, &cfg)))
        return qs_args_fail(&train_spec, "%s", qs_errmsg());
    if ((o.model.arch == QS_ARCH_IMNET_RESNET || o.model.arch == QS_ARCH_MOBILENETV2) &&
        !o.have_data) {
        fprintf(stderr, "qsweep train: --model %s needs --data (imagenet --data-dir ROOT, "
                "cifar10 or fashion-mnist)\n",
                o.model.arch == QS_ARCH_MOBILENETV2 ? "mobilenetv2" : "imagenet-resnet");
        return 2;
    }
    if (o.phase != QS_PHASE_FLOAT && !o.from && !o.resume) {
        fprintf(stderr, "qsweep train: --phase %s needs --from CHECKPOINT (the %s phase's)\n",
                qs_phase_name(o.phase), o.phase == QS_PHASE_CLR ? "retrain" : "float");
        return 2;
    }
    if (o.phase == QS_PHASE_COMPRESS && o.resume && !o.from) {
        fprintf(stderr, "qsweep train: --phase compress --resume needs --from FLOAT.ck too "
                "(the ranks are recomputed from it and checked against the checkpoint's)\n");
        return 2;
    }
    if (o.phase == QS_PHASE_PTQ && (o.resume || o.stop_after)) {
        fprintf(stderr, "qsweep train: --phase ptq runs in one piece: no --resume or "
                "--stop-after\n");
        return 2;
    }
    if (o.decision_map && o.data != QS_DATA_SYNTHETIC) {
        fprintf(stderr, "qsweep train: --decision-map needs --data synthetic\n");
        return 2;
    }
    /* Every input is checked before any training starts, the output
     * checkpoint's directory included. */
    if (o.save) {
        char tmp[4096];
        if (qs_check_output(o.save, "--save")) {
            fprintf(stderr, "qsweep train: %s\n", qs_errmsg());
            return 2;
        }
        snprintf(tmp, sizeof tmp, "%s.tmp", o.save);
        FILE *f = fopen(tmp, "wb");
        if (!f) {
            fprintf(stderr, "qsweep train: --save %s: cannot write %s: %s\n", o.save, tmp,
                    strerror(errno));
            return 2;
        }
        fclose(f);
        remove(tmp);
    }
    if ((rc = qs_job_data_load(&train, &test, &o)))
        goto done;
    if ((rc = qs_trainer_init(&t, &o.model, &cfg, &train, &test)))
        goto done;
    trainer_ready = 1;
    if (o.phase == QS_PHASE_COMPRESS) {
        /* factored before a resume too: the checkpoint's ranks must be the
         * ones this job's settings give its parent (BN re-estimated only
         * when starting afresh: a resume restores the statistics) */
        if ((rc = qs_trainer_load_parent(&t, o.from)) ||
            (rc = qs_svd_compress_trainer(&ctx.svd, &t, !o.resume)))
            goto done;
        char sum[128];
        qs_svd_rank_summary(sum, sizeof sum, &t.mcfg);
        fprintf(stderr, "qsweep train: %s: %ld -> %ld params (%.1f %%), kept energy %.4g, "
                "worst layer error %.3g, %.2f s\n", sum, ctx.svd.params_before,
                ctx.svd.params_after, 100.0 * ctx.svd.params_after / ctx.svd.params_before,
                ctx.svd.energy, ctx.svd.worst_err, ctx.svd.seconds);
    }
    if (o.resume) {
        rc = qs_trainer_resume(&t, o.resume);
        /* The checkpoint's plan wins; a different horizon is a mistake. */
        int epochs = qs_js_isset(&o.proto, QS_JS_EPOCHS) ? (int)o.proto.v[QS_JS_EPOCHS] : 0;
        if (rc == QS_OK && epochs > 0 && epochs != t.cfg.epochs)
            rc = qs_err(QS_EINVAL, "--epochs %d differs from the plan in %s (%d epochs); "
                        "--resume continues that plan", epochs, o.resume, t.cfg.epochs);
        else if (rc == QS_OK)
            fprintf(stderr, "qsweep train: resuming %s at epoch %d of %d with its saved "
                    "settings (seed, schedule, threads)\n", o.resume, t.epoch_done,
                    t.cfg.epochs);
    } else if (o.from && o.phase != QS_PHASE_COMPRESS)
        rc = qs_trainer_load_parent(&t, o.from);
    if (rc)
        goto done;
    ctx.t = &t;
    ctx.save = o.save;
    qs_model_name(ctx.model, sizeof ctx.model, &t.mcfg);
    if ((rc = qs_model_cost_get(&ctx.cost, &t.mcfg)))
        goto done;
    fprintf(stderr, "qsweep train: %s, %ld params, %s phase, %d epochs, batch %d, %d thread(s), "
            "%d train / %d test examples%s%s; kernels %s%s, BLAS %s %s\n", ctx.model,
            t.model.nparam - t.model.nalpha, qs_phase_name(t.cfg.phase), t.cfg.epochs,
            t.cfg.batch, t.cfg.threads, train.n, test.n, t.epoch_done ? " (resumed)" : "",
            t.mcfg.quantizer == QS_QUANT_LSQ && t.cfg.phase != QS_PHASE_PTQ ? ", quantizer lsq+" : "",
            qs_kpath_name(qs_simd_path()), qs_simd_winograd_env() ? "" : " (winograd off)",
            qs_blas_name(), qs_blas_core());
    rc = o.phase == QS_PHASE_PTQ        ? qs_ptq_phase(&t, on_epoch, &ctx)
         : o.phase == QS_PHASE_COMPRESS ? qs_svd_phase(&t, o.stop_after, on_epoch, &ctx)
                                        : qs_trainer_run(&t, o.stop_after, on_epoch, &ctx);
    if (rc == QS_OK && ctx.save_rc)
        rc = ctx.save_rc;
    if (rc == QS_OK && o.decision_map)
        rc = write_decision_map(&t, o.decision_map, &o.synth);
done:
    if (rc == QS_EDIVERGED) {
        printf("{\"phase\":\"%s\",\"epoch\":%d,\"status\":\"failed\",\"error\":\"diverged\"}\n",
               qs_phase_name(cfg.phase), t.epoch_done + 1);
        fflush(stdout);
    }
    if (rc)
        fprintf(stderr, "qsweep train: %s\n", qs_errmsg());
    if (trainer_ready)
        qs_trainer_free(&t);
    qs_data_free(&train);
    qs_data_free(&test);
    return qs_exit_status(rc);
}
