/* ImageNet-scale models of Table 1 and Figure 7 (methods.md section 1),
 * laid out as torchvision's so their parameter counts match exactly:
 *
 * imagenet-resnet (torchvision resnet, "v1.5"): 7x7 stride-2 conv stem,
 * BN, ReLU, 3x3 stride-2 max pool (pad 1); four stages of widths k, 2k,
 * 4k, 8k (k = cfg.width, 64 in torchvision) with cfg.stage_blocks blocks
 * each, stride 2 on the first block of stages 2-4; global average pool,
 * linear. Basic block: conv3x3-BN-ReLU-conv3x3-BN, add, ReLU. Bottleneck:
 * conv1x1-BN-ReLU-conv3x3(stride)-BN-ReLU-conv1x1(4x)-BN, add, ReLU; the
 * stride sits on the 3x3 as in torchvision (v1.5), not on the first 1x1.
 * Shortcut when the shape changes: 1x1 conv (stride) + BN. Convs carry no
 * bias (BN follows each); the linear does.
 *
 * mobilenetv2 (torchvision mobilenet_v2): the standard (t, c, n, s) table,
 * every width scaled by cfg.width_mult and rounded to a multiple of 8 as
 * torchvision's _make_divisible; stem 3x3 stride-2 conv to 32 x mult, last
 * 1x1 conv to 1280 x max(1, mult), global pool, linear. Inverted residual:
 * [1x1 expand (t x input width)-BN-act] (left out when t = 1), dw3x3
 * (stride)-BN-act, 1x1 project-BN (linear bottleneck), identity add when
 * stride 1 and widths equal (no projection shortcut: this is MobileNetV2's
 * own block, unlike the CIFAR depthwise ResNet's). act is ReLU6 in float
 * as the paper's MobileNetV2 and torchvision use; quantized (abits < 32)
 * each ReLU6 becomes a PACT quantizer, a clip at a learned alpha instead of
 * at 6 (the nodes keep their ReLU6 mark, so PACT calibration's float pass
 * sees ReLU6). torchvision's classifier dropout (p 0.2) is not modelled (qsweep
 * has no dropout; it has no parameters, so counts are unaffected). */
#include <math.h>
#include <stdio.h>

#include "err.h"
#include "model_plan.h"

static int is_bottleneck(const qs_model_cfg *c) { return c->block == QS_BLOCK_BOTTLENECK; }

int qs_model_imnet_validate(const qs_model_cfg *c)
{
    if (c->in_h < 32 || c->in_w < 32)
        return qs_err(QS_EINVAL, "%s input %dx%d is too small (at least 32x32: the network "
                      "downsamples 32x)", c->arch == QS_ARCH_MOBILENETV2 ? "mobilenetv2"
                      : "imagenet-resnet", c->in_h, c->in_w);
    if (c->arch == QS_ARCH_MOBILENETV2) {
        if (!(c->width_mult > 0.0 && c->width_mult <= 10.0))
            return qs_err(QS_EINVAL, "mobilenetv2 width multiplier %g is out of range "
                          "(allowed: > 0 and <= 10, 1.0 = standard)", c->width_mult);
        return QS_OK;
    }
    if (c->block != QS_BLOCK_BASIC && !is_bottleneck(c))
        return qs_err(QS_EINVAL, "imagenet-resnet block \"%s\" is not allowed (allowed: basic, "
                      "bottleneck)", qs_block_name(c->block));
    int sum = 0;
    for (int s = 0; s < QS_IMNET_STAGES; s++) {
        if (c->stage_blocks[s] < 1 || c->stage_blocks[s] > 1000)
            return qs_err(QS_EINVAL, "imagenet-resnet stage %d has %d blocks (allowed: 1..1000 "
                          "per stage, four stages, e.g. 2,2,2,2)", s + 1, c->stage_blocks[s]);
        sum += c->stage_blocks[s];
    }
    int mult = is_bottleneck(c) ? 3 : 2, want = mult * sum + 2;
    if (c->depth != want)
        return qs_err(QS_EINVAL, "imagenet-resnet depth %d does not match blocks %d,%d,%d,%d "
                      "with %s blocks (%d x %d + 2 = %d)", c->depth, c->stage_blocks[0],
                      c->stage_blocks[1], c->stage_blocks[2], c->stage_blocks[3],
                      qs_block_name(c->block), mult, sum, want);
    return QS_OK;
}

void qs_model_imnet_name(char *buf, size_t len, const qs_model_cfg *c)
{
    if (c->arch == QS_ARCH_MOBILENETV2)
        snprintf(buf, len, "mobilenetv2-%.4g", c->width_mult);
    else
        snprintf(buf, len, "imagenet-resnet-%s-%d-%d-%d.%d.%d.%d", qs_block_name(c->block),
                 c->depth, c->width, c->stage_blocks[0], c->stage_blocks[1],
                 c->stage_blocks[2], c->stage_blocks[3]);
}

