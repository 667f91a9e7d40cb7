/* Optimisers (PyTorch semantics, so references agree) and lr schedules.
 * Schedules are evaluated per iteration (methods.md section 3). */
#ifndef QS_OPTIM_H
#define QS_OPTIM_H

#include <stddef.h>

typedef enum { QS_OPT_SGD = 0, QS_OPT_ADAM = 1 } qs_opt_kind;

typedef struct {
    qs_opt_kind kind;
    double momentum;      /* sgd */
    double weight_decay;  /* L2 added to the gradient (both kinds) */
    double beta1, beta2, eps; /* adam */
} qs_opt_cfg;

/* One update of n parameters. m and v are the optimiser state (v unused by
 * SGD); t is the 1-based step number (Adam's bias correction).
 *   sgd:  b = momentum b + (g + wd p);  p -= lr b
 *   adam: m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;  g' = g + wd p
 *         p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) */
void qs_opt_step(float *p, float *m, float *v, const float *g, size_t n,
                 const qs_opt_cfg *cfg, double lr, long t);

typedef enum {
    QS_SCHED_CONST = 0, QS_SCHED_STEP = 1, QS_SCHED_COSINE = 2, QS_SCHED_CLR = 3
} qs_sched_kind;

#define QS_MAX_MILESTONES 8

typedef struct {
    qs_sched_kind kind;
    double lr;                      /* base lr; clr: lr_max */
    double milestones[QS_MAX_MILESTONES]; /* step: fractions of the plan */
    int nmilestones;
    double gamma;                   /* step: factor at each milestone */
    double lr_min;                  /* clr */
    double period;                  /* clr: epochs per cycle (never scaled) */
    int clr_shape;                  /* qs_clr_shape */
} qs_sched;

/* lr at iteration it (0-based) of a plan of total iterations. */
double qs_sched_lr(const qs_sched *s, long it, long total, int iters_per_epoch);
const char *qs_sched_name(qs_sched_kind k);

/* Names in enum order, NULL-terminated: qs_opt_kind, qs_sched_kind and
 * qs_clr_shape (quant.h). */
extern const char *const qs_opt_names[];
extern const char *const qs_sched_names[];
extern const char *const qs_clr_shape_names[];
/* Index of s in names, or -1. */
int qs_name_index(const char *const *names, const char *s);

#endif
