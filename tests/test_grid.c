/* Grid files (server/grid/grid.c, grid_expand.c): every kind of bad grid with
 * its message, expansion into the phase DAG, ids, ordering, and the job
 * JSON read back by the worker's own parser. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_model.h"
#include "err.h"
#include "grid.h"
#include "opts.h"
#include "tharness.h"

/* The example of grid.md. */
static const char *SPEC_EXAMPLE =
    "{\"name\": \"mini\","
    " \"dataset\": {\"name\": \"cifar10\", \"path\": \"data/cifar10\", \"train_limit\": 10000,"
    "             \"test_limit\": 0},"
    " \"axes\": {\"arch\": [\"resnet\"], \"wbits\": [32, 2], \"abits\": [32, 2],"
    "          \"regularizer\": [\"none\", \"lipschitz\"], \"clr\": [false, true], \"seed\": [1, 2]},"
    " \"cases\": [{\"block\": \"basic\", \"depth\": 8, \"width\": 59},"
    "           {\"block\": \"basic\", \"depth\": 20, \"width\": {\"params\": 1000000}},"
    "           {\"block\": \"depthwise\", \"depth\": 38, \"width\": 32}],"
    " \"exclude\": [{\"regularizer\": \"lipschitz\", \"abits\": 32}],"
    " \"float\": {\"epochs\": 30}, \"retrain\": {\"epochs\": 15},"
    " \"clr\": {\"epochs\": 8, \"lr_max\": 1e-3, \"lr_min\": 1e-5, \"period\": 4, \"shape\": \"triangle\"},"
    " \"quant\": {\"first_last_bits\": 8, \"pact_alpha_init\": \"mse\"},"
    " \"lipschitz\": {\"beta\": 1e-4}, \"threads\": 1}";

static int parse(qs_grid *g, const char *text, char **errors)
{
    return qs_grid_parse(g, text, "bad.json", 0, errors);
}

static int ok_grid(qs_grid *g, const char *text)
{
    char *errors = NULL;
    int rc = qs_grid_parse(g, text, "g.json", 0, &errors);
    if (rc)
        printf("# unexpected problems: %s\n", errors ? errors : qs_errmsg());
    free(errors);
    return rc;
}

static const qs_grid_job *parent_of(const qs_grid *g, const qs_grid_job *j)
{
    int i = qs_grid_find(g, j->parent);
    return i >= 0 ? &g->jobs[i] : NULL;
}

/* A number key of a job's config (NAN if absent). */
static double cfg_num(const qs_grid_job *j, const char *key)
{
    cJSON *r = cJSON_Parse(j->config);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r, key);
    double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    cJSON_Delete(r);
    return v;
}

static int cfg_str_is(const qs_grid_job *j, const char *key, const char *want)
{
    cJSON *r = cJSON_Parse(j->config);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r, key);
    int ok = want ? (cJSON_IsString(it) && strcmp(it->valuestring, want) == 0) : it == NULL;
    cJSON_Delete(r);
    return ok;
}

static void grid_spec_example(void)
{
    qs_grid g;
    T_CHECK(ok_grid(&g, SPEC_EXAMPLE) == QS_OK, "parse");
    T_CHECK(!strcmp(g.name, "mini") && g.threads == 1 && g.data == QS_DATA_CIFAR10 &&
                g.data_dir && !strcmp(g.data_dir, "data/cifar10"), "grid fields");
    /* 3 cases x 2 seeds = 6 models. Each: the float, retrains (32,2),
     * (2,32), (2,2) with none + (32,2), (2,2) with lipschitz (excluded at
     * abits 32) = 5, and a clr child of each = 5. */
    int nf = 0, nr = 0, nc = 0;
    for (int i = 0; i < g.njobs; i++) {
        const qs_grid_job *j = &g.jobs[i];
        const qs_grid_job *p = j->parent[0] ? parent_of(&g, j) : NULL;
        if (j->phase == QS_PHASE_FLOAT) {
            nf++;
            T_CHECK(!j->parent[0] && j->model.wbits == 32 && j->model.abits == 32, "float");
            T_CHECK(j->epochs == 30 && !strcmp(j->regularizer, "none"), "float epochs/reg");
        } else if (j->phase == QS_PHASE_RETRAIN) {
            nr++;
            T_CHECK(p && p->phase == QS_PHASE_FLOAT, "retrain parent");
            T_CHECK(!strcmp(p->model_name, j->model_name) && p->seed == j->seed, "same model");
            T_CHECK(j->epochs == 15, "retrain epochs");
            T_CHECK(!(j->model.abits == 32 && !strcmp(j->regularizer, "lipschitz")), "excluded");
        } else {
            nc++;
            T_CHECK(p && p->phase == QS_PHASE_RETRAIN && p->model.wbits == j->model.wbits &&
                        p->model.abits == j->model.abits && !strcmp(p->regularizer, j->regularizer),
                    "clr parent");
            T_CHECK(j->clr == 1 && j->epochs == 8, "clr");
            T_CHECK(cfg_num(j, "lr") == 1e-3 && cfg_num(j, "lr_min") == 1e-5 &&
                        cfg_num(j, "period") == 4 && cfg_str_is(j, "clr_shape", "triangle"),
                    "clr settings: %s", j->config);
        }
        /* methods.md 5: the Lipschitz term in retrain and clr alike. */
        double lip = cfg_num(j, "lipschitz");
        T_CHECK(lip == (!strcmp(j->regularizer, "lipschitz") ? 1e-4 : 0), "lipschitz %g", lip);
        T_CHECK(cfg_str_is(j, "data_dir", "data/cifar10") && cfg_num(j, "train_limit") == 10000,
                "data");
        T_CHECK(j->train_images == 10000, "train images %d", j->train_images);
    }
    T_CHECK(nf == 6 && nr == 30 && nc == 30 && g.njobs == 66, "counts %d %d %d", nf, nr, nc);
    /* The params budget resolves to the paper's basic-20 width. */
    int w31 = 0;
    for (int i = 0; i < g.njobs; i++)
        w31 += !strcmp(g.jobs[i].model_name, "resnet-basic-20-31");
    T_CHECK(w31 == 22, "resnet-basic-20-31 phases: %d", w31);
    qs_grid_free(&g);
}

