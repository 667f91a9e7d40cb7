/* `qsweep bench`: training-step speed of one model and the BLAS it runs on;
 * `qsweep info`: parameter count and cost of a model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "clock.h"
#include "args.h"
#include "blas_fix.h"
#include "cmd.h"
#include "err.h"
#include "gemm.h"
#include "layers.h"
#include "lsq.h"
#include "lsq_model.h"
#include "opts.h"
#include "optim.h"
#include "parse.h"
#include "simd.h"

/* 1-minute load average, -1 when unknown */
static double load1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* GFLOP/s of a 2048^3 sgemm at the current BLAS thread count (best of 3). */
static double sgemm_gflops(void)
{
    const int n = 2048;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    double best = 0;
    if (!a || !b || !c)
        goto cleanup;
    for (long i = 0; i < (long)n * n; i++) {
        a[i] = (float)(i % 7) * 1e-3f;
        b[i] = (float)(i % 5) * 1e-3f;
    }
    qs_sgemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); /* warm-up */
    for (int r = 0; r < 3; r++) {
        double t0 = qs_now_s();
        qs_sgemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double g = 2.0 * n * n * n / (qs_now_s() - t0) / 1e9;
        if (g > best)
            best = g;
    }
cleanup:
    free(a);
    free(b);
    free(c);
    return best;
}

/* The model options bench and info read (the train flags of the job
 * spec, the same parser as `qsweep train`). */
#define MODEL_OPTS_HELP \
    "  --model resnet|fcdnn|imagenet-resnet|mobilenetv2\n" \
    "  --block basic|preact|depthwise (resnet; imagenet-resnet: basic|bottleneck)\n" \
    "  --depth D  --width K | --params N (width solved for a parameter budget)\n" \
    "  --residual (fcdnn)  --blocks N1,N2,N3,N4  --width-mult M (mobilenetv2)\n" \
    "  --data synthetic|fashion-mnist|cifar10 (input shape and classes; no files read)\n" \
    "  --wbits B --abits B (1..8, 32 = float)  --first-last-bits B\n" \
    "  --quantizer hwang-pact|lsq+\n"

static void bench_help(FILE *f)
{
    fprintf(f, MODEL_OPTS_HELP
               "  (without --model: resnet basic, depth 20, width 31 on CIFAR-10's input)\n"
               "  --batch N (128)  --threads T (1)  --steps N (5)  --reps R (1)\n"
               "every other `qsweep train` flag is accepted and ignored\n"
               "prints one JSON object: img_per_s, gflop_s, sgemm_gflop_s,\n"
               "peak_fraction, rss_mb, blas, blas_core, kernels; also load1 (load\n"
               "average at the start) and cpu_util (CPU seconds / (wall\n"
               "seconds x threads) of the best rep: < 0.9 means other\n"
               "processes took the cores). --reps R times R runs of N steps\n"
               "and reports the fastest.\n");
}

static void info_help(FILE *f)
{
    fprintf(f, MODEL_OPTS_HELP
               "--model is required, and the shape train would need (--depth, --width or\n"
               "--params for resnet and fcdnn). Prints one JSON object: model, width,\n"
               "params, macs, gflop_per_img_train, wbits, abits, model_bits, bops.\n");
}

static const qs_cmd_spec bench_spec = {
    "bench", "bench [model options] [--batch N] [--threads T] [--steps N] [--reps R]", NULL,
    NULL, 0, 0, bench_help};
static const qs_cmd_spec info_spec = {
    "info", "info --model M [model options]", NULL, NULL, 0, 0, info_help};

static int parse_model(qs_job_opts *o, int argc, char **argv, int bench)
{
    int rc;
    qs_job_opts_default(o);
    if ((rc = qs_job_opts_parse(o, argc, argv, bench)))
        return rc;
    /* info describes the model asked for; bench times Table 5's basic-20-31
     * on CIFAR-sized input unless told otherwise. */
    if (!o->have_model && !bench)
        return qs_err(QS_EINVAL, "which model? give --model resnet|fcdnn|imagenet-resnet|"
                      "mobilenetv2 and its shape, e.g. --model resnet --depth 20 --width 31");
    if (!o->have_model) {
        o->model.arch = QS_ARCH_RESNET;
        o->have_model = 1;
    }
    if (!o->have_data)
        o->data = o->model.arch == QS_ARCH_RESNET ? QS_DATA_CIFAR10 : QS_DATA_SYNTHETIC;
    if (bench && !o->have_depth && o->model.arch == QS_ARCH_RESNET) {
        o->model.depth = 20;
        o->have_depth = 1;
    }
    if (bench && !o->have_width && o->model.arch == QS_ARCH_RESNET) {
        o->model.width = 31;
        o->have_width = 1;
    }
    return qs_job_opts_model(o);
}

