/* Grids of the ImageNet-scale models (server/grid/grid_model.c): the arch
 * values imagenet-resnet and mobilenetv2, the blocks and width_mult keys,
 * the imagenet dataset entry and its tree check; Table 1's seven rows
 * against the published parameter counts (and paper.c's copy of them
 * against paper-results.json); every job JSON read back by the worker's
 * parser into the same model; each new problem at its JSON path. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "grid.h"
#include "opts.h"
#include "paper.h"
#include "tharness.h"

static char root[256];

static int ok_grid(qs_grid *g, const char *text, int check_data)
{
    char *errors = NULL;
    int rc = qs_grid_parse(g, text, "g.json", check_data, &errors);
    if (rc)
        printf("# unexpected problems: %s\n", errors ? errors : qs_errmsg());
    free(errors);
    return rc;
}

/* The problems of a bad grid ("" when it parses). */
static char *problems(const char *text, int check_data)
{
    qs_grid g;
    char *errors = NULL;
    if (qs_grid_parse(&g, text, "bad.json", check_data, &errors) == QS_OK) {
        qs_grid_free(&g);
        return strdup("");
    }
    return errors ? errors : strdup(qs_errmsg());
}

static const qs_grid_job *find_model(const qs_grid *g, const char *name, qs_phase ph)
{
    for (int i = 0; i < g->njobs; i++)
        if (!strcmp(g->jobs[i].model_name, name) && g->jobs[i].phase == ph)
            return &g->jobs[i];
    return NULL;
}

/* A tree of empty .JPEG files: the grid lists names, it decodes nothing. */
static int make_tree(const char *dir, int classes, int per_class)
{
    char p[512];
    const char *splits[2] = {"train", "val"};
    if (mkdir(dir, 0755))
        return 0;
    for (int s = 0; s < 2; s++) {
        snprintf(p, sizeof p, "%s/%s", dir, splits[s]);
        if (mkdir(p, 0755))
            return 0;
        for (int c = 0; c < classes; c++) {
            snprintf(p, sizeof p, "%s/%s/n%08d", dir, splits[s], c);
            if (mkdir(p, 0755))
                return 0;
            for (int k = 0; k < (s ? 1 : per_class); k++) {
                snprintf(p, sizeof p, "%s/%s/n%08d/i%d.JPEG", dir, splits[s], c, k);
                FILE *f = fopen(p, "w");
                if (!f)
                    return 0;
                fclose(f);
            }
        }
    }
    return 1;
}

#define T1_CASES                                                                           \
    "[{\"depth\":34,\"width\":64},{\"depth\":18,\"width\":90},"                            \
    "{\"depth\":26,\"blocks\":[3,3,3,3],\"width\":70},{\"depth\":50,\"width\":64},"        \
    "{\"depth\":44,\"blocks\":[3,4,5,2],\"width\":72},{\"depth\":101,\"width\":64},"       \
    "{\"depth\":50,\"width\":85}]"

/* Table 1 as a grid: seven floats and their W2A2 retrains, each row's
 * stage table and block as the paper's, its count within 3 % of params_m. */
static void grid_imnet_table1_rows(void)
{
    qs_grid g;
    T_CHECK(ok_grid(&g, "{\"name\":\"t1\",\"dataset\":{\"name\":\"imagenet\",\"path\":\"/none\"},"
                        "\"axes\":{\"arch\":\"imagenet-resnet\",\"wbits\":[32,2],\"abits\":[32,2]},"
                        "\"exclude\":[{\"wbits\":32,\"abits\":2},{\"wbits\":2,\"abits\":32}],"
                        "\"cases\":" T1_CASES "}", 0) == QS_OK, "parse");
    T_CHECK(g.njobs == 14, "njobs %d", g.njobs);
    T_CHECK(qs_paper_table1_rows == 7, "rows %d", qs_paper_table1_rows);
    for (int i = 0; i < qs_paper_table1_rows; i++) {
        const qs_paper_t1_row *r = &qs_paper_table1[i];
        char name[64];
        snprintf(name, sizeof name, "imagenet-resnet-%s-%d-%d-%d.%d.%d.%d",
                 r->depth == 44 || r->depth >= 50 ? "bottleneck" : "basic", r->depth, r->width,
                 r->blocks[0], r->blocks[1], r->blocks[2], r->blocks[3]);
        const qs_grid_job *f = find_model(&g, name, QS_PHASE_FLOAT);
        const qs_grid_job *q = find_model(&g, name, QS_PHASE_RETRAIN);
        T_CHECK(f && q, "row %d: no %s", i, name);
        T_CHECK(q->model.wbits == 2 && q->model.abits == 2 && !strcmp(q->parent, f->id),
                "row %d retrain", i);
        double rel = fabs(f->params / 1e6 - r->params_m) / r->params_m;
        T_CHECK(rel <= 0.03, "%s: %.3fM vs %.1fM", name, f->params / 1e6, r->params_m);
        /* ImageNet-1k's 1,281,167 images when the tree is not listed. */
        T_CHECK(f->train_images == 1281167 && f->data == QS_DATA_IMAGENET, "images %d",
                f->train_images);
    }
    qs_grid_free(&g);
}