static void grid_ids_stable_and_threads(void)
{
    qs_grid a, b, c;
    char text[4096];
    T_CHECK(ok_grid(&a, SPEC_EXAMPLE) == QS_OK && ok_grid(&b, SPEC_EXAMPLE) == QS_OK, "parse");
    T_CHECK(a.njobs == b.njobs, "njobs");
    for (int i = 0; i < a.njobs; i++) {
        T_CHECK(!strcmp(a.jobs[i].id, b.jobs[i].id) && !strcmp(a.jobs[i].config, b.jobs[i].config),
                "job %d differs", i);
        T_CHECK(strlen(a.jobs[i].id) == 32 && strspn(a.jobs[i].id, "0123456789abcdef") == 32,
                "id %s", a.jobs[i].id);
    }
    /* threads is in every config: every id changes. */
    snprintf(text, sizeof text, "%s", SPEC_EXAMPLE);
    char *t = strstr(text, "\"threads\": 1");
    T_CHECK(t, "threads");
    t[11] = '2';
    T_CHECK(ok_grid(&c, text) == QS_OK, "parse threads 2");
    T_CHECK(c.njobs == a.njobs, "njobs");
    for (int i = 0; i < c.njobs; i++)
        T_CHECK(qs_grid_find(&a, c.jobs[i].id) < 0, "id %s survived a threads change", c.jobs[i].id);
    qs_grid_free(&a);
    qs_grid_free(&b);
    qs_grid_free(&c);
}

static void grid_order_and_find(void)
{
    qs_grid g;
    T_CHECK(ok_grid(&g, SPEC_EXAMPLE) == QS_OK, "parse");
    for (int i = 0; i < g.njobs; i++) {
        const qs_grid_job *j = &g.jobs[i];
        T_CHECK(qs_grid_find(&g, j->id) == i, "find %d", i);
        if (j->parent[0])
            T_CHECK(qs_grid_find(&g, j->parent) < i, "parent after child at %d", i);
        if (i > 0 && g.jobs[i - 1].phase == j->phase)
            T_CHECK(g.jobs[i - 1].gflop >= j->gflop, "not longest first at %d", i);
        T_CHECK(i == 0 || g.jobs[i - 1].phase <= j->phase, "phase order at %d", i);
    }
    T_CHECK(qs_grid_find(&g, "00000000000000000000000000000000") == -1, "unknown id");
    T_CHECK(qs_grid_find(&g, "") == -1, "empty id");
    qs_grid_free(&g);
}

/* The worker parses each config with qs_job_opts_from_json: it must accept
 * every key and resolve to the job's model and protocol. */
static void grid_config_roundtrip(void)
{
    qs_grid g;
    T_CHECK(ok_grid(&g, SPEC_EXAMPLE) == QS_OK, "parse");
    for (int i = 0; i < g.njobs; i++) {
        const qs_grid_job *j = &g.jobs[i];
        qs_job_opts o;
        qs_train_cfg tc;
        qs_job_opts_default(&o);
        T_CHECK(qs_job_opts_from_json(&o, j->config, "job", 0) == QS_OK, "%s: %s", j->config,
                qs_errmsg());
        T_CHECK(qs_job_opts_model(&o) == QS_OK, "model: %s", qs_errmsg());
        T_CHECK(qs_job_opts_train_cfg(&o, &tc) == QS_OK, "train cfg: %s", qs_errmsg());
        T_CHECK(memcmp(&o.model, &j->model, sizeof o.model) == 0, "model cfg differs: %s",
                j->config);
        T_CHECK(tc.epochs == j->epochs && tc.phase == j->phase && (long long)tc.seed == j->seed &&
                    tc.threads == j->threads, "protocol");
        /* Keys sorted, flat. */
        cJSON *r = cJSON_Parse(j->config);
        T_CHECK(r, "json");
        const char *prev = "";
        int sorted = 1;
        for (cJSON *it = r->child; it; it = it->next) {
            sorted &= strcmp(prev, it->string) < 0;
            prev = it->string;
        }
        cJSON_Delete(r);
        T_CHECK(sorted, "keys not sorted: %s", j->config);
    }
    qs_grid_free(&g);
}

