/* ImageNet-scale models (core/nn/model_imnet.c): parameter counts against
 * torchvision's (resnet18, resnet50, mobilenet_v2 with 1000 classes: every
 * weight, bias and BN gamma/beta, no running stats) and Table 1's rows,
 * shapes, configuration errors, and a whole-model directional
 * finite-difference gradient check on tiny inputs. */
#include <string.h>

#include "err.h"
#include "gemm.h"
#include "layers.h"
#include "model.h"
#include "model_check.h"
#include "tharness.h"

static qs_model_cfg resnet_cfg(qs_block b, int width, int b0, int b1, int b2, int b3, int classes)
{
    qs_model_cfg c;
    memset(&c, 0, sizeof c);
    c.arch = QS_ARCH_IMNET_RESNET;
    c.block = b;
    c.width = width;
    c.stage_blocks[0] = b0;
    c.stage_blocks[1] = b1;
    c.stage_blocks[2] = b2;
    c.stage_blocks[3] = b3;
    c.depth = (b == QS_BLOCK_BOTTLENECK ? 3 : 2) * (b0 + b1 + b2 + b3) + 2;
    c.in_c = 3;
    c.in_h = c.in_w = 224;
    c.classes = classes;
    c.wbits = c.abits = 32;
    c.first_last_bits = 8;
    return c;
}

static qs_model_cfg mbv2_cfg(double mult, int classes)
{
    qs_model_cfg c;
    memset(&c, 0, sizeof c);
    c.arch = QS_ARCH_MOBILENETV2;
    c.width_mult = mult;
    c.in_c = 3;
    c.in_h = c.in_w = 224;
    c.classes = classes;
    c.wbits = c.abits = 32;
    c.first_last_bits = 8;
    return c;
}

/* torchvision.models' counts (sum of p.numel() over parameters()). */
static void test_torchvision_counts(void)
{
    qs_model_cfg c = resnet_cfg(QS_BLOCK_BASIC, 64, 2, 2, 2, 2, 1000);
    T_CHECK(qs_model_param_count(&c) == 11689512, "resnet18: %ld", qs_model_param_count(&c));
    c = resnet_cfg(QS_BLOCK_BASIC, 64, 3, 4, 6, 3, 1000);
    T_CHECK(qs_model_param_count(&c) == 21797672, "resnet34: %ld", qs_model_param_count(&c));
    c = resnet_cfg(QS_BLOCK_BOTTLENECK, 64, 3, 4, 6, 3, 1000);
    T_CHECK(qs_model_param_count(&c) == 25557032, "resnet50: %ld", qs_model_param_count(&c));
    c = resnet_cfg(QS_BLOCK_BOTTLENECK, 64, 3, 4, 23, 3, 1000);
    T_CHECK(qs_model_param_count(&c) == 44549160, "resnet101: %ld", qs_model_param_count(&c));
    c = mbv2_cfg(1.0, 1000);
    T_CHECK(qs_model_param_count(&c) == 3504872, "mobilenet_v2: %ld", qs_model_param_count(&c));
}

/* Table 1 of the paper: depth, width, blocks per stage, params_m,
 * gflops. Depth 18/26/34 use basic blocks, 44/50/101
 * bottleneck (2 x 12 + 2 = 26, 3 x 14 + 2 = 44). */
static const struct { int depth, width, blocks[4]; double params_m, gflops; } table1[] = {
    {34, 64, {3, 4, 6, 3}, 21.8, 3.7},  {18, 90, {2, 2, 2, 2}, 22.8, 3.5},
    {26, 70, {3, 3, 3, 3}, 21.4, 3.3},  {50, 64, {3, 4, 6, 3}, 25.6, 4.1},
    {44, 72, {3, 4, 5, 2}, 25.0, 4.6},  {101, 64, {3, 4, 23, 3}, 44.6, 7.9},
    {50, 85, {3, 4, 6, 3}, 44.2, 7.2},
};

