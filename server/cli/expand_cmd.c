/* `qsweep expand GRID.json [--dry-run]`: the phases a grid expands to, with
 * their parameters and expected cost, as JSON lines, then a summary. Needs
 * no data and no database: it is how a grid is checked before a sweep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "bp_model.h"
#include "err.h"
#include "lsq_model.h"
#include "grid.h"

/* Training throughput assumed for the time estimate, in GFLOP/s on one
 * core: `qsweep bench --model resnet --block basic --depth 20 --width 31
 * --threads 1` measured 55.9 on the 2-core development machine (OpenBLAS
 * Haswell kernels). Quantized phases and small models run below it, so the
 * estimate is a lower bound (docs/grid.md). */
#define QS_EST_GFLOP_S_1CORE 55.0

static const qs_opt expand_opts[] = {
    {"--job-json", NULL, "instead, one line per phase: PHASE_ID, a tab, its job JSON"},
    {"--dry-run", NULL, "accepted for symmetry with the sweep (expand never runs anything)"},
    {NULL, NULL, NULL}};
static const qs_cmd_spec expand_spec = {
    "expand", "expand GRID.json [--job-json]", expand_opts,
    "prints one JSON object per phase (parents first), then a summary\n"
    "{\"phases\":N,\"gflop\":G,\"est_hours_1core\":H}; no data or database needed.\n"
    "Exit 0, or 2 listing every problem of the grid.\n", 1, 0, NULL};

static void print_jstr(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_job(const qs_grid_job *j)
{
    printf("{\"phase_id\":\"%s\",\"phase\":\"%s\",", j->id, qs_phase_name(j->phase));
    if (j->parent[0])
        printf("\"parent\":\"%s\",", j->parent);
    else
        printf("\"parent\":null,");
    /* quantizer as the runs view spells it: "none" for a float phase,
     * "ptq" for a ptq phase. */
    printf("\"model\":\"%s\",\"params\":%ld,\"wbits\":%d,\"abits\":%d,\"regularizer\":\"%s\","
           "\"quantizer\":\"%s\",\"clr\":%s,\"seed\":%lld,\"epochs\":%d,\"gflop\":%.6g,"
           "\"dataset\":\"%s\",",
           j->model_name, j->params, j->model.wbits, j->model.abits, j->regularizer,
           j->phase == QS_PHASE_FLOAT || j->phase == QS_PHASE_COMPRESS ? "none"
           : j->phase == QS_PHASE_PTQ ? "ptq" : qs_bp_quantizer_label(&j->model),
           j->clr ? "true" : "false", j->seed, j->epochs, j->gflop, qs_data_kind_name(j->data));
    printf("\"arch\":\"%s\",", qs_arch_name(j->model.arch));
    if (j->model.arch == QS_ARCH_RESNET || j->model.arch == QS_ARCH_IMNET_RESNET)
        printf("\"block\":\"%s\",", qs_block_name(j->model.block));
    else
        printf("\"block\":null,");
    /* Only for their archs, so the other lines stay as they were. */
    if (j->model.arch == QS_ARCH_IMNET_RESNET)
        printf("\"blocks\":[%d,%d,%d,%d],", j->model.stage_blocks[0], j->model.stage_blocks[1],
               j->model.stage_blocks[2], j->model.stage_blocks[3]);
    if (j->model.arch == QS_ARCH_MOBILENETV2)
        printf("\"width_mult\":%.6g,", j->model.width_mult);
    printf("\"depth\":%d,\"width\":%d,\"residual\":%s,\"threads\":%d,\"train_images\":%d,"
           "\"model_bits\":%.0f,\"bops\":%.6g}\n",
           j->model.depth, j->model.width, j->model.residual ? "true" : "false", j->threads,
           j->train_images, j->model_bits, j->bops);
}

int qs_cmd_expand(int argc, char **argv)
{
    qs_args a;
    int st = qs_args_parse(&a, &expand_spec, argc, argv);
    if (st >= 0)
        return st;
    if (a.npos == 0)
        return qs_args_fail(&expand_spec, "give the grid file (GRID.json)");
    const char *path = a.pos[0];
    /* The exact text each id hashes: tests/fixtures/phase_ids.txt pins it
     * so a refactor cannot move an id silently. */
    int job_json = qs_arg_given(&a, "--job-json");
    qs_grid g;
    char *errors = NULL;
    int rc = qs_grid_load(&g, path, 0, &errors);
    if (rc) {
        fprintf(stderr, "%s\n", errors ? errors : qs_errmsg());
        fprintf(stderr, "qsweep expand: %s\n", qs_errmsg());
        free(errors);
        return qs_exit_status(rc);
    }
    if (job_json) {
        for (int i = 0; i < g.njobs; i++)
            printf("%s\t%s\n", g.jobs[i].id, g.jobs[i].config);
        qs_grid_free(&g);
        return 0;
    }
    double gflop = 0;
    for (int i = 0; i < g.njobs; i++) {
        print_job(&g.jobs[i]);
        gflop += g.jobs[i].gflop;
    }
    printf("{\"sweep\":");
    print_jstr(g.name);
    printf(",\"phases\":%d,\"gflop\":%.6g,\"est_hours_1core\":%.4g,"
           "\"assumed_gflop_s_1core\":%g}\n",
           g.njobs, gflop, gflop / QS_EST_GFLOP_S_1CORE / 3600.0, QS_EST_GFLOP_S_1CORE);
    qs_grid_free(&g);
    return 0;
}