/* methods.md section 3 defaults, written out explicitly. */
static void grid_cifar_defaults(void)
{
    qs_grid g;
    T_CHECK(ok_grid(&g, "{\"name\":\"d\",\"dataset\":{\"name\":\"cifar10\"},"
                        "\"axes\":{\"block\":\"basic\",\"depth\":20,\"width\":16,"
                        "\"wbits\":2,\"abits\":2,\"clr\":true}}") == QS_OK, "parse");
    T_CHECK(g.njobs == 3, "njobs %d", g.njobs);
    const qs_grid_job *f = &g.jobs[0], *r = &g.jobs[1], *c = &g.jobs[2];
    T_CHECK(f->epochs == 200 && cfg_num(f, "lr") == 0.1 && cfg_str_is(f, "milestones", "0.5,0.75") &&
                cfg_num(f, "weight_decay") == 5e-4 && cfg_num(f, "momentum") == 0.9 &&
                cfg_str_is(f, "optimizer", "sgd") && cfg_str_is(f, "schedule", "step") &&
                cfg_num(f, "augment") == 1 && cfg_num(f, "batch") == 128,
            "float: %s", f->config);
    /* Settings that cannot matter are left out, so they cannot split ids. */
    T_CHECK(cfg_str_is(f, "alpha_init", NULL) && cfg_str_is(f, "period", NULL) &&
                cfg_str_is(f, "data_dir", NULL), "float extras: %s", f->config);
    T_CHECK(r->epochs == 100 && cfg_num(r, "lr") == 0.01 && cfg_str_is(r, "milestones", "0.5,0.8") &&
                cfg_num(r, "weight_decay") == 0 && cfg_num(r, "first_last_bits") == 8 &&
                cfg_str_is(r, "alpha_init", "mse"), "retrain: %s", r->config);
    T_CHECK(c->epochs == 40 && cfg_num(c, "lr") == 1e-3 && cfg_num(c, "lr_min") == 1e-5 &&
                cfg_num(c, "period") == 8 && cfg_str_is(c, "schedule", "clr"), "clr: %s", c->config);
    /* gflop = epochs x 50,000 images x train GFLOP per image. */
    qs_model_cost cost;
    T_CHECK(qs_model_cost_get(&cost, &f->model) == QS_OK, "cost");
    T_CHECK(T_CLOSE(f->gflop, 200.0 * 50000 * cost.train_flop / 1e9, 1e-12, 0), "gflop %g",
            f->gflop);
    qs_model_cost qc;
    T_CHECK(qs_model_cost_get(&qc, &r->model) == QS_OK && r->bops == qc.bops &&
                r->model_bits == qc.model_bits && r->bops < f->bops, "bops");
    T_CHECK(f->params == qs_model_param_count(&f->model) && r->params == f->params, "params");
    qs_grid_free(&g);
}

static void grid_float_combos_dropped(void)
{
    qs_grid g;
    /* (32, 32) with lipschitz or clr is dropped; with wbits/abits 32 only
     * the float is left. */
    T_CHECK(ok_grid(&g, "{\"name\":\"f\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":128,"
                        "\"regularizer\":[\"none\",\"lipschitz\"],\"clr\":[false,true]}}") == QS_OK,
            "parse");
    T_CHECK(g.njobs == 1 && g.jobs[0].phase == QS_PHASE_FLOAT && g.data == QS_DATA_SYNTHETIC,
            "njobs %d", g.njobs);
    T_CHECK(cfg_str_is(&g.jobs[0], "optimizer", "adam") && g.jobs[0].epochs == 100 &&
                g.jobs[0].train_images == 20000 && cfg_num(&g.jobs[0], "data_seed") == 1,
            "synthetic defaults: %s", g.jobs[0].config);
    qs_grid_free(&g);
    /* Quantized-only axes still get their float parent. */
    T_CHECK(ok_grid(&g, "{\"name\":\"f\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":128,"
                        "\"wbits\":2,\"abits\":2,\"seed\":[1,2,3]}}") == QS_OK, "parse");
    T_CHECK(g.njobs == 6 && g.jobs[0].phase == QS_PHASE_FLOAT && g.jobs[3].phase == QS_PHASE_RETRAIN,
            "njobs %d", g.njobs);
    qs_grid_free(&g);
}

