#include "opts.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_model.h"
#include "err.h"
#include "io.h"
#include "lsq_model.h"
#include "parse.h"
#include "ptq.h"
#include "quant.h"

void qs_job_opts_default(qs_job_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model.arch = QS_ARCH_FCDNN;
    o->model.block = QS_BLOCK_BASIC;
    o->model.wbits = o->model.abits = 32;
    o->model.first_last_bits = 8;
    o->data = QS_DATA_SYNTHETIC;
    o->phase = QS_PHASE_FLOAT;
    o->seed = -1;
    o->lipschitz = -1;
    o->threads = 1;
    qs_synth_cfg_default(&o->synth);
}

void qs_job_opts_usage(FILE *out)
{
    fprintf(out,
        "usage: qsweep train --model fcdnn|resnet [--block basic|preact|depthwise]\n"
        "                    --depth D --width K|--params N [--residual]\n"
        "       ImageNet-scale: --model imagenet-resnet [--depth 18|34|50|101|152]\n"
        "                    [--blocks N1,N2,N3,N4] [--block basic|bottleneck] [--width K (64)]\n"
        "                    --model mobilenetv2 [--width-mult M (1.0)]\n"
        "                    (without --data: ImageNet's 3x224x224, 1000 classes, for info\n"
        "                    and bench; --data cifar10|fashion-mnist trains them at 32x32)\n"
        "                    (--data imagenet --data-dir ROOT [--image-size S (224)] trains\n"
        "                    them on ROOT/train/<wnid>/*.JPEG, ROOT/val/<wnid>/*.JPEG)\n"
        "                    --data synthetic|fashion-mnist|cifar10|imagenet [--data-dir PATH]\n"
        "                    [--train-limit N] [--test-limit N] [--seed S] [--threads T]\n"
        "                    [--phase float|retrain|clr|ptq|compress] [--from CK]\n"
        "                    [--wbits B|learned]\n"
        "                    [--abits B|learned]\n"
        "                    [--lipschitz BETA] [--epochs N] [--stop-after K]\n"
        "                    [--save CK] [--resume CK] [--decision-map FILE] [--config JOB.json]\n"
        "protocol overrides: [--batch N] [--lr X] [--lr-min X] [--momentum X]\n"
        "                    [--weight-decay X] [--optimizer sgd|adam]\n"
        "                    [--schedule const|step|cosine|clr] [--period EPOCHS]\n"
        "                    [--clr-shape triangle|sawtooth] [--first-last-bits B]\n"
        "                    [--alpha-init mse|pNN.N|NUMBER] [--augment 0|1]\n"
        "                    [--label-smoothing EPS (0 <= EPS < 1)]\n"
        "                    [--milestones F1,F2 (step schedule, fractions)] [--data-seed S]\n"
        "quantizer:          [--quantizer hwang-pact|lsq+] [--lsq-per-channel 0|1]\n"
        "                    [--lsq-winit mse|mean]\n"
        "ptq (--phase ptq):  [--rounding nearest|adaround] [--equalize 0|1]\n"
        "                    [--bias-correction none|empirical|bn] [--per-channel 0|1]\n"
        "                    [--calib-images N (1024)] [--iterations N (10000, adaround)]\n"
        "compress (--phase compress --from FLOAT.ck): --compress svd\n"
        "                    --svd-energy E (0 < E <= 1) | --svd-params F (0 < F < 1)\n"
        "                    [--svd-epochs N (0: no fine-tune)] [--svd-first-last 0|1 (0)]\n"
        "learned bits:       (--wbits / --abits learned, a retrain) [--bp-init B (8)]\n"
        "                    [--bp-bmin 1|2 (2)] [--bp-lambda X (0.1)]\n"
        "                    [--bp-weighting uniform|params|macs] [--bp-lr-scale X (10)]\n"
        "                    [--bp-finetune-epochs N (0 = a tenth of --epochs)]\n"
        "stdout: one JSON object per epoch; logs on stderr. Exit 0 ok, 1 training\n"
        "failure (diverged), 2 bad usage or input.\n");
}

static int parse_bits(int *out, const char *flag, const char *v)
{
    int b;
    if (qs_parse_int(&b, flag, v, 1, 32) || !((b >= 1 && b <= 8) || b == 32))
        return qs_err(QS_EINVAL, "%s: \"%s\" is not a bit width (allowed: 1..8, or 32 = float)", flag, v);
    *out = b;
    return QS_OK;
}