static void test_table1_counts(void)
{
    for (size_t i = 0; i < sizeof table1 / sizeof table1[0]; i++) {
        const int *b = table1[i].blocks;
        int sum = b[0] + b[1] + b[2] + b[3];
        qs_block blk = 2 * sum + 2 == table1[i].depth ? QS_BLOCK_BASIC : QS_BLOCK_BOTTLENECK;
        qs_model_cfg c = resnet_cfg(blk, table1[i].width, b[0], b[1], b[2], b[3], 1000);
        T_CHECK(c.depth == table1[i].depth, "row %zu: depth %d from blocks, table %d", i,
                c.depth, table1[i].depth);
        double n = (double)qs_model_param_count(&c) / 1e6;
        double rel = fabs(n - table1[i].params_m) / table1[i].params_m;
        printf("# table 1 ResNet-%d width %d: %.3fM (paper %.1fM, %+.2f%%)\n", c.depth,
               c.width, n, table1[i].params_m, 100 * (n - table1[i].params_m) / table1[i].params_m);
        T_CHECK(rel < 0.03, "ResNet-%d width %d: %.3fM vs paper %.1fM (%.1f%%)", c.depth,
                c.width, n, table1[i].params_m, 100 * rel);
        /* the paper's GFLOPs are multiply-accumulates at 224 x 224 (ResNet-101:
         * 7.80 G here and in torchvision, 7.9 in the paper) */
        qs_model_cost k;
        T_CHECK(qs_model_cost_get(&k, &c) == 0, "cost");
        printf("#   %.3f GMAC (paper %.1f GFLOPs)\n", k.macs / 1e9, table1[i].gflops);
        T_CHECK(fabs(k.macs / 1e9 - table1[i].gflops) <= 0.03 * table1[i].gflops,
                "ResNet-%d width %d: %.3f GMAC vs paper %.1f GFLOPs", c.depth, c.width,
                k.macs / 1e9, table1[i].gflops);
    }
}

/* Node shapes of the standard models at 224x224: stem pool to 56x56,
 * last feature map 7x7 with 512 (basic) / 2048 (bottleneck) / 1280
 * (mobilenetv2) channels; widths follow _make_divisible. */
static void test_shapes(void)
{
    qs_model m;
    qs_model_cfg c = resnet_cfg(QS_BLOCK_BOTTLENECK, 64, 3, 4, 6, 3, 1000);
    T_CHECK(qs_model_build(&m, &c, 1) == 0, "build resnet50: %s", qs_errmsg());
    int pool = -1;
    for (int i = 0; i < m.nnode; i++)
        if (m.nodes[i].type == QS_NODE_MAXPOOL)
            pool = i;
    T_CHECK(pool == 4 && m.nodes[pool].h == 56 && m.nodes[pool].c == 64, "pool node %d", pool);
    const qs_node *g = &m.nodes[m.nnode - 2];
    const qs_node *f = &m.nodes[g->in0];
    T_CHECK(g->type == QS_NODE_GAP && g->c == 2048 && f->h == 7 && f->w == 7, "last map %dx%dx%d",
            f->c, f->h, f->w);
    qs_model_free(&m);
    c = mbv2_cfg(0.5, 1000);
    T_CHECK(qs_model_build(&m, &c, 1) == 0, "build mobilenetv2 0.5: %s", qs_errmsg());
    T_CHECK(m.nodes[1].c == 16 && m.nodes[1].h == 112, "stem %d x %d", m.nodes[1].c, m.nodes[1].h);
    g = &m.nodes[m.nnode - 2];
    T_CHECK(g->c == 1280 && m.nodes[g->in0].h == 7, "last %d at %d", g->c, m.nodes[g->in0].h);
    int relu6 = 0;
    for (int i = 0; i < m.nnode; i++)
        relu6 += m.nodes[i].type == QS_NODE_RELU && m.nodes[i].relu6;
    T_CHECK(relu6 == 1 + 2 * 17 - 1 + 1, "ReLU6 count %d", relu6); /* first block has no expand */
    qs_model_free(&m);
    c = mbv2_cfg(1.4, 1000);
    T_CHECK(qs_model_build(&m, &c, 1) == 0, "build mobilenetv2 1.4");
    T_CHECK(m.nodes[1].c == 48 && m.nodes[m.nnode - 2].c == 1792, "1.4: stem %d last %d",
            m.nodes[1].c, m.nodes[m.nnode - 2].c);
    qs_model_free(&m);
    /* quantized: every ReLU6 point is PACT, and stays marked ReLU6 for
     * the float pass of PACT calibration */
    c = mbv2_cfg(1.0, 10);
    c.wbits = c.abits = 2;
    T_CHECK(qs_model_build(&m, &c, 1) == 0, "build w2a2");
    for (int i = 0; i < m.nnode; i++)
        T_CHECK(m.nodes[i].type != QS_NODE_RELU || (m.nodes[i].abits == 2 && m.nodes[i].relu6),
                "node %d not PACT", i);
    qs_model_free(&m);
}

