#include "clock.h"
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "err.h"
#include "opts.h"
#include "ptq.h"
#include "svd_model.h"

void qs_data_cache_free(qs_data_cache *c)
{
    if (c->loaded) {
        qs_data_free(&c->train);
        qs_data_free(&c->test);
    }
    memset(c, 0, sizeof *c);
}

void qs_job_result_free(qs_job_result *r)
{
    free(r->ckpt);
    free(r->dmap);
    memset(r, 0, sizeof *r);
}

int qs_job_data_load(qs_dataset *train, qs_dataset *test, const qs_job_opts *o)
{
    int rc = qs_data_check(o->data, o->data_dir);
    if (rc)
        return rc;
    if (o->data == QS_DATA_IMAGENET)
        return qs_data_load_imnet(train, test, o->data_dir,
                                  o->image_size ? o->image_size : 224, o->train_limit,
                                  o->test_limit);
    return qs_data_load(train, test, o->data, o->data_dir, o->train_limit, o->test_limit,
                        &o->synth);
}

void qs_job_warn_skipped(const char *who, const qs_epoch_metrics *m)
{
    if (m->skipped > 0)
        fprintf(stderr, "%s: warning: epoch %d skipped %d file(s) that are not decodable "
                "JPEGs (latest: %s)\n", who, m->epoch, m->skipped,
                m->skip_msg ? m->skip_msg : "");
}

static int cache_get(qs_data_cache *c, const qs_job_opts *o)
{
    const char *dir = o->data_dir ? o->data_dir : "";
    if (c->loaded && c->kind == o->data && strcmp(c->dir, dir) == 0 &&
        c->train_limit == o->train_limit && c->test_limit == o->test_limit &&
        c->image_size == o->image_size && memcmp(&c->synth, &o->synth, sizeof c->synth) == 0)
        return QS_OK;
    qs_data_cache_free(c);
    int rc = qs_job_data_load(&c->train, &c->test, o);
    if (rc)
        return rc;
    c->loaded = 1;
    c->kind = o->data;
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    c->train_limit = o->train_limit;
    c->test_limit = o->test_limit;
    c->image_size = o->image_size;
    c->synth = o->synth;
    return QS_OK;
}

typedef struct {
    const qs_job_sink *sink;
    qs_trainer *t;
    qs_job_result *r;
    double last_ckpt;
    int rc;
} run_ctx;

static int on_epoch(void *user, const qs_epoch_metrics *m)
{
    run_ctx *c = user;
    c->r->last = *m;
    c->r->last.skip_msg = NULL; /* the trainer's buffer: not kept past the epoch */
    c->r->epochs_done = m->epoch;
    qs_job_warn_skipped("qsweep worker", m);
    if (c->t->model.nbits > 0) { /* BitPruning: the size at this epoch's widths */
        qs_model_cost cost;
        qs_model_cost_of(&cost, &c->t->model);
        c->r->model_bits = cost.model_bits;
        c->r->bops = cost.bops;
    }
    if (c->sink->epoch)
        c->sink->epoch(c->sink->user, m, c->r->model_bits, c->r->bops);
    /* Intermediate checkpoints only: the final one travels with DONE. */
    if (c->sink->checkpoint && m->epoch < m->epochs &&
        qs_now_s() - c->last_ckpt >= c->sink->ckpt_interval) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if ((c->rc = qs_trainer_encode(c->t, &buf, &len)) != QS_OK)
            return 1;
        c->sink->checkpoint(c->sink->user, m->epoch, buf, len);
        free(buf);
        c->last_ckpt = qs_now_s();
    }
    return 0;
}

static int decision_map(qs_trainer *t, const qs_synth_cfg *synth, qs_job_result *r)
{
    qs_dataset grid;
    uint8_t *labels = NULL;
    int rc = qs_data_synth_grid(&grid, synth);
    if (rc)
        return rc;
    uLongf zlen = compressBound((uLong)grid.n);
    labels = malloc((size_t)grid.n);
    r->dmap = malloc(zlen);
    if (!labels || !r->dmap) {
        rc = qs_err(QS_ENOMEM, "out of memory for the decision map");
        goto cleanup;
    }
    if ((rc = qs_trainer_predict(t, &grid, labels)))
        goto cleanup;
    if (compress2(r->dmap, &zlen, labels, (uLong)grid.n, 9) != Z_OK) {
        rc = qs_err(QS_EINTERNAL, "zlib failed on the decision map");
        goto cleanup;
    }
    r->dmap_len = zlen;
cleanup:
    free(labels);
    qs_data_free(&grid);
    return rc;
}