static void grid_exclude_and_cases(void)
{
    qs_grid g;
    T_CHECK(ok_grid(&g, "{\"name\":\"x\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":[3,4],"
                        "\"width\":[128,256],\"wbits\":[32,2],\"abits\":[32,2]},"
                        "\"exclude\":[{\"depth\":3,\"width\":256},{\"wbits\":2,\"abits\":32}]}") ==
                QS_OK, "parse");
    /* 3 models x (float + WFA2 + W2A2). */
    T_CHECK(g.njobs == 9, "njobs %d", g.njobs);
    for (int i = 0; i < g.njobs; i++) {
        T_CHECK(strcmp(g.jobs[i].model_name, "fcdnn-256-3"), "excluded model");
        T_CHECK(!(g.jobs[i].model.wbits == 2 && g.jobs[i].model.abits == 32), "excluded bits");
    }
    qs_grid_free(&g);
    /* Cases pair depth with width; remaining axes cross each case. */
    T_CHECK(ok_grid(&g, "{\"name\":\"c\",\"axes\":{\"arch\":\"fcdnn\",\"seed\":[1,2]},"
                        "\"cases\":[{\"depth\":3,\"width\":128},{\"depth\":4,\"width\":256}]}") ==
                QS_OK, "parse");
    T_CHECK(g.njobs == 4, "njobs %d", g.njobs);
    for (int i = 0; i < g.njobs; i++)
        T_CHECK(!strcmp(g.jobs[i].model_name, "fcdnn-128-3") ||
                    !strcmp(g.jobs[i].model_name, "fcdnn-256-4"), "%s", g.jobs[i].model_name);
    qs_grid_free(&g);
}

static void grid_fcdnn_block_residual(void)
{
    qs_grid g;
    /* fcdnn ignores block: crossing it adds nothing; residual is an axis. */
    T_CHECK(ok_grid(&g, "{\"name\":\"r\",\"axes\":{\"arch\":\"fcdnn\",\"block\":[\"basic\",\"preact\"],"
                        "\"depth\":4,\"width\":128,\"residual\":[false,true]}}") == QS_OK, "parse");
    T_CHECK(g.njobs == 2, "njobs %d", g.njobs);
    int plain = 0, res = 0;
    for (int i = 0; i < g.njobs; i++) {
        plain += !strcmp(g.jobs[i].model_name, "fcdnn-128-4");
        res += !strcmp(g.jobs[i].model_name, "fcdnn-res-128-4") && g.jobs[i].model.residual;
        T_CHECK(cfg_str_is(&g.jobs[i], "block", NULL), "block in fcdnn config");
    }
    T_CHECK(plain == 1 && res == 1, "names");
    qs_grid_free(&g);
}

/* Two datasets in one grid: each arch trains on the data it fits, with the
 * dataset entry's own overrides. */
static void grid_mixed_datasets(void)
{
    qs_grid g;
    T_CHECK(ok_grid(&g, "{\"name\":\"m\",\"dataset\":[{\"name\":\"synthetic\"},"
                        "{\"name\":\"fashion-mnist\",\"train_limit\":2000,\"test_limit\":1000,"
                        "\"float\":{\"epochs\":3}}],"
                        "\"axes\":{\"wbits\":[32,2],\"abits\":2},"
                        "\"float\":{\"epochs\":7},"
                        "\"cases\":[{\"arch\":\"fcdnn\",\"depth\":4,\"width\":128},"
                        "{\"arch\":\"resnet\",\"block\":\"preact\",\"depth\":8,\"width\":8}]}") ==
                QS_OK, "parse");
    T_CHECK(g.njobs == 6, "njobs %d", g.njobs);
    for (int i = 0; i < g.njobs; i++) {
        const qs_grid_job *j = &g.jobs[i];
        if (j->model.arch == QS_ARCH_FCDNN) {
            T_CHECK(j->data == QS_DATA_SYNTHETIC, "fcdnn data");
            if (j->phase == QS_PHASE_FLOAT)
                T_CHECK(j->epochs == 7, "top-level override %d", j->epochs);
        } else {
            T_CHECK(j->data == QS_DATA_FMNIST && j->model.in_c == 1 && j->train_images == 2000,
                    "resnet data");
            if (j->phase == QS_PHASE_FLOAT)
                T_CHECK(j->epochs == 3, "dataset override %d", j->epochs);
        }
    }
    qs_grid_free(&g);
}

/* "learned" bits: the job JSON names the learned side and carries the
 * widths' settings; a fixed-width retrain of the same grid carries none of
 * them (its id is as without them); both share the float parent; the
 * worker reads the job back to the same model. */
static void grid_learned_bits(void)
{
    qs_grid g;
    T_CHECK(ok_grid(&g, "{\"name\":\"l\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,"
                        "\"width\":8,\"wbits\":[2,\"learned\"],\"abits\":2},"
                        "\"retrain\":{\"bp_lambda\":0.2,\"bp_weighting\":\"macs\"},"
                        "\"quant\":{\"bp_init\":6,\"bp_bmin\":1}}") == QS_OK, "parse");
    T_CHECK(g.njobs == 3, "njobs %d", g.njobs);
    int learned = 0;
    for (int i = 0; i < g.njobs; i++) {
        const qs_grid_job *j = &g.jobs[i];
        qs_job_opts o;
        qs_job_opts_default(&o);
        T_CHECK(qs_job_opts_from_json(&o, j->config, "job", 0) == QS_OK &&
                    qs_job_opts_model(&o) == QS_OK, "%s: %s", j->config, qs_errmsg());
        T_CHECK(memcmp(&o.model, &j->model, sizeof o.model) == 0, "model cfg differs: %s",
                j->config);
        if (j->phase == QS_PHASE_FLOAT)
            continue;
        T_CHECK(!strcmp(j->parent, g.jobs[0].id), "retrain %d: parent", i);
        if (j->model.bp_learned) {
            learned++;
            T_CHECK(j->model.bp_learned == QS_BP_LEARN_W && j->model.wbits == 8 &&
                        j->model.bp_init == 6 && j->model.bp_bmin == 1, "learned model");
            T_CHECK(strstr(j->config, "\"wbits\":\"learned\"") &&
                        strstr(j->config, "\"bp_lambda\":0.2") &&
                        strstr(j->config, "\"bp_weighting\":\"macs\"") &&
                        strstr(j->config, "\"bp_init\":6") && strstr(j->config, "\"bp_bmin\":1"),
                    "learned job JSON: %s", j->config);
        } else {
            T_CHECK(!strstr(j->config, "bp_"), "fixed-width job JSON: %s", j->config);
        }
    }
    T_CHECK(learned == 1, "%d learned retrains", learned);
    qs_grid_free(&g);
}

