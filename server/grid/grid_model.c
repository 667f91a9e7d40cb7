/* The model of a grid combination: which archs take which keys, the values
 * of the ImageNet-scale keys (blocks, width_mult), the model a combination
 * resolves to, and the imagenet dataset's tree check and image count.
 * Kept apart from the expansion (grid_expand.c) so that a new arch is a
 * change here; depth <-> stage blocks of imagenet-resnet is decided by the
 * worker's qs_imnet_resnet_resolve, the same function `qsweep train` uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "grid_int.h"
#include "opts.h"

/* ImageNet-1k's training set has 1,281,167 images over 1000 classes: the
 * estimate of a tree that was not listed (`qsweep expand`). */
#define GX_IMNET_TRAIN_PER_CLASS 1281.167
#define GX_IMNET_CLASSES 1000
#define GX_IMNET_SIZE 224
/* torchvision's first-stage width, taken when a grid gives none. */
#define GX_IMNET_WIDTH 64

int qs_gx_arch_takes(long long arch, int k)
{
    switch (k) {
    case AX_DEPTH:
        return arch != QS_ARCH_MOBILENETV2;
    case AX_WIDTH:
        return arch != QS_ARCH_MOBILENETV2;
    case AX_BLOCK:
        return arch == QS_ARCH_RESNET;
    case AX_RESIDUAL:
        return arch == QS_ARCH_FCDNN;
    case AX_BLOCKS:
        return arch == QS_ARCH_IMNET_RESNET;
    case AX_WMULT:
        return arch == QS_ARCH_MOBILENETV2;
    }
    return 1;
}

int qs_gx_arch_needs(long long arch, int k)
{
    if (k == AX_DEPTH)
        return arch != QS_ARCH_MOBILENETV2;
    if (k == AX_WIDTH)
        return arch == QS_ARCH_FCDNN || arch == QS_ARCH_RESNET;
    return 0;
}

int qs_gx_arch_fits(long long arch, qs_data_kind kind)
{
    switch (arch) {
    case QS_ARCH_FCDNN:
        return kind == QS_DATA_SYNTHETIC;
    case QS_ARCH_RESNET:
        return kind == QS_DATA_FMNIST || kind == QS_DATA_CIFAR10;
    default:
        return kind != QS_DATA_SYNTHETIC;
    }
}

const char *qs_gx_arch_data(long long arch)
{
    switch (arch) {
    case QS_ARCH_FCDNN:
        return "\"synthetic\"";
    case QS_ARCH_RESNET:
        return "image (\"fashion-mnist\" or \"cifar10\")";
    default:
        return "image (\"imagenet\", \"fashion-mnist\" or \"cifar10\")";
    }
}

/* ------------------------------------------------------------------ values */

int qs_gx_one_value(int k, const cJSON *it)
{
    /* blocks [3,4,5,2] is one value; [[2,2,2,2],[3,4,6,3]] two. */
    return k == AX_BLOCKS && cJSON_IsArray(it) && (!it->child || !cJSON_IsArray(it->child));
}

int qs_gx_model_value(gx_val *v, int k, const cJSON *it, const char *path, gx_errs *e)
{
    if (k == AX_WMULT)
        return qs_gx_get_num(&v->mult, it, path, 0, 10, 1, e);
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != QS_IMNET_STAGES) {
        qs_gx_err(e, path, "must be four block counts [N1,N2,N3,N4] (one per stage), not %s",
                  cJSON_IsArray(it) ? "a list of another length" : qs_gx_type_name(it));
        return 0;
    }
    int s = 0, ok = 1;
    for (const cJSON *c = it->child; c; c = c->next, s++) {
        char p[GX_PATH_LEN];
        long long n;
        qs_gx_sub_idx(p, path, s);
        if (qs_gx_get_int(&n, c, p, 1, 1000, e))
            v->blocks[s] = (int)n;
        else
            ok = 0;
    }
    return ok;
}

int qs_gx_model_value_eq(int k, const gx_val *a, const gx_val *b)
{
    if (k == AX_WMULT)
        return a->mult == b->mult;
    return memcmp(a->blocks, b->blocks, sizeof a->blocks) == 0;
}

/* ------------------------------------------------------------------- model */

static void geometry(qs_model_cfg *mc, const gx_dataset *d)
{
    switch (d->kind) {
    case QS_DATA_SYNTHETIC:
        mc->in_c = 2;
        mc->in_h = mc->in_w = 1;
        mc->classes = 2;
        break;
    case QS_DATA_IMAGENET:
        mc->in_c = 3;
        mc->in_h = mc->in_w = d->image_size ? d->image_size : GX_IMNET_SIZE;
        mc->classes = d->scan_classes ? d->scan_classes
                      : d->classes     ? d->classes
                                       : GX_IMNET_CLASSES;
        break;
    default:
        mc->in_c = d->kind == QS_DATA_CIFAR10 ? 3 : 1;
        mc->in_h = mc->in_w = 32;
        mc->classes = 10;
        break;
    }
}