/* paper.c's Table 1 against ../shared/spec/paper-results.json, where present. */
static void grid_imnet_paper_table1(void)
{
    FILE *f = fopen("../shared/spec/paper-results.json", "rb");
    if (!f) {
        printf("# paper-results.json not found: Table 1 constants not cross-checked\n");
        return;
    }
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    cJSON *j = cJSON_Parse(text);
    T_CHECK(j, "paper-results.json does not parse");
    cJSON *rows = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "table1_imagenet_w2a2"), "rows");
    int nrows = cJSON_GetArraySize(rows);
    for (int i = 0; i < nrows && i < qs_paper_table1_rows; i++) {
        const cJSON *r = cJSON_GetArrayItem(rows, i);
        const qs_paper_t1_row *p = &qs_paper_table1[i];
        int same = !strcmp(cJSON_GetArrayItem(r, 0)->valuestring, p->model) &&
                   cJSON_GetArrayItem(r, 1)->valueint == p->depth &&
                   cJSON_GetArrayItem(r, 2)->valueint == p->width;
        for (int s = 0; s < 4; s++)
            same &= cJSON_GetArrayItem(cJSON_GetArrayItem(r, 3), s)->valueint == p->blocks[s];
        const double v[5] = {p->params_m, p->gflops, p->acc_float, p->acc_w2a2, p->diff};
        for (int k = 0; k < 5; k++)
            same &= cJSON_GetArrayItem(r, 4 + k)->valuedouble == v[k];
        if (!same) {
            cJSON_Delete(j);
            T_CHECK(0, "table 1 row %d differs from paper-results.json", i);
        }
    }
    cJSON_Delete(j);
    T_CHECK(nrows == qs_paper_table1_rows, "table 1: %d rows in the JSON, %d in paper.c", nrows,
            qs_paper_table1_rows);
}

/* A blocks axis (a list of lists), a width_mult axis, both archs crossed:
 * the keys normalise away where they do not apply, and every job JSON reads
 * back through the worker's parser into the model the grid planned. */