typedef struct {
    const char *name;
    const char *text;
    const char *want[3]; /* substrings of the report */
} bad_case;

#define AX "\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":128}"

static const bad_case BAD[] = {
    {"unknown top-level key", "{\"name\":\"b\"," AX ",\"colour\":1}",
     {"bad.json: colour: unknown key (allowed: name, "}},
    {"unknown nested key", "{\"name\":\"b\"," AX ",\"float\":{\"epoch\":3}}",
     {"bad.json: float.epoch: unknown key (allowed: optimizer, lr,"}},
    {"protocol axis value", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":8,"
                            "\"retrain.lr\":[1e-3,0]}}",
     {"bad.json: axes.retrain.lr[1]: 0 is out of range (allowed: above 0..1e+06)"}},
    {"protocol axis phase", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":8,"
                            "\"quant.lr\":[1e-3]}}",
     {"bad.json: axes.quant.lr: \"quant\" is not a phase"}},
    {"protocol axis key", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":8,"
                          "\"float.shape\":\"triangle\",\"retrain.milestones\":[0.5]}}",
     {"bad.json: axes.float.shape: \"shape\" is not a protocol setting of the float phase",
      "bad.json: axes.retrain.milestones: milestones is a list setting and cannot be an axis"}},
    {"protocol axis and object", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,"
                                 "\"width\":8,\"retrain.epochs\":[2,3]},\"retrain\":{\"epochs\":4}}",
     {"bad.json: retrain.epochs: also an axis (axes.retrain.epochs): give one"}},
    {"label_smoothing negative", "{\"name\":\"b\"," AX ",\"float\":{\"label_smoothing\":-0.1}}",
     {"bad.json: float.label_smoothing: -0.10000000000000001 is out of range (allowed: 0..1, "
      "1 excluded)"}},
    {"label_smoothing 1", "{\"name\":\"b\"," AX ",\"retrain\":{\"label_smoothing\":1.0}}",
     {"bad.json: retrain.label_smoothing: 1 is out of range (allowed: 0..1, 1 excluded)"}},
    {"label_smoothing string", "{\"name\":\"b\"," AX ",\"clr\":{\"label_smoothing\":\"x\"}}",
     {"bad.json: clr.label_smoothing: must be a number, not a string"}},
    {"unknown axis", "{\"name\":\"b\",\"axes\":{\"depth\":4,\"width\":8,\"colour\":[1]}}",
     {"bad.json: axes.colour: unknown key"}},
    {"wrong type", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":\"4\",\"width\":128}}",
     {"bad.json: axes.depth: must be an integer in 2..100000, not a string"}},
    {"depth not 6n+2", "{\"name\":\"b\",\"dataset\":{\"name\":\"cifar10\"},\"axes\":{\"block\":\"basic\","
                       "\"depth\":[8,20,21],\"width\":16}}",
     {"bad.json: axes.depth[2]: depth 21 is not 6n+2 for block \"basic\""}},
    {"depth not 9n+2 in a case", "{\"name\":\"b\",\"axes\":{\"arch\":\"resnet\"},\"cases\":"
                                 "[{\"block\":\"depthwise\",\"depth\":21,\"width\":8}]}",
     {"bad.json: cases[0].depth: depth 21 is not 9n+2 for block \"depthwise\""}},
    {"bits", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":128,\"wbits\":[2,9]}}",
     {"bad.json: axes.wbits[1]: 9 is not a bit width (allowed: 1..8, or 32 = float)"}},
    {"1-bit activations", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":128,\"abits\":1}}",
     {"bad.json: axes.abits: 1 is not a bit width (allowed: 2..8, or 32 = float)"}},
    {"axes and cases set one key", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4},"
                                   "\"cases\":[{\"depth\":3,\"width\":8}]}",
     {"bad.json: cases[0].depth: \"depth\" is also an axis"}},
    {"missing name", "{" AX "}", {"bad.json: name: missing"}},
    {"missing axes", "{\"name\":\"b\"}", {"bad.json: axes: missing"}},
    {"missing width", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4}}",
     {"bad.json: axes.width: missing"}},
    {"case missing width", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\"},\"cases\":[{\"depth\":4,"
                           "\"width\":8},{\"depth\":3}]}",
     {"bad.json: cases[1].width: missing"}},
    {"invalid JSON", "{\"name\":\"b\",\n\"axes\": {,}}", {"bad.json: invalid JSON near line 2"}},
    {"not an object", "[1, 2]", {"bad.json: a grid is one JSON object, not a list"}},
    {"unknown dataset", "{\"name\":\"b\",\"dataset\":{\"name\":\"mnist\"}," AX "}",
     {"bad.json: dataset.name: \"mnist\" is not allowed (allowed: synthetic, fashion-mnist, cifar10, imagenet)"}},
    {"arch without its data", "{\"name\":\"b\",\"dataset\":{\"name\":\"cifar10\"}," AX "}",
     {"bad.json: axes.arch: \"fcdnn\" needs \"synthetic\" data (this grid has \"cifar10\")"}},
    {"width budget key", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":{\"param\":1e5}}}",
     {"bad.json: axes.width.param: unknown key (allowed: params)"}},
    {"milestones", "{\"name\":\"b\"," AX ",\"retrain\":{\"milestones\":[0.8,0.5]}}",
     {"bad.json: retrain.milestones[1]: milestones must increase"}},
    {"alpha init", "{\"name\":\"b\"," AX ",\"quant\":{\"pact_alpha_init\":\"q5\"}}",
     {"bad.json: quant.pact_alpha_init: \"q5\" is not allowed"}},
    {"unknown quantizer", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":8,"
                          "\"wbits\":2,\"quantizer\":[\"hwang-pact\",\"lsq\"]}}",
     {"bad.json: axes.quantizer[1]: \"lsq\" is not allowed (allowed: hwang-pact, lsq+)"}},
    {"quantizer type", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"width\":8},"
                       "\"cases\":[{\"depth\":4,\"quantizer\":2}]}",
     {"bad.json: cases[0].quantizer: must be a string (allowed: hwang-pact, lsq+), not a number"}},
    {"lsq settings", "{\"name\":\"b\"," AX ",\"quant\":{\"lsq_per_channel\":1,"
                     "\"lsq_winit\":\"max\"}}",
     {"bad.json: quant.lsq_per_channel: must be true or false, not a number",
      "bad.json: quant.lsq_winit: \"max\" is not allowed (allowed: mse, mean)"}},
    {"lsq+ at 1 bit", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":8,"
                      "\"wbits\":[1,2],\"abits\":2,\"quantizer\":\"lsq+\"}}",
     {"bad.json: axes.quantizer: \"lsq+\" needs at least 2 weight bits (this combination has "
      "wbits 1"}},
    {"regularizer", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":128,"
                    "\"regularizer\":[\"none\",\"l2\"]}}",
     {"bad.json: axes.regularizer[1]: \"l2\" is not allowed (allowed: none, lipschitz)"}},
    {"everything excluded", "{\"name\":\"b\"," AX ",\"exclude\":[{\"depth\":4}]}",
     {"bad.json: exclude: every combination is excluded"}},
    {"threads", "{\"name\":\"b\"," AX ",\"threads\":0}",
     {"bad.json: threads: 0 is not an integer in 1..256"}},
    {"list in a case", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"width\":8},\"cases\":[{\"depth\":[3,4]}]}",
     {"bad.json: cases[0].depth: a case pairs single values"}},
    {"duplicate key", "{\"name\":\"b\"," AX ",\"threads\":1,\"threads\":2}",
     {"bad.json: threads: duplicate key"}},
    {"lr and lr_max", "{\"name\":\"b\"," AX ",\"clr\":{\"lr\":1e-3,\"lr_max\":1e-3}}",
     {"bad.json: clr.lr_max: lr and lr_max are the same setting"}},
    {"shape outside clr", "{\"name\":\"b\"," AX ",\"float\":{\"shape\":\"triangle\"}}",
     {"bad.json: float.shape: unknown key"}},
    {"synthetic setting", "{\"name\":\"b\"," AX ",\"synthetic\":{\"radii\":12}}",
     {"bad.json: synthetic.radii: only the default (10) can be used"}},
    {"empty axis", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":[],\"width\":8}}",
     {"bad.json: axes.depth: empty list"}},
    /* Learned bit widths (BitPruning): the axis value, its settings. */
    {"learned typo", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":8,"
                     "\"wbits\":[\"lerned\",2],\"abits\":true}}",
     {"bad.json: axes.wbits[0]: \"lerned\" is not a bit width (allowed: 1..8, 32 = float, or "
      "\"learned\")", "bad.json: axes.abits: must be a bit width (2..8, or 32 = float), not a "
      "boolean"}},
    {"lsq+ learned", "{\"name\":\"b\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,\"width\":8,"
                     "\"wbits\":\"learned\",\"abits\":2,\"quantizer\":\"lsq+\"}}",
     {"bad.json: axes.quantizer: \"lsq+\" does not learn bit widths"}},
    {"bp quant settings", "{\"name\":\"b\"," AX ",\"quant\":{\"bp_init\":\"8\",\"bp_bmin\":3}}",
     {"bad.json: quant.bp_init: must be a number", "bad.json: quant.bp_bmin: 3 is not an integer "
      "in 1..2"}},
    {"bp_init below bmin", "{\"name\":\"b\"," AX ",\"quant\":{\"bp_init\":1.5}}",
     {"bad.json: quant.bp_init: 1.5 is below quant.bp_bmin 2"}},
    {"bp_init range", "{\"name\":\"b\"," AX ",\"quant\":{\"bp_init\":9,\"bp_bmin\":1}}",
     {"bad.json: quant.bp_init: 9 is out of range (allowed: 1..8)"}},
    {"bp retrain settings", "{\"name\":\"b\"," AX ",\"retrain\":{\"bp_lambda\":-0.5,"
                            "\"bp_weighting\":\"flops\",\"bp_lr_scale\":0}}",
     {"bad.json: retrain.bp_lambda: -0.5 is out of range (allowed: 0..1e+06)", "bad.json: retrain.bp_weighting: \"flops\" is "
      "not allowed (allowed: uniform, params, macs)", "bad.json: retrain.bp_lr_scale: 0 is out of range (allowed: above 0..1e+06)"}},
    {"bp types", "{\"name\":\"b\"," AX ",\"retrain\":{\"bp_lambda\":\"0.1\","
                 "\"bp_finetune_epochs\":1.5},\"float\":{\"bp_lambda\":0.1}}",
     {"bad.json: retrain.bp_lambda: must be a number", "bad.json: retrain.bp_finetune_epochs: 1.5 "
      "is not an integer", "bad.json: float.bp_lambda: unknown key"}},
    /* Every problem of a grid in one report. */
    {"all problems together",
     "{\"name\":\"b\",\"dataset\":{\"name\":\"cifar10\"},\"axes\":{\"block\":\"basic\","
     "\"depth\":[8,21],\"width\":16,\"wbits\":[2,9]},\"float\":{\"epochs\":0},\"extra\":true}",
     {"bad.json: axes.depth[1]: depth 21 is not 6n+2", "bad.json: axes.wbits[1]: 9 is not a bit width",
      "bad.json: float.epochs: 0 is not an integer in 1..1000000"}},
};