/* Shortcut of a block whose input `in` has cin channels: identity, or a 1x1
 * conv (stride) + BN when the shape changes. */
static int shortcut(qs_planner *p, int in, int cout, int stride)
{
    if (stride == 1 && qs_plan_node(p, in)->c == cout)
        return in;
    return qs_plan_bn(p, qs_plan_conv(p, in, cout, 1, stride, 0, 0));
}

static int block_basic(qs_planner *p, int in, int planes, int stride)
{
    int a = qs_plan_relu(p, qs_plan_bn(p, qs_plan_conv(p, in, planes, 3, stride, 1, 0)));
    a = qs_plan_bn(p, qs_plan_conv(p, a, planes, 3, 1, 1, 0));
    int sc = shortcut(p, in, planes, stride);
    return qs_plan_relu(p, qs_plan_add(p, a, sc, 1.0f));
}

static int block_bottleneck(qs_planner *p, int in, int planes, int stride)
{
    int a = qs_plan_relu(p, qs_plan_bn(p, qs_plan_conv(p, in, planes, 1, 1, 0, 0)));
    a = qs_plan_relu(p, qs_plan_bn(p, qs_plan_conv(p, a, planes, 3, stride, 1, 0)));
    a = qs_plan_bn(p, qs_plan_conv(p, a, 4 * planes, 1, 1, 0, 0));
    int sc = shortcut(p, in, 4 * planes, stride);
    return qs_plan_relu(p, qs_plan_add(p, a, sc, 1.0f));
}

static int plan_resnet(qs_planner *p, int x)
{
    const qs_model_cfg *c = &p->m->cfg;
    int h = qs_plan_relu(p, qs_plan_bn(p, qs_plan_conv(p, x, c->width, 7, 2, 3, 0)));
    h = qs_plan_maxpool(p, h, 3, 2, 1);
    for (int s = 0; s < QS_IMNET_STAGES; s++)
        for (int b = 0; b < c->stage_blocks[s]; b++) {
            int stride = (s > 0 && b == 0) ? 2 : 1, planes = c->width << s;
            h = is_bottleneck(c) ? block_bottleneck(p, h, planes, stride)
                                 : block_basic(p, h, planes, stride);
        }
    return qs_plan_linear(p, qs_plan_gap(p, h), c->classes, 1);
}

/* torchvision's _make_divisible(v, 8): the nearest multiple of 8, at least
 * 8, and never more than 10 % below v. */
static int make_divisible(double v)
{
    int nv = (int)floor(v + 4.0) / 8 * 8;
    if (nv < 8)
        nv = 8;
    if (nv < 0.9 * v)
        nv += 8;
    return nv;
}

static int inverted_residual(qs_planner *p, int in, int oup, int stride, int t)
{
    int inp = qs_plan_node(p, in)->c, a = in;
    if (t != 1)
        a = qs_plan_relu6(p, qs_plan_bn(p, qs_plan_conv(p, a, inp * t, 1, 1, 0, 0)));
    a = qs_plan_relu6(p, qs_plan_bn(p, qs_plan_conv(p, a, 0, 3, stride, 1, 1)));
    a = qs_plan_bn(p, qs_plan_conv(p, a, oup, 1, 1, 0, 0));
    return (stride == 1 && inp == oup) ? qs_plan_add(p, a, in, 1.0f) : a;
}

static int plan_mobilenetv2(qs_planner *p, int x)
{
    /* MobileNetV2 (Sandler et al. 2018), Table 2: expansion t, width c,
     * repeats n, first stride s. */
    static const int table[7][4] = {
        {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
        {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
    };
    const qs_model_cfg *c = &p->m->cfg;
    const double wm = c->width_mult;
    int h = qs_plan_relu6(p, qs_plan_bn(p, qs_plan_conv(p, x, make_divisible(32 * wm), 3, 2, 1, 0)));
    for (int r = 0; r < 7; r++)
        for (int i = 0; i < table[r][2]; i++)
            h = inverted_residual(p, h, make_divisible(table[r][1] * wm), i == 0 ? table[r][3] : 1,
                                  table[r][0]);
    int last = make_divisible(1280 * (wm > 1.0 ? wm : 1.0));
    h = qs_plan_relu6(p, qs_plan_bn(p, qs_plan_conv(p, h, last, 1, 1, 0, 0)));
    return qs_plan_linear(p, qs_plan_gap(p, h), c->classes, 1);
}

int qs_plan_imnet(qs_planner *p, int x)
{
    if (p->m->cfg.arch == QS_ARCH_MOBILENETV2)
        plan_mobilenetv2(p, x);
    else
        plan_resnet(p, x);
    return p->err;
}