int qs_gx_combo_model(qs_model_cfg *mc, gx_memo *mm, const gx_spec *s, const gx_dataset *d,
                      long long arch, const gx_val *const *v, int *skip, const char **err,
                      const char **err_path)
{
    /* The resolve's message (not memoised); read before the next call. */
    static char msg[512];
    *skip = 0;
    *err = *err_path = NULL;
    for (int k = AX_DEPTH; k <= AX_WIDTH; k++)
        if (qs_gx_arch_needs(arch, k) && !v[k]) {
            *skip = 1; /* reported as missing */
            return QS_OK;
        }
    memset(mc, 0, sizeof *mc);
    mc->arch = (qs_arch)arch;
    /* Fields that do not apply are normalised, so an fcdnn crossed with a
     * block axis is one model, not three. */
    mc->block = arch == QS_ARCH_RESNET ? (qs_block)v[AX_BLOCK]->i : QS_BLOCK_BASIC;
    mc->residual = arch == QS_ARCH_FCDNN ? (int)v[AX_RESIDUAL]->i : 0;
    mc->depth = qs_gx_arch_takes(arch, AX_DEPTH) ? (int)v[AX_DEPTH]->i : 0;
    geometry(mc, d);
    mc->wbits = mc->abits = 32;
    mc->first_last_bits = s->first_last_bits;
    if (arch == QS_ARCH_MOBILENETV2) {
        mc->width_mult = v[AX_WMULT] ? v[AX_WMULT]->mult : 1.0;
        const gx_memo_ent *mi = qs_gx_model_info(mm, mc);
        if (!mi)
            return QS_ENOMEM;
        if (mi->rc) {
            *err = mi->msg;
            *err_path = v[AX_WMULT] ? v[AX_WMULT]->path : d->jpath;
        }
        return QS_OK;
    }
    if (arch == QS_ARCH_IMNET_RESNET) {
        if (v[AX_BLOCKS])
            memcpy(mc->stage_blocks, v[AX_BLOCKS]->blocks, sizeof mc->stage_blocks);
        if (qs_imnet_resnet_resolve(mc, 1, v[AX_BLOCKS] != NULL)) {
            snprintf(msg, sizeof msg, "%s", qs_errmsg());
            *err = msg;
            *err_path = v[AX_DEPTH]->path;
            return QS_OK;
        }
    }
    /* Depth first (with a stand-in width), so its message lands on the
     * depth's path; then the width. */
    mc->width = 1;
    const gx_memo_ent *mi = qs_gx_model_info(mm, mc);
    if (!mi)
        return QS_ENOMEM;
    if (mi->rc) {
        *err = mi->msg;
        *err_path = v[AX_DEPTH]->path;
        return QS_OK;
    }
    if (!v[AX_WIDTH]) {
        mc->width = GX_IMNET_WIDTH;
    } else if (v[AX_WIDTH]->params > 0) {
        const gx_memo_ent *ms = qs_gx_model_solve(mm, mc, v[AX_WIDTH]->params);
        if (!ms)
            return QS_ENOMEM;
        if (ms->rc) {
            *err = ms->msg;
            *err_path = v[AX_WIDTH]->path;
            return QS_OK;
        }
        mc->width = ms->width;
    } else {
        mc->width = (int)v[AX_WIDTH]->i;
    }
    if (!(mi = qs_gx_model_info(mm, mc)))
        return QS_ENOMEM;
    if (mi->rc) {
        *err = mi->msg;
        *err_path = v[AX_WIDTH] ? v[AX_WIDTH]->path : v[AX_DEPTH]->path;
    }
    return QS_OK;
}

/* -------------------------------------------------------------------- data */

int qs_gx_train_images(const gx_spec *s, const gx_dataset *d)
{
    long n;
    switch (d->kind) {
    case QS_DATA_SYNTHETIC:
        n = 2L * s->synth.radii * s->synth.points * (1L + s->synth.copies);
        break;
    case QS_DATA_FMNIST:
        n = 60000;
        break;
    case QS_DATA_IMAGENET:
        n = d->scan_train ? d->scan_train
                          : (long)(GX_IMNET_TRAIN_PER_CLASS *
                                       (d->classes ? d->classes : GX_IMNET_CLASSES) + 0.5);
        break;
    default:
        n = 50000;
        break;
    }
    if (d->train_limit > 0 && d->train_limit < n)
        n = d->train_limit;
    return (int)n;
}

void qs_gx_imnet_scan(gx_dataset *d, gx_errs *e)
{
    char p[GX_PATH_LEN];
    qs_imnet_index ix;
    memset(&ix, 0, sizeof ix);
    if (d->path)
        qs_gx_sub_key(p, d->jpath, "path");
    else
        snprintf(p, sizeof p, "%s", d->jpath);
    /* val's class directories first (the cheap check), then train's files. */
    if (qs_imnet_check(d->path, NULL) || qs_imnet_scan(&ix, d->path, "train", NULL)) {
        qs_gx_err(e, p, "%s", qs_errmsg());
        d->bad = 1;
        goto cleanup;
    }
    if (d->classes && ix.classes != d->classes) {
        qs_gx_sub_key(p, d->jpath, "classes");
        qs_gx_err(e, p, "%d classes, but %s/train has %d class directories", d->classes,
                  d->path, ix.classes);
        d->bad = 1;
        goto cleanup;
    }
    d->scan_classes = ix.classes;
    d->scan_train = ix.n;
cleanup:
    qs_imnet_index_free(&ix);
}