static void grid_imnet_axes_roundtrip(void)
{
    qs_grid g;
    T_CHECK(ok_grid(&g, "{\"name\":\"ax\",\"dataset\":{\"name\":\"imagenet\",\"path\":\"/none\","
                        "\"image_size\":64,\"classes\":10},"
                        "\"axes\":{\"arch\":[\"imagenet-resnet\",\"mobilenetv2\"],\"depth\":26,"
                        "\"blocks\":[[3,3,3,3],[2,3,4,3]],\"width_mult\":[0.35,1.4],"
                        "\"width\":{\"params\":2e6},\"wbits\":[32,4],\"abits\":[32,4]}}", 0) == QS_OK,
            "parse");
    /* 2 resnets + 2 mobilenets, each float + W4AF + WFA4 + W4A4 */
    T_CHECK(g.njobs == 16, "njobs %d", g.njobs);
    int nres = 0, nmob = 0;
    for (int i = 0; i < g.njobs; i++) {
        const qs_grid_job *j = &g.jobs[i];
        qs_job_opts o;
        qs_job_opts_default(&o);
        T_CHECK(qs_job_opts_from_json(&o, j->config, "job", 0) == QS_OK, "%s: %s", j->config,
                qs_errmsg());
        T_CHECK(qs_job_opts_model(&o) == QS_OK, "model: %s (%s)", qs_errmsg(), j->config);
        /* The worker takes the class count from the tree it loads (the
         * sweep checked it equals "classes"). */
        T_CHECK(o.model.classes == 1000, "classes before the tree %d", o.model.classes);
        o.model.classes = 10;
        T_CHECK(memcmp(&o.model, &j->model, sizeof o.model) == 0, "model differs: %s",
                j->config);
        T_CHECK(j->model.in_h == 64 && j->model.classes == 10, "geometry %d %d", j->model.in_h,
                j->model.classes);
        if (j->model.arch == QS_ARCH_MOBILENETV2) {
            nmob++;
            T_CHECK(!strstr(j->config, "\"depth\"") && !strstr(j->config, "\"blocks\"") &&
                        strstr(j->config, "\"width_mult\":"), "%s", j->config);
        } else {
            nres++;
            T_CHECK(j->model.arch == QS_ARCH_IMNET_RESNET && j->model.depth == 26 &&
                        !strstr(j->config, "width_mult"), "%s", j->config);
            /* 2,3,4,3 sums to 12 as 3,3,3,3 does: depth 26 is basic for both */
            T_CHECK(j->model.block == QS_BLOCK_BASIC, "block %d", j->model.block);
        }
    }
    T_CHECK(nres == 8 && nmob == 8, "resnets %d, mobilenets %d", nres, nmob);
    T_CHECK(find_model(&g, "mobilenetv2-0.35", QS_PHASE_FLOAT) &&
                find_model(&g, "mobilenetv2-1.4", QS_PHASE_RETRAIN), "mobilenet models");
    qs_grid_free(&g);
    /* blocks in a case is one value; a mobilenetv2-only grid needs no
     * depth or width; imagenet-resnet's width defaults to 64. */
    T_CHECK(ok_grid(&g, "{\"name\":\"c\",\"dataset\":{\"name\":\"cifar10\"},"
                        "\"axes\":{\"arch\":\"imagenet-resnet\"},"
                        "\"cases\":[{\"depth\":44,\"blocks\":[3,4,5,2]},{\"depth\":18}]}", 0) == QS_OK,
            "cases");
    T_CHECK(g.njobs == 2 && find_model(&g, "imagenet-resnet-bottleneck-44-64-3.4.5.2",
                                       QS_PHASE_FLOAT) &&
                find_model(&g, "imagenet-resnet-basic-18-64-2.2.2.2", QS_PHASE_FLOAT),
            "case models");
    T_CHECK(g.jobs[0].model.in_h == 32 && g.jobs[0].model.classes == 10, "cifar geometry");
    qs_grid_free(&g);
    T_CHECK(ok_grid(&g, "{\"name\":\"m\",\"dataset\":{\"name\":\"imagenet\",\"path\":\"/none\"},"
                        "\"axes\":{\"arch\":\"mobilenetv2\"}}", 0) == QS_OK, "mobilenet alone");
    T_CHECK(g.njobs == 1 && !strcmp(g.jobs[0].model_name, "mobilenetv2-1"), "default mult");
    qs_grid_free(&g);
}

/* The sweep lists the tree: its image count is the estimate's, its class
 * count the models'. */
static void grid_imnet_tree_scanned(void)
{
    char dir[300], text[600];
    qs_grid g;
    snprintf(dir, sizeof dir, "%s/t3", root);
    T_CHECK(make_tree(dir, 3, 5), "tree");
    snprintf(text, sizeof text, "{\"name\":\"s\",\"dataset\":{\"name\":\"imagenet\",\"path\":\"%s\","
             "\"image_size\":32},\"axes\":{\"arch\":\"mobilenetv2\"}}", dir);
    T_CHECK(ok_grid(&g, text, 1) == QS_OK, "scanned");
    T_CHECK(g.jobs[0].train_images == 15 && g.jobs[0].model.classes == 3, "images %d classes %d",
            g.jobs[0].train_images, g.jobs[0].model.classes);
    char id[QS_PHASE_ID_LEN + 1];
    memcpy(id, g.jobs[0].id, sizeof id);
    qs_grid_free(&g);
    /* expand (not listed): the same phase id, ImageNet's count */
    T_CHECK(ok_grid(&g, text, 0) == QS_OK, "unscanned");
    T_CHECK(!strcmp(g.jobs[0].id, id) && g.jobs[0].train_images == 1281167, "unscanned: %d",
            g.jobs[0].train_images);
    qs_grid_free(&g);
}