/* --wbits / --abits: a width, or "learned" (BitPruning: the side's layers
 * learn their widths, planned at the top width). */
static int parse_model_bits(qs_model_cfg *m, int side, const char *flag, const char *v)
{
    int *bits = side == QS_BP_LEARN_W ? &m->wbits : &m->abits;
    if (v && !strcmp(v, "learned")) {
        *bits = QS_BP_BMAX;
        m->bp_learned |= side;
        return QS_OK;
    }
    m->bp_learned &= ~side;
    if (parse_bits(bits, flag, v))
        return qs_err(QS_EINVAL, "%s: \"%s\" is not a bit width (allowed: 1..8, 32 = float, "
                      "or learned)", flag, v);
    return QS_OK;
}

static int one_of(const char *flag, const char *v, const char *const *allowed)
{
    for (int i = 0; allowed[i]; i++)
        if (strcmp(v, allowed[i]) == 0)
            return QS_OK;
    char list[256] = "";
    for (int i = 0; allowed[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", allowed[i]);
    return qs_err(QS_EINVAL, "%s: \"%s\" is not allowed (allowed: %s)", flag, v, list);
}

static int load_config(qs_job_opts *o, const char *path, int allow_bench);
static int is_switch(const char *f);

/* ---- ImageNet-scale models (--model imagenet-resnet / mobilenetv2) ------
 * Kept in one place: --blocks N1,N2,N3,N4 (blocks per stage) and
 * --width-mult M here, their defaults and checks in imnet_model. */
static int apply_imnet(qs_job_opts *o, const char *f, const char *v)
{
    if (!strcmp(f, "--width-mult"))
        return qs_parse_num(&o->model.width_mult, f, v, 1e-3, 10);
    const char *p = v;
    for (int s = 0; s < QS_IMNET_STAGES; s++) {
        char *end;
        long n = strtol(p, &end, 10);
        if (end == p || n < 1 || n > 1000 || (s < QS_IMNET_STAGES - 1 ? *end != ',' : *end != 0))
            return qs_err(QS_EINVAL, "%s: \"%s\" is not four block counts 1..1000, e.g. 2,2,2,2",
                          f, v);
        o->model.stage_blocks[s] = (int)n;
        p = end + 1;
    }
    return QS_OK;
}

/* torchvision's stage table and block for m->depth. */
static int imnet_standard_blocks(qs_model_cfg *m)
{
    static const struct { int depth, bottleneck, b[4]; } tab[] = {
        {18, 0, {2, 2, 2, 2}}, {34, 0, {3, 4, 6, 3}}, {50, 1, {3, 4, 6, 3}},
        {101, 1, {3, 4, 23, 3}}, {152, 1, {3, 8, 36, 3}},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (tab[i].depth == m->depth) {
            m->block = tab[i].bottleneck ? QS_BLOCK_BOTTLENECK : QS_BLOCK_BASIC;
            memcpy(m->stage_blocks, tab[i].b, sizeof tab[i].b);
            return QS_OK;
        }
    return qs_err(QS_EINVAL, "imagenet-resnet depth %d has no standard block table (standard: "
                  "18, 34, 50, 101, 152); give the stage blocks (--blocks N1,N2,N3,N4, in a grid "
                  "\"blocks\": [N1,N2,N3,N4])", m->depth);
}

int qs_imnet_resnet_resolve(qs_model_cfg *m, int have_depth, int have_blocks)
{
    int sum = 0, rc;
    if (!have_blocks && (rc = imnet_standard_blocks(m)))
        return rc;
    for (int s = 0; s < QS_IMNET_STAGES; s++)
        sum += m->stage_blocks[s];
    /* With the stage table given, a depth of 3 x blocks + 2 means
     * bottleneck blocks (Table 1's ResNet-44: 3,4,5,2); without a depth
     * the block decides it. */
    if (have_depth && m->depth == 3 * sum + 2)
        m->block = QS_BLOCK_BOTTLENECK;
    if (!have_depth)
        m->depth = (m->block == QS_BLOCK_BOTTLENECK ? 3 : 2) * sum + 2;
    return QS_OK;
}

static int imnet_model(qs_job_opts *o)
{
    qs_model_cfg *m = &o->model;
    const char *name = m->arch == QS_ARCH_MOBILENETV2 ? "mobilenetv2" : "imagenet-resnet";
    if (o->data == QS_DATA_IMAGENET) {
        /* The tree's class count replaces the 1000 once it is read
         * (qs_job_data_load). */
        m->in_c = 3;
        m->in_h = m->in_w = o->image_size ? o->image_size : 224;
        m->classes = 1000;
    } else if (o->data == QS_DATA_SYNTHETIC) {
        if (o->have_data)
            return qs_err(QS_EINVAL, "--model %s needs image data (allowed: --data "
                          "imagenet, fashion-mnist, cifar10)", name);
        /* No dataset named: ImageNet's geometry, for info and bench. */
        m->in_c = 3;
        m->in_h = m->in_w = 224;
        m->classes = 1000;
    } else {
        m->in_c = o->data == QS_DATA_CIFAR10 ? 3 : 1;
        m->in_h = m->in_w = 32;
        m->classes = 10;
    }
    if (m->arch == QS_ARCH_MOBILENETV2) {
        if (o->have_depth || o->have_width || m->stage_blocks[0])
            return qs_err(QS_EINVAL, "--model mobilenetv2 takes --width-mult M, not --depth, "
                          "--width, --params or --blocks");
        if (m->width_mult == 0)
            m->width_mult = 1.0;
        return qs_model_cfg_validate(m);
    }
    if (m->width_mult != 0)
        return qs_err(QS_EINVAL, "--width-mult is for mobilenetv2; imagenet-resnet takes --width K");
    int rc;
    if (!m->stage_blocks[0] && !o->have_depth)
        return qs_err(QS_EINVAL, "--model imagenet-resnet needs --depth (18, 34, 50, 101, "
                      "152) or --blocks N1,N2,N3,N4");
    if ((rc = qs_imnet_resnet_resolve(m, o->have_depth, m->stage_blocks[0] != 0)))
        return rc;
    if (!o->have_width)
        m->width = 64;
    if (o->params > 0) {
        m->width = 1;
        if ((rc = qs_model_cfg_validate(m)) || (rc = qs_model_solve_width(&m->width, m, o->params)))
            return rc;
    }
    return qs_model_cfg_validate(m);
}

/* One flag with its value (NULL for switches). */
static int apply(qs_job_opts *o, const char *f, const char *v, int allow_bench)
{
    int rc = QS_OK, id = qs_js_find_flag(f);
    if (id >= 0) {
        /* A protocol setting: parsed as its job spec row says. */
        rc = qs_js_parse_text(&o->proto, id, f, v);
    } else if (!strcmp(f, "--model")) {
        if (!(rc = one_of(f, v, qs_arch_names)))
            o->model.arch = (qs_arch)qs_name_index(qs_arch_names, v);
        o->have_model = 1;
    } else if (!strcmp(f, "--block")) {
        if ((rc = qs_block_parse(&o->model.block, v)))
            rc = qs_err_wrap(rc, "--block");
    } else if (!strcmp(f, "--depth")) {
        rc = qs_parse_int(&o->model.depth, f, v, 1, QS_MAX_DEPTH);
        o->have_depth = 1;
    } else if (!strcmp(f, "--width") || !strcmp(f, "--params")) {
        if (o->have_width)
            return qs_err(QS_EINVAL, "%s: give the width once, as --width K or --params N", f);
        if (!strcmp(f, "--width"))
            rc = qs_parse_int(&o->model.width, f, v, 1, 65536);
        else
            rc = qs_parse_num(&o->params, f, v, 10, 1e12);
        o->have_width = 1;
    } else if (!strcmp(f, "--residual")) {
        o->model.residual = 1;
    } else if (!strcmp(f, "--data")) {
        if ((rc = qs_data_kind_parse(&o->data, v)))
            rc = qs_err_wrap(rc, "--data");
        o->have_data = 1;
    } else if (!strcmp(f, "--data-dir")) {
        o->data_dir = v;
    } else if (!strcmp(f, "--image-size")) {
        rc = qs_parse_int(&o->image_size, f, v, QS_IMNET_MIN_SIZE, QS_IMNET_MAX_SIZE);
    } else if (!strcmp(f, "--train-limit")) {
        rc = qs_parse_int(&o->train_limit, f, v, 0, QS_MAX_EXAMPLES);
    } else if (!strcmp(f, "--test-limit")) {
        rc = qs_parse_int(&o->test_limit, f, v, 0, QS_MAX_EXAMPLES);
    } else if (!strcmp(f, "--seed")) {
        double s;
        if (!(rc = qs_parse_num(&s, f, v, 0, 9007199254740992.0)))
            o->seed = (long long)s;
    } else if (!strcmp(f, "--threads")) {
        rc = qs_parse_int(&o->threads, f, v, 1, QS_MAX_THREADS);
    } else if (!strcmp(f, "--phase")) {
        if ((rc = qs_phase_parse(&o->phase, v)))
            rc = qs_err_wrap(rc, "--phase");
    } else if (!strcmp(f, "--from")) {
        o->from = v;
    } else if (!strcmp(f, "--wbits")) {
        rc = parse_model_bits(&o->model, QS_BP_LEARN_W, f, v);
    } else if (!strcmp(f, "--abits")) {
        rc = parse_model_bits(&o->model, QS_BP_LEARN_A, f, v);
    } else if (!strcmp(f, "--bp-init")) {
        rc = qs_parse_num(&o->model.bp_init, f, v, 1, QS_BP_BMAX);
    } else if (!strcmp(f, "--bp-bmin")) {
        rc = qs_parse_int(&o->model.bp_bmin, f, v, 1, 2);
    } else if (!strcmp(f, "--quantizer")) {
        if ((rc = qs_quantizer_parse(&o->model.quantizer, v)))
            rc = qs_err_wrap(rc, "--quantizer");
    } else if (!strcmp(f, "--lsq-per-channel")) {
        rc = qs_parse_int(&o->model.lsq_per_channel, f, v, 0, 1);
    } else if (!strcmp(f, "--lsq-winit")) {
        if (!(rc = one_of(f, v, qs_lsq_winit_names)))
            o->model.lsq_winit = qs_name_index(qs_lsq_winit_names, v);
    } else if (!strcmp(f, "--first-last-bits")) {
        rc = parse_bits(&o->model.first_last_bits, f, v);
    } else if (!strcmp(f, "--lipschitz")) {
        rc = qs_parse_num(&o->lipschitz, f, v, 0, QS_MAX_LIPSCHITZ);
    } else if (!strcmp(f, "--stop-after")) {
        rc = qs_parse_int(&o->stop_after, f, v, 1, QS_MAX_EPOCHS);
    } else if (!strcmp(f, "--save")) {
        o->save = v;
    } else if (!strcmp(f, "--resume")) {
        o->resume = v;
    } else if (!strcmp(f, "--decision-map")) {
        o->decision_map = v;
    } else if (!strcmp(f, "--alpha-init")) {
        o->alpha_init = v;
    } else if (!strcmp(f, "--data-seed")) {
        double s;
        if (!(rc = qs_parse_num(&s, f, v, 0, 9007199254740992.0)))
            o->synth.seed = (uint64_t)s;
    } else if (!strcmp(f, "--config")) {
        rc = load_config(o, v, allow_bench);
    } else if (!strcmp(f, "--blocks") || !strcmp(f, "--width-mult")) {
        rc = apply_imnet(o, f, v);
    } else if (allow_bench && !strcmp(f, "--steps")) {
        rc = qs_parse_int(&o->steps, f, v, 1, 1000000);
    } else {
        rc = qs_err(QS_EINVAL, "unknown option \"%s\" (see --help)", f);
    }
    return rc;
}

static int is_switch(const char *f) { return strcmp(f, "--residual") == 0; }

int qs_job_opts_parse(qs_job_opts *o, int argc, char **argv, int allow_bench)
{
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (strncmp(f, "--", 2) != 0)
            return qs_err(QS_EINVAL, "unexpected argument \"%s\" (options start with --)", f);
        const char *v = NULL;
        if (!is_switch(f)) {
            if (i + 1 >= argc)
                return qs_err(QS_EINVAL, "%s needs a value", f);
            v = argv[++i];
        }
        int rc = apply(o, f, v, allow_bench);
        if (rc)
            return rc;
    }
    return QS_OK;
}

/* A job JSON is a flat object whose keys are the flags without "--"
 * ('_' or '-' alike): {"model":"resnet","depth":20,"width":16,...}. */
int qs_job_opts_from_json(qs_job_opts *o, const char *text, const char *what, int allow_bench)
{
    int rc = QS_OK;
    cJSON *root = cJSON_Parse(text);
    if (!root || !cJSON_IsObject(root)) {
        const char *at = cJSON_GetErrorPtr();
        rc = qs_err(QS_EINVAL, "%s: not a JSON object (error near byte %ld)", what,
                    at && root == NULL ? (long)(at - text) : 0L);
        goto cleanup;
    }
    for (cJSON *it = root->child; it; it = it->next) {
        char flag[80], val[64];
        const char *v = NULL;
        snprintf(flag, sizeof flag, "--%s", it->string);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        if (!strcmp(flag, "--config")) {
            rc = qs_err(QS_EINVAL, "%s: key \"config\" cannot nest", what);
            goto cleanup;
        }
        if (cJSON_IsBool(it)) {
            if (is_switch(flag)) {
                if (cJSON_IsFalse(it))
                    continue;
            } else {
                v = cJSON_IsTrue(it) ? "1" : "0";
            }
        } else if (cJSON_IsNumber(it)) {
            snprintf(val, sizeof val, "%.17g", it->valuedouble);
            v = val;
        } else if (cJSON_IsString(it)) {
            v = it->valuestring;
        } else if (!strcmp(flag, "--blocks") && cJSON_IsArray(it)) {
            /* "blocks": [3,4,5,2] reads as --blocks 3,4,5,2 */
            val[0] = 0;
            for (cJSON *e = it->child; e; e = e->next)
                snprintf(val + strlen(val), sizeof val - strlen(val), "%s%.17g",
                         e == it->child ? "" : ",", cJSON_IsNumber(e) ? e->valuedouble : -1.0);
            v = val;
        } else {
            rc = qs_err(QS_EINVAL, "%s: key \"%s\" must be a string, number or boolean", what, it->string);
            goto cleanup;
        }
        if (is_switch(flag) && !cJSON_IsBool(it)) {
            rc = qs_err(QS_EINVAL, "%s: key \"%s\" must be true or false", what, it->string);
            goto cleanup;
        }
        /* Values outlive the JSON tree: options keep pointers to strings. */
        char *keep = v ? strdup(v) : NULL;
        if ((rc = apply(o, flag, keep, allow_bench))) {
            rc = qs_err_wrap(rc, "%s: key \"%s\"", what, it->string);
            goto cleanup;
        }
    }
cleanup:
    cJSON_Delete(root);
    return rc;
}

static int load_config(qs_job_opts *o, const char *path, int allow_bench)
{
    char *text = NULL;
    size_t n;
    int rc = qs_read_file(&text, &n, path, QS_JOB_CONFIG_MAX_BYTES);
    if (rc)
        return qs_err_wrap(rc, "--config");
    if (strlen(text) != n)
        rc = qs_err(QS_EINVAL, "--config %s: contains a NUL byte (not a JSON text)", path);
    else
        rc = qs_job_opts_from_json(o, text, path, allow_bench);
    free(text);
    return rc;
}

/* The learned widths' settings mean nothing without learned widths: they
 * are normalised to 0 then (as the grid leaves them), else default. */
static void bp_settings(qs_model_cfg *m)
{
    if (!m->bp_learned) {
        m->bp_init = 0;
        m->bp_bmin = 0;
        return;
    }
    if (m->bp_init == 0)
        m->bp_init = QS_BP_INIT_DEFAULT;
    if (m->bp_bmin == 0)
        m->bp_bmin = QS_BP_BMIN_DEFAULT;
}

int qs_job_opts_model(qs_job_opts *o)
{
    qs_model_cfg *m = &o->model;
    if (o->image_size && o->data != QS_DATA_IMAGENET)
        return qs_err(QS_EINVAL, "--image-size is the crop side of --data imagenet (this is "
                      "--data %s)", qs_data_kind_name(o->data));
    if (o->data == QS_DATA_IMAGENET && !(o->have_model && (m->arch == QS_ARCH_IMNET_RESNET ||
                                                           m->arch == QS_ARCH_MOBILENETV2)))
        return qs_err(QS_EINVAL, "--data imagenet trains --model imagenet-resnet or "
                      "mobilenetv2");
    bp_settings(m);
    if (o->have_model && (m->arch == QS_ARCH_IMNET_RESNET || m->arch == QS_ARCH_MOBILENETV2))
        return imnet_model(o);
    if (!o->have_model)
        return qs_err(QS_EINVAL, "--model is required (allowed: fcdnn, resnet)");
    if (!o->have_depth)
        return qs_err(QS_EINVAL, "--depth is required");
    if (!o->have_width)
        return qs_err(QS_EINVAL, "--width K or --params N is required");
    if (m->arch == QS_ARCH_FCDNN && o->data != QS_DATA_SYNTHETIC)
        return qs_err(QS_EINVAL, "--model fcdnn takes --data synthetic (2-D inputs); "
                      "use --model resnet for %s", qs_data_kind_name(o->data));
    if (m->arch == QS_ARCH_RESNET && o->data == QS_DATA_SYNTHETIC)
        return qs_err(QS_EINVAL, "--model resnet needs image data "
                      "(allowed: --data fashion-mnist, cifar10)");
    qs_data_shape(o->data, &m->in_c, &m->in_h, &m->in_w, &m->classes);
    if (o->params > 0) {
        m->width = 1;
        int rc = qs_model_cfg_validate(m);
        if (rc)
            return rc;
        if ((rc = qs_model_solve_width(&m->width, m, o->params)))
            return rc;
    }
    return qs_model_cfg_validate(m);
}

int qs_job_opts_train_cfg(const qs_job_opts *o, qs_train_cfg *c)
{
    qs_train_cfg_default(c, o->data, o->phase);
    qs_js_apply(c, &o->proto);
    c->threads = o->threads;
    if (o->seed >= 0)
        c->seed = (uint64_t)o->seed;
    if (o->lipschitz >= 0)
        c->lipschitz = o->lipschitz;
    if (o->alpha_init) {
        const char *a = o->alpha_init;
        if (!strcmp(a, "mse")) {
            c->alpha_init = QS_ALPHA_MSE;
        } else if (a[0] == 'p') {
            c->alpha_init = QS_ALPHA_PERCENTILE;
            if (qs_parse_double(&c->alpha_value, a + 1, 0, 100) || !(c->alpha_value > 0))
                return qs_err(QS_EINVAL, "--alpha-init: \"%s\" is not a percentile like p99.9", a);
        } else {
            c->alpha_init = QS_ALPHA_VALUE;
            if (qs_parse_double(&c->alpha_value, a, 0, 1e300) || !(c->alpha_value > 0))
                return qs_err(QS_EINVAL, "--alpha-init: \"%s\" is not mse, pNN.N or a positive number", a);
        }
    }
    if (c->sched.kind == QS_SCHED_CLR && !(c->sched.period > 0))
        return qs_err(QS_EINVAL, "the clr schedule needs --period EPOCHS");
    return QS_OK;
}

int qs_job_opts_resolve(qs_job_opts *o, qs_train_cfg *cfg)
{
    int rc;
    if ((rc = qs_job_opts_model(o)) || (rc = qs_job_opts_train_cfg(o, cfg)))
        return rc;
    if (o->phase == QS_PHASE_PTQ) {
        if (o->model.quantizer != QS_QUANT_HWANG_PACT)
            return qs_err(QS_EINVAL, "--quantizer is for the QAT phases; a ptq phase sets its "
                          "own (--per-channel picks the weight steps)");
        if ((rc = qs_ptq_cfg_validate(&cfg->ptq)))
            return rc;
        qs_ptq_model_cfg(&o->model, &cfg->ptq);
        return qs_model_cfg_validate(&o->model);
    }
    if (o->phase == QS_PHASE_COMPRESS) {
        /* the fine-tune's length is --svd-epochs: one count, not two */
        if ((rc = qs_svd_cfg_validate(&cfg->svd)))
            return rc;
        int epochs = cfg->svd.epochs > 0 ? cfg->svd.epochs : 1;
        /* (a job JSON carries the count it implies, which agrees) */
        if (qs_js_isset(&o->proto, QS_JS_EPOCHS) && cfg->epochs != epochs)
            return qs_err(QS_EINVAL, "--epochs is not for a compress phase: its fine-tune is "
                          "--svd-epochs N");
        cfg->epochs = epochs;
        return QS_OK;
    }
    for (int id = 0; id < QS_JS_N; id++)
        if (qs_js_rows[id].when == QS_JS_IF_COMPRESS && qs_js_isset(&o->proto, id)) {
            char flag[64];
            snprintf(flag, sizeof flag, "%s", qs_js_rows[id].key);
            for (char *q = flag; *q; q++)
                *q = *q == '_' ? '-' : *q;
            return qs_err(QS_EINVAL, "--%s is for --phase compress", flag);
        }
    return QS_OK;
}