int qs_cmd_bench(int argc, char **argv)
{
    qs_job_opts o;
    qs_model m;
    int rc;
    memset(&m, 0, sizeof m);
    if ((rc = qs_args_meta(&bench_spec, argc, argv)) >= 0)
        return rc;
    /* --reps is bench-only: take it out before the shared option parser */
    int reps = 1, ac = 0;
    char **av = malloc(sizeof(char *) * (size_t)(argc + 1));
    if (!av)
        return qs_exit_status(QS_ENOMEM);
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            if (qs_parse_int(&reps, "--reps", argv[++i], 1, 1000)) {
                free(av);
                return qs_args_fail(&bench_spec, "%s", qs_errmsg());
            }
            continue;
        }
        av[ac++] = argv[i];
    }
    av[ac] = NULL;
    rc = parse_model(&o, ac, av, 1);
    free(av);
    if (rc)
        return qs_args_fail(&bench_spec, "%s", qs_errmsg());
    double load = load1();
    int B = qs_js_isset(&o.proto, QS_JS_BATCH) ? (int)o.proto.v[QS_JS_BATCH] : 128, steps = o.steps > 0 ? o.steps : 5;
    qs_set_threads(o.threads);
    if ((rc = qs_model_build(&m, &o.model, B))) {
        fprintf(stderr, "qsweep bench: %s\n", qs_errmsg());
        return qs_exit_status(rc);
    }
    qs_rng rng;
    qs_rng_seed(&rng, 1);
    qs_model_init(&m, &rng);
    /* Quantized bench: fixed alphas stand in for calibration. */
    for (int i = 0; i < m.nnode; i++)
        if (m.nodes[i].alpha_off >= 0) /* LSQ+: the step whose top level is 4 */
            m.param[m.nodes[i].alpha_off] =
                o.model.quantizer == QS_QUANT_LSQ ? 4.0f / qs_lsq_ap(m.nodes[i].abits) : 4.0f;
    qs_lsq_init_weights(&m); /* LSQ weight steps (a no-op otherwise) */
    m.quant_ready = 1;
    size_t xlen = (size_t)B * o.model.in_c * o.model.in_h * o.model.in_w;
    float *x = malloc(xlen * sizeof(float));
    float *dl = malloc((size_t)B * o.model.classes * sizeof(float));
    int *y = malloc((size_t)B * sizeof(int));
    if (!x || !dl || !y) {
        fprintf(stderr, "qsweep bench: out of memory\n");
        rc = QS_ENOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < xlen; i++)
        x[i] = (float)qs_rng_normal(&rng);
    for (int i = 0; i < B; i++)
        y[i] = (int)qs_rng_below(&rng, (uint32_t)o.model.classes);
    qs_opt_cfg oc = {QS_OPT_SGD, 0.9, 5e-4, 0.9, 0.999, 1e-8};
    double secs = 0, cpu = 0;
    long t = 1;
    for (int r = 0; r < reps; r++) {
        double t0 = 0, c0 = 0;
        for (int s = r ? 0 : -1; s < steps; s++) { /* step -1 warms up */
            if (s == 0) {
                t0 = qs_now_s();
                c0 = qs_cpu_s();
            }
            const float *lg = qs_model_forward(&m, x, B, 1);
            qs_softmax_xent(dl, NULL, lg, y, B, o.model.classes, 1.0f / B);
            qs_model_backward(&m, dl, B);
            qs_opt_step(m.param, m.opt_m, m.opt_v, m.grad, (size_t)m.nparam, &oc, 1e-3, t++);
            m.weights_dirty = 1;
        }
        double w = qs_now_s() - t0, c = qs_cpu_s() - c0;
        if (r == 0 || w < secs) {
            secs = w;
            cpu = c;
        }
    }
    double ips = (double)steps * B / secs;
    qs_model_cost cost;
    qs_model_cost_get(&cost, &o.model);
    /* the BLAS alone, on as many of its own threads as the job has */
    qs_blas_set_threads(o.threads);
    double peak = sgemm_gflops();
    qs_set_threads(o.threads);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char name[64];
    qs_model_name(name, sizeof name, &o.model);
    double gfs = ips * cost.train_flop / 1e9;
    printf("{\"model\":\"%s\",\"params\":%ld,\"batch\":%d,\"threads\":%d,\"wbits\":%d,"
           "\"abits\":%d,\"quantizer\":\"%s\",\"steps\":%d,\"img_per_s\":%.1f,\"gflop_per_img\":%.4f,"
           "\"gflop_s\":%.1f,\"sgemm_gflop_s\":%.1f,\"peak_fraction\":%.3f,\"rss_mb\":%ld,"
           "\"blas\":\"%s\",\"blas_core\":\"%s\",\"blas_autofix\":\"%s\",\"kernels\":\"%s\",\"winograd\":%d,\"reps\":%d,"
           "\"load1\":%.2f,\"cpu_util\":%.2f}\n",
           name, m.nparam - m.nalpha, B, o.threads, o.model.wbits, o.model.abits,
           qs_quantizer_name(o.model.quantizer), steps, ips,
           cost.train_flop / 1e9, gfs, peak, peak > 0 ? gfs / peak : 0.0, ru.ru_maxrss / 1024,
           qs_blas_name(), qs_blas_core(), qs_blas_autofix_note(),
           qs_kpath_name(qs_simd_path()), qs_simd_winograd_env() != 0, reps, load,
           secs > 0 ? cpu / (secs * (o.threads > 0 ? o.threads : 1)) : 0.0);
    rc = QS_OK;
cleanup:
    free(x);
    free(dl);
    free(y);
    qs_model_free(&m);
    return qs_exit_status(rc);
}

int qs_cmd_info(int argc, char **argv)
{
    qs_job_opts o;
    qs_model_cost cost;
    int rc = qs_args_meta(&info_spec, argc, argv);
    if (rc >= 0)
        return rc;
    if (parse_model(&o, argc, argv, 0) || qs_model_cost_get(&cost, &o.model))
        return qs_args_fail(&info_spec, "%s", qs_errmsg());
    char name[64];
    qs_model_name(name, sizeof name, &o.model);
    printf("{\"model\":\"%s\",\"width\":%d,\"params\":%ld,\"macs\":%.0f,\"gflop_per_img_train\":%.4f,"
           "\"wbits\":%d,\"abits\":%d,\"model_bits\":%.0f,\"bops\":%.0f}\n",
           name, o.model.width, qs_model_param_count(&o.model), cost.macs, cost.train_flop / 1e9,
           o.model.wbits, o.model.abits, cost.model_bits, cost.bops);
    return 0;
}
