#include "optim.h"

#include <math.h>
#include <string.h>

#include "quant.h"

void qs_opt_step(float *p, float *m, float *v, const float *g, size_t n,
                 const qs_opt_cfg *cfg, double lr, long t)
{
    const float wd = (float)cfg->weight_decay, flr = (float)lr;
    if (cfg->kind == QS_OPT_SGD) {
        const float mom = (float)cfg->momentum;
        for (size_t i = 0; i < n; i++) {
            float d = g[i] + wd * p[i];
            m[i] = mom * m[i] + d;
            p[i] -= flr * m[i];
        }
        return;
    }
    const float b1 = (float)cfg->beta1, b2 = (float)cfg->beta2, eps = (float)cfg->eps;
    const double bc1 = 1.0 - pow(cfg->beta1, (double)t);
    const double bc2 = 1.0 - pow(cfg->beta2, (double)t);
    /* PyTorch's form: step = lr / bc1, denom = sqrt(v) / sqrt(bc2) + eps. */
    const float step = (float)(lr / bc1), sbc2 = (float)sqrt(bc2);
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * d;
        v[i] = b2 * v[i] + (1.0f - b2) * d * d;
        p[i] -= step * m[i] / (sqrtf(v[i]) / sbc2 + eps);
    }
}

/* The one spelling of each name, in enum order (NULL-terminated): the grid
 * validator, the job JSON and the worker's flags all use these lists. */
const char *const qs_opt_names[] = {"sgd", "adam", NULL};
const char *const qs_sched_names[] = {"const", "step", "cosine", "clr", NULL};
const char *const qs_clr_shape_names[] = {"triangle", "sawtooth", NULL};

int qs_name_index(const char *const *names, const char *s)
{
    for (int i = 0; s && names[i]; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

const char *qs_sched_name(qs_sched_kind k)
{
    return (unsigned)k < 4 ? qs_sched_names[k] : "?";
}

double qs_sched_lr(const qs_sched *s, long it, long total, int iters_per_epoch)
{
    switch (s->kind) {
    case QS_SCHED_CONST:
        return s->lr;
    case QS_SCHED_STEP: {
        double lr = s->lr;
        for (int i = 0; i < s->nmilestones; i++)
            if (it >= lround(s->milestones[i] * (double)total))
                lr *= s->gamma;
        return lr;
    }
    case QS_SCHED_COSINE:
        return total > 0 ? s->lr * 0.5 * (1.0 + cos(M_PI * (double)it / (double)total)) : s->lr;
    case QS_SCHED_CLR:
        return qs_clr_lr(it, iters_per_epoch, s->period, s->lr, s->lr_min,
                         (qs_clr_shape)s->clr_shape);
    }
    return s->lr;
}