/* Each new problem, at its JSON path. */
static void grid_imnet_problems(void)
{
    char dir[300], text[700];
    snprintf(dir, sizeof dir, "%s/t2", root);
    T_CHECK(make_tree(dir, 2, 1), "tree");
    const struct { const char *grid; int check; const char *want; } cases[] = {
        {"{\"name\":\"b\",\"axes\":{\"arch\":\"imagenet-resnet\",\"depth\":18,\"blocks\":[2,2,2]}}", 0,
         "bad.json: axes.blocks: must be four block counts [N1,N2,N3,N4] (one per stage), not a "
         "list of another length"},
        {"{\"name\":\"b\",\"axes\":{\"arch\":\"imagenet-resnet\",\"depth\":18,"
         "\"blocks\":[[2,2,2,2],[2,0,2,2]]}}", 0,
         "bad.json: axes.blocks[1][1]: 0 is not an integer in 1..1000"},
        {"{\"name\":\"b\",\"axes\":{\"arch\":\"imagenet-resnet\",\"depth\":18,\"blocks\":\"2,2,2,2\"}}", 0,
         "bad.json: axes.blocks: must be four block counts [N1,N2,N3,N4] (one per stage), not a string"},
        {"{\"name\":\"b\",\"axes\":{\"arch\":\"mobilenetv2\",\"width_mult\":[1.0,0]}}", 0,
         "bad.json: axes.width_mult[1]: 0 is out of range"},
        {"{\"name\":\"b\",\"axes\":{\"arch\":\"imagenet-resnet\",\"depth\":26}}", 0,
         "bad.json: axes.depth: imagenet-resnet depth 26 has no standard block table"},
        {"{\"name\":\"b\",\"axes\":{\"arch\":\"imagenet-resnet\"},"
         "\"cases\":[{\"depth\":18},{\"depth\":40,\"blocks\":[3,4,6,3]}]}", 0,
         "bad.json: cases[1].depth: imagenet-resnet depth 40 does not match blocks 3,4,6,3"},
        {"{\"name\":\"b\",\"axes\":{\"arch\":\"imagenet-resnet\",\"width\":64}}", 0,
         "bad.json: axes.depth: missing (give depth in axes or in every case)"},
        {"{\"name\":\"b\",\"dataset\":{\"name\":\"imagenet\",\"path\":\"/none\"},"
         "\"axes\":{\"arch\":\"resnet\",\"depth\":20,\"width\":16}}", 0,
         "bad.json: axes.arch: \"resnet\" needs image (\"fashion-mnist\" or \"cifar10\") data "
         "(this grid has \"imagenet\")"},
        {"{\"name\":\"b\",\"dataset\":{\"name\":\"synthetic\"},\"axes\":{\"arch\":\"mobilenetv2\"}}", 0,
         "bad.json: axes.arch: \"mobilenetv2\" needs image (\"imagenet\", \"fashion-mnist\" or "
         "\"cifar10\") data (this grid has \"synthetic\")"},
        {"{\"name\":\"b\",\"dataset\":{\"name\":\"cifar10\",\"image_size\":64},"
         "\"axes\":{\"arch\":\"mobilenetv2\"}}", 0,
         "bad.json: dataset.image_size: only \"imagenet\" data takes image_size"},
        {"{\"name\":\"b\",\"dataset\":{\"name\":\"imagenet\",\"image_size\":16},"
         "\"axes\":{\"arch\":\"mobilenetv2\"}}", 0,
         "bad.json: dataset.image_size: 16 is not an integer in 32..1024"},
        {"{\"name\":\"b\",\"dataset\":{\"name\":\"imagenet\",\"path\":\"/nonexistent/inet\"},"
         "\"axes\":{\"arch\":\"mobilenetv2\"}}", 1, "bad.json: dataset.path: /nonexistent/inet/"},
        {"{\"name\":\"b\",\"dataset\":{\"name\":\"imagenet\"},\"axes\":{\"arch\":\"mobilenetv2\"}}", 1,
         "bad.json: dataset: imagenet needs its folder ROOT"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = problems(cases[i].grid, cases[i].check);
        int ok = p && strstr(p, cases[i].want) != NULL;
        if (!ok)
            printf("# case %zu: got \"%s\"\n", i, p ? p : "(null)");
        free(p);
        T_CHECK(ok, "case %zu: want \"%s\"", i, cases[i].want);
    }
    /* a class count the tree does not have */
    snprintf(text, sizeof text, "{\"name\":\"b\",\"dataset\":{\"name\":\"imagenet\",\"path\":\"%s\","
             "\"classes\":1000},\"axes\":{\"arch\":\"mobilenetv2\"}}", dir);
    char *p = problems(text, 1);
    char want[400];
    snprintf(want, sizeof want, "bad.json: dataset.classes: 1000 classes, but %s/train has 2 "
             "class directories", dir);
    int ok = p && strstr(p, want);
    if (!ok)
        printf("# got \"%s\"\n", p ? p : "(null)");
    free(p);
    T_CHECK(ok, "classes mismatch");
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/qs_grid_imnet_XXXXXX");
    if (!mkdtemp(root)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }
    T_RUN(grid_imnet_table1_rows);
    T_RUN(grid_imnet_paper_table1);
    T_RUN(grid_imnet_axes_roundtrip);
    T_RUN(grid_imnet_tree_scanned);
    T_RUN(grid_imnet_problems);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", root);
    T_EXIT();
}