int qs_job_run(qs_job_result *r, const char *config, uint8_t *parent, size_t parent_len,
               uint8_t *resume, size_t resume_len, const qs_job_sink *sink,
               qs_data_cache *cache)
{
    qs_job_opts o;
    qs_train_cfg cfg;
    qs_trainer t;
    qs_model_cost cost;
    int rc, ready = 0;
    memset(r, 0, sizeof *r);
    memset(&t, 0, sizeof t);
    qs_job_opts_default(&o);
    if ((rc = qs_job_opts_from_json(&o, config, "job config", 0)) ||
        (rc = qs_job_opts_resolve(&o, &cfg)) || (rc = cache_get(cache, &o)))
        goto done;
    if (o.data == QS_DATA_IMAGENET)
        o.model.classes = cache->train.classes;
    if ((rc = qs_model_cost_get(&cost, &o.model)))
        goto done;
    r->model_bits = cost.model_bits;
    r->bops = cost.bops;
    if ((rc = qs_trainer_init(&t, &o.model, &cfg, &cache->train, &cache->test)))
        goto done;
    ready = 1;
    if (resume && o.phase == QS_PHASE_PTQ) {
        /* ptq runs in one piece and never checkpoints mid-way: a phase
         * interrupted before it finished starts again from its parent. */
        free(resume);
        resume = NULL;
    }
    if (o.phase == QS_PHASE_COMPRESS) {
        /* factored before a resume too, so the checkpoint is checked
         * against the ranks this job gives its parent; BN re-estimated
         * only when starting afresh */
        qs_svd_result sr;
        if (!parent)
            rc = qs_err(QS_EINVAL, "phase compress has no parent checkpoint");
        else
            rc = qs_trainer_load_parent_bytes(&t, parent, parent_len, "parent checkpoint");
        parent = NULL;
        if (rc == QS_OK)
            rc = qs_svd_compress_trainer(&sr, &t, resume == NULL);
        if (rc)
            goto done;
        qs_model_cost_of(&cost, &t.model);
        r->model_bits = cost.model_bits;
        r->bops = cost.bops;
        r->params = t.model.nparam - t.model.nalpha;
        qs_svd_rank_summary(r->svd, sizeof r->svd, &t.mcfg);
    }
    if (resume) {
        rc = qs_trainer_resume_bytes(&t, resume, resume_len, "resume checkpoint");
        resume = NULL;
    } else if (parent) {
        rc = qs_trainer_load_parent_bytes(&t, parent, parent_len, "parent checkpoint");
        parent = NULL;
    } else if (o.phase != QS_PHASE_FLOAT && o.phase != QS_PHASE_COMPRESS) {
        rc = qs_err(QS_EINVAL, "phase %s has no parent checkpoint", qs_phase_name(o.phase));
    }
    if (rc)
        goto done;
    t.interrupt = sink->interrupt;
    t.interrupt_user = sink->user;
    run_ctx ctx = {sink, &t, r, qs_now_s(), QS_OK};
    rc = o.phase == QS_PHASE_PTQ        ? qs_ptq_phase(&t, on_epoch, &ctx)
         : o.phase == QS_PHASE_COMPRESS ? qs_svd_phase(&t, 0, on_epoch, &ctx)
                                        : qs_trainer_run(&t, 0, on_epoch, &ctx);
    if (rc == QS_OK && ctx.rc)
        rc = ctx.rc;
    r->epochs_done = t.epoch_done;
    if (rc == QS_OK && t.epoch_done < t.cfg.epochs)
        rc = qs_err(QS_EINTERNAL, "stopped after %d of %d epochs", t.epoch_done, t.cfg.epochs);
    if (rc == QS_OK)
        rc = qs_trainer_encode(&t, &r->ckpt, &r->ckpt_len);
    if (rc == QS_OK && o.data == QS_DATA_SYNTHETIC)
        rc = decision_map(&t, &o.synth, r);
done:
    free(parent);
    free(resume);
    if (rc == QS_EDIVERGED) /* "diverged at epoch E: train loss L ..." */
        snprintf(r->error, sizeof r->error, "%s", qs_errmsg());
    else if (rc != QS_OK)
        snprintf(r->error, sizeof r->error, "error: %s", qs_errmsg());
    if (ready)
        qs_trainer_free(&t);
    return rc;
}
