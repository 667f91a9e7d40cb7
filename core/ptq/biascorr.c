/* Empirical bias correction (ptq.h, docs/ptq.md): the quantized layer's
 * mean output error per channel on the calibration images, subtracted from
 * its bias, one layer at a time in graph order so that each correction
 * sees the inputs the corrected layers before it give. */
#include "ptq_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

void qs_ptq_calib_pass(qs_model *m, const qs_ptq_calib *cal, qs_ptq_batch_fn fn, void *user)
{
    const size_t per = (size_t)cal->c * cal->h * cal->w;
    for (int s = 0; s < cal->n; s += m->max_batch) {
        int nb = cal->n - s < m->max_batch ? cal->n - s : m->max_batch;
        qs_model_forward(m, cal->x + (size_t)s * per, nb, 0);
        if (fn)
            fn(user, m, s, nb);
    }
}

void qs_ptq_float_view(qs_model *m, int *saved)
{
    for (int i = 0; i < m->nnode; i++) {
        saved[2 * i] = m->nodes[i].wbits;
        saved[2 * i + 1] = m->nodes[i].abits;
        m->nodes[i].wbits = m->nodes[i].abits = 32;
    }
}

void qs_ptq_quant_view(qs_model *m, const int *saved)
{
    for (int i = 0; i < m->nnode; i++) {
        m->nodes[i].wbits = saved[2 * i];
        m->nodes[i].abits = saved[2 * i + 1];
    }
    m->weights_dirty = 1;
}

int qs_ptq_readable(const qs_model *m, int i)
{
    for (int j = i + 1; j < m->nnode; j++)
        if (m->nodes[j].out == m->nodes[i].out)
            return 0;
    return 1;
}

void qs_ptq_channel_sums(double *acc, const qs_model *m, int i, int nb)
{
    const qs_node *n = &m->nodes[i];
    const size_t hw = (size_t)n->h * n->w;
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < n->c; c++) {
            const float *p = n->out + ((size_t)b * n->c + c) * hw;
            double s = 0;
            for (size_t k = 0; k < hw; k++)
                s += p[k];
            acc[c] += s;
        }
}

/* The layers bias correction touches: weighted, with a bias, output kept. */
static int correctable(const qs_model *m, int i)
{
    long off;
    return qs_ptq_bias_node(m, i, &off) >= 0 && qs_ptq_readable(m, i);
}

typedef struct {
    double **acc;    /* [nnode] -> [c], NULL for layers not measured */
} sums_ctx;

static void add_sums(void *user, qs_model *m, int s, int nb)
{
    sums_ctx *c = user;
    for (int i = 0; i < m->nnode; i++)
        if (c->acc[i])
            qs_ptq_channel_sums(c->acc[i], m, i, nb);
}

/* Per-channel means of the layers in want (or every correctable layer
 * when want < 0) over cal, in the model's current view. */
static int channel_means(double **acc, qs_model *m, const qs_ptq_calib *cal, int want)
{
    for (int i = 0; i < m->nnode; i++) {
        if (!(want < 0 ? correctable(m, i) : i == want))
            continue;
        if (!(acc[i] = calloc((size_t)m->nodes[i].c, sizeof(double))))
            return qs_err(QS_ENOMEM, "out of memory for bias correction");
    }
    sums_ctx c = {acc};
    qs_ptq_calib_pass(m, cal, add_sums, &c);
    for (int i = 0; i < m->nnode; i++)
        for (int k = 0; acc[i] && k < m->nodes[i].c; k++)
            acc[i][k] /= (double)cal->n * m->nodes[i].h * m->nodes[i].w;
    return QS_OK;
}

static void free_acc(double **acc, int n)
{
    for (int i = 0; acc && i < n; i++)
        free(acc[i]);
    free(acc);
}

void qs_ptq_means_free(float **fmean, const qs_model *m)
{
    for (int i = 0; fmean && i < m->nnode; i++)
        free(fmean[i]);
    free(fmean);
}

int qs_ptq_float_means(float **fmean, qs_model *m, const qs_ptq_calib *cal)
{
    int rc = QS_OK;
    int *saved = malloc(2 * (size_t)m->nnode * sizeof(int));
    double **acc = calloc((size_t)m->nnode, sizeof(double *));
    if (!saved || !acc) {
        rc = qs_err(QS_ENOMEM, "out of memory for bias correction");
        goto cleanup;
    }
    memset(fmean, 0, (size_t)m->nnode * sizeof(float *));
    qs_ptq_float_view(m, saved);
    rc = channel_means(acc, m, cal, -1);
    qs_ptq_quant_view(m, saved);
    for (int i = 0; rc == QS_OK && i < m->nnode; i++) {
        if (!acc[i])
            continue;
        if (!(fmean[i] = malloc((size_t)m->nodes[i].c * sizeof(float)))) {
            rc = qs_err(QS_ENOMEM, "out of memory for bias correction");
            break;
        }
        for (int k = 0; k < m->nodes[i].c; k++)
            fmean[i][k] = (float)acc[i][k];
    }
cleanup:
    free_acc(acc, m->nnode);
    free(saved);
    return rc;
}

int qs_ptq_bias_correct(int *ncorrected, qs_model *m, const qs_ptq_calib *cal,
                        float *const *fmean)
{
    int rc = QS_OK, count = 0;
    double **acc = calloc((size_t)m->nnode, sizeof(double *));
    if (!acc)
        return qs_err(QS_ENOMEM, "out of memory for bias correction");
    for (int i = 0; i < m->nnode; i++) {
        long off;
        if (!fmean[i] || qs_ptq_bias_node(m, i, &off) < 0)
            continue;
        if ((rc = channel_means(acc, m, cal, i)) != QS_OK)
            break;
        for (int k = 0; k < m->nodes[i].c; k++)
            m->param[off + k] -= (float)(acc[i][k] - (double)fmean[i][k]);
        free(acc[i]);
        acc[i] = NULL;
        count++;
    }
    free_acc(acc, m->nnode);
    if (ncorrected)
        *ncorrected = count;
    return rc;
}