static void grid_bad_grids(void)
{
    int n = (int)(sizeof BAD / sizeof BAD[0]);
    for (int i = 0; i < n; i++) {
        qs_grid g;
        char *errors = NULL;
        int rc = parse(&g, BAD[i].text, &errors);
        T_CHECK(rc == QS_EINVAL, "%s: rc %d", BAD[i].name, rc);
        T_CHECK(errors, "%s: no report", BAD[i].name);
        for (int k = 0; k < 3 && BAD[i].want[k]; k++)
            T_CHECK(strstr(errors, BAD[i].want[k]), "%s: want \"%s\" in:\n%s", BAD[i].name,
                    BAD[i].want[k], errors);
        T_CHECK(g.njobs == 0 && g.jobs == NULL, "%s: jobs left", BAD[i].name);
        free(errors);
    }
}

static void grid_report_every_problem(void)
{
    qs_grid g;
    char *errors = NULL;
    const char *text = BAD[sizeof BAD / sizeof BAD[0] - 1].text;
    T_CHECK(parse(&g, text, &errors) == QS_EINVAL && errors, "rc");
    int lines = 1;
    for (const char *p = errors; *p; p++)
        lines += *p == '\n';
    /* extra, depth[1], wbits[1], float.epochs. */
    T_CHECK(lines == 4, "%d lines:\n%s", lines, errors);
    T_CHECK(strstr(errors, "bad.json: extra: unknown key"), "%s", errors);
    free(errors);
}