static void test_invalid(void)
{
    qs_model_cfg c = resnet_cfg(QS_BLOCK_BASIC, 64, 2, 2, 2, 2, 1000);
    c.depth = 20;
    T_CHECK(qs_model_cfg_validate(&c) == QS_EINVAL && strstr(qs_errmsg(), "does not match"),
            "depth mismatch: %s", qs_errmsg());
    c = resnet_cfg(QS_BLOCK_PREACT, 64, 2, 2, 2, 2, 1000);
    T_CHECK(qs_model_cfg_validate(&c) == QS_EINVAL && strstr(qs_errmsg(), "bottleneck"),
            "preact: %s", qs_errmsg());
    c = resnet_cfg(QS_BLOCK_BASIC, 64, 2, 0, 2, 2, 1000);
    T_CHECK(qs_model_cfg_validate(&c) == QS_EINVAL && strstr(qs_errmsg(), "stage 2"),
            "empty stage: %s", qs_errmsg());
    c = resnet_cfg(QS_BLOCK_BASIC, 64, 2, 2, 2, 2, 1000);
    c.in_h = 16;
    T_CHECK(qs_model_cfg_validate(&c) == QS_EINVAL, "16x16 input accepted");
    c = mbv2_cfg(0.0, 1000);
    T_CHECK(qs_model_cfg_validate(&c) == QS_EINVAL && strstr(qs_errmsg(), "multiplier"),
            "mult 0: %s", qs_errmsg());
    /* bottleneck is not a CIFAR ResNet block */
    memset(&c, 0, sizeof c);
    c.arch = QS_ARCH_RESNET;
    c.block = QS_BLOCK_BOTTLENECK;
    c.depth = 29;
    c.width = 16;
    c.in_c = 3;
    c.in_h = c.in_w = 32;
    c.classes = 10;
    c.wbits = c.abits = 32;
    c.first_last_bits = 8;
    T_CHECK(qs_model_cfg_validate(&c) == QS_EINVAL, "CIFAR bottleneck accepted");
    char name[96];
    c = resnet_cfg(QS_BLOCK_BOTTLENECK, 72, 3, 4, 5, 2, 1000);
    qs_model_name(name, sizeof name, &c);
    T_CHECK(!strcmp(name, "imagenet-resnet-bottleneck-44-72-3.4.5.2"), "name %s", name);
    c = mbv2_cfg(0.75, 1000);
    qs_model_name(name, sizeof name, &c);
    T_CHECK(!strcmp(name, "mobilenetv2-0.75"), "name %s", name);
}

/* The model gradient check of model_check.h on a random batch of nb (as
 * test_model.c). */
static int grad_check(qs_model_cfg c, int nb, char *why, size_t whylen)
{
    qs_model m;
    qs_rng r;
    int ok = 0;
    double worst = 0;
    char name[64];
    snprintf(name, sizeof name, "%s", why);
    if (qs_model_build(&m, &c, nb) != 0) {
        snprintf(why, whylen, "build: %s", qs_errmsg());
        return 0;
    }
    qs_rng_seed(&r, 7);
    qs_model_init(&m, &r);
    size_t xlen = (size_t)nb * c.in_c * c.in_h * c.in_w;
    float *x = malloc(xlen * sizeof(float));
    int *y = malloc((size_t)nb * sizeof(int));
    if (x && y) {
        for (size_t i = 0; i < xlen; i++)
            x[i] = (float)qs_rng_normal(&r);
        for (int i = 0; i < nb; i++)
            y[i] = (int)qs_rng_below(&r, (uint32_t)c.classes);
        ok = mc_grad_check(&m, x, y, nb, &r, &worst, why, whylen);
        printf("# %s: worst layer |fd - g.v| / (|g.v| + 0.01) = %.4f\n", name, worst);
    } else {
        snprintf(why, whylen, "out of memory");
    }
    free(x);
    free(y);
    qs_model_free(&m);
    return ok;
}

static void test_gradcheck_models(void)
{
    char why[256] = "basic";
    qs_gemm_set_backend(QS_GEMM_NAIVE);
    qs_model_cfg c = resnet_cfg(QS_BLOCK_BASIC, 4, 1, 2, 1, 1, 10);
    c.in_h = c.in_w = 32;
    T_CHECK(grad_check(c, 32, why, sizeof why), "basic: %s", why);
    snprintf(why, sizeof why, "bottleneck");
    c = resnet_cfg(QS_BLOCK_BOTTLENECK, 2, 2, 1, 1, 1, 10);
    c.in_h = c.in_w = 32;
    T_CHECK(grad_check(c, 8, why, sizeof why), "bottleneck: %s", why);
    snprintf(why, sizeof why, "mobilenetv2");
    c = mbv2_cfg(0.25, 10);
    c.in_h = c.in_w = 48;
    T_CHECK(grad_check(c, 8, why, sizeof why), "mobilenetv2: %s", why);
    qs_gemm_set_backend(QS_GEMM_BLAS);
}

int main(void)
{
    T_RUN(test_torchvision_counts);
    T_RUN(test_table1_counts);
    T_RUN(test_shapes);
    T_RUN(test_invalid);
    T_RUN(test_gradcheck_models);
    T_EXIT();
}