static void grid_missing_data_dir(void)
{
    qs_grid g;
    char *errors = NULL;
    const char *text = "{\"name\":\"b\",\"dataset\":{\"name\":\"fashion-mnist\",\"path\":"
                       "\"/nonexistent/fm\"},\"axes\":{\"block\":\"basic\",\"depth\":8,\"width\":8}}";
    /* expand does not look at data; the sweep does. */
    T_CHECK(qs_grid_parse(&g, text, "d.json", 0, &errors) == QS_OK, "expand needs no data");
    qs_grid_free(&g);
    int rc = qs_grid_parse(&g, text, "d.json", 1, &errors);
    T_CHECK(rc == QS_EINVAL && errors, "rc %d", rc);
    T_CHECK(strstr(errors, "d.json: dataset.path: ") && strstr(errors, "/nonexistent/fm"), "%s",
            errors);
    free(errors);
}

static void grid_load_missing_file(void)
{
    qs_grid g;
    char *errors = NULL;
    int rc = qs_grid_load(&g, "/nonexistent/grid.json", 0, &errors);
    T_CHECK(rc == QS_EIO && errors && strstr(errors, "/nonexistent/grid.json"), "rc %d %s", rc,
            errors ? errors : "");
    free(errors);
}

/* label_smoothing (one job spec row): written only when non-zero, so a
 * grid without it keeps its ids; read back by the worker into the trainer's
 * configuration. */
static void grid_label_smoothing(void)
{
    qs_grid g, h;
    char a[512], b[512];
    snprintf(a, sizeof a, "{\"name\":\"ls\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,"
             "\"width\":16,\"wbits\":[32,2],\"abits\":[32,2]}}");
    snprintf(b, sizeof b, "{\"name\":\"ls\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":4,"
             "\"width\":16,\"wbits\":[32,2],\"abits\":[32,2]},"
             "\"float\":{\"label_smoothing\":0.1}}");
    T_CHECK(ok_grid(&g, a) == QS_OK && ok_grid(&h, b) == QS_OK, "parse");
    T_CHECK(g.njobs == 4 && h.njobs == 4, "%d, %d phases", g.njobs, h.njobs);
    int floats = 0;
    for (int i = 0; i < h.njobs; i++) {
        const qs_grid_job *j = &h.jobs[i], *k = &g.jobs[i];
        T_CHECK(isnan(cfg_num(k, "label_smoothing")), "written at its default: %s", k->config);
        if (j->phase == QS_PHASE_FLOAT) {
            floats++;
            T_CHECK(cfg_num(j, "label_smoothing") == 0.1, "float: %s", j->config);
            T_CHECK(strcmp(j->id, k->id) != 0, "float id unchanged by label_smoothing");
            qs_job_opts o;
            qs_train_cfg c;
            qs_job_opts_default(&o);
            T_CHECK(qs_job_opts_from_json(&o, j->config, "job", 0) == QS_OK &&
                        qs_job_opts_train_cfg(&o, &c) == QS_OK, "%s", qs_errmsg());
            T_CHECK(c.label_smoothing == 0.1, "read back %g", c.label_smoothing);
        } else {
            /* Another phase's override: retrains keep the default. */
            T_CHECK(isnan(cfg_num(j, "label_smoothing")), "retrain: %s", j->config);
        }
    }
    T_CHECK(floats == 1, "%d float phases", floats);
    qs_grid_free(&g);
    qs_grid_free(&h);
}

/* "axes": {"retrain.lr": [...]}: the retrains (and their clr children)
 * split by value; the float phases, which do not use it, keep the ids of
 * the grid without the axis and are shared. */
static void grid_protocol_axis(void)
{
    qs_grid g, h;
    const char *plain = "{\"name\":\"p\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":[4,6],"
                        "\"width\":16,\"wbits\":[32,2],\"abits\":2,\"clr\":[false,true]}}";
    const char *swept = "{\"name\":\"p\",\"axes\":{\"arch\":\"fcdnn\",\"depth\":[4,6],"
                        "\"width\":16,\"wbits\":[32,2],\"abits\":2,\"clr\":[false,true],"
                        "\"retrain.lr\":[1e-4,0.003],\"clr.shape\":[\"triangle\",\"sawtooth\"]}}";
    T_CHECK(ok_grid(&g, plain) == QS_OK && ok_grid(&h, swept) == QS_OK, "parse");
    int nf = 0, nr = 0, nc = 0;
    for (int i = 0; i < h.njobs; i++) {
        const qs_grid_job *j = &h.jobs[i];
        nf += j->phase == QS_PHASE_FLOAT;
        nr += j->phase == QS_PHASE_RETRAIN;
        nc += j->phase == QS_PHASE_CLR;
        if (j->phase == QS_PHASE_FLOAT)
            T_CHECK(qs_grid_find(&g, j->id) >= 0, "float %s not shared with the plain grid",
                    j->config);
        if (j->phase == QS_PHASE_RETRAIN)
            T_CHECK(cfg_num(j, "lr") == 1e-4 || cfg_num(j, "lr") == 0.003, "%s", j->config);
        if (j->phase == QS_PHASE_CLR) {
            const qs_grid_job *r = parent_of(&h, j);
            T_CHECK(r && r->phase == QS_PHASE_RETRAIN, "clr parent");
            T_CHECK(cfg_str_is(j, "clr_shape", "triangle") || cfg_str_is(j, "clr_shape", "sawtooth"),
                    "%s", j->config);
        }
    }
    /* 2 depths: 2 floats; 2 bits x 2 lr = 4 retrains each; 2 shapes per
     * retrain for clr. */
    T_CHECK(nf == 2 && nr == 8 && nc == 16, "%d float, %d retrain, %d clr", nf, nr, nc);
    qs_grid_free(&g);
    qs_grid_free(&h);
}

int main(void)
{
    T_RUN(grid_spec_example);
    T_RUN(grid_ids_stable_and_threads);
    T_RUN(grid_order_and_find);
    T_RUN(grid_config_roundtrip);
    T_RUN(grid_cifar_defaults);
    T_RUN(grid_float_combos_dropped);
    T_RUN(grid_exclude_and_cases);
    T_RUN(grid_fcdnn_block_residual);
    T_RUN(grid_mixed_datasets);
    T_RUN(grid_label_smoothing);
    T_RUN(grid_protocol_axis);
    T_RUN(grid_learned_bits);
    T_RUN(grid_bad_grids);
    T_RUN(grid_report_every_problem);
    T_RUN(grid_missing_data_dir);
    T_RUN(grid_load_missing_file);
    T_EXIT();
}
