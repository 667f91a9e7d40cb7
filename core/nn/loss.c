/* Softmax cross-entropy over logits [n, classes]. */
#include "layers.h"

#include <math.h>

double qs_softmax_xent(float *dlogits, int *correct, const float *logits,
                       const int *labels, int n, int classes,
                       float grad_scale)
{
    return qs_softmax_xent_ls(dlogits, correct, logits, labels, n, classes, grad_scale, 0.0);
}

/* logits [n, classes], labels [n] in [0, classes); target t = (1 - eps)
 * onehot + eps / classes (PyTorch's label_smoothing);
 * dlogits [n, classes] = (softmax - t) * grad_scale (or NULL);
 * returns the mean over rows of -sum_j t_j log softmax_j
 *   = lse - (1 - eps) z_y - (eps / classes) sum_j z_j.
 * eps = 0 takes the plain path: the same bits as before smoothing existed
 * (and no 0 * inf from a sum of huge logits). */
double qs_softmax_xent_ls(float *dlogits, int *correct, const float *logits,
                          const int *labels, int n, int classes,
                          float grad_scale, double eps)
{
    const int smooth = eps > 0;
    const double off = smooth ? eps / classes : 0.0, on = 1.0 - eps + off;
    double total = 0.0;
    int hits = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * classes;
        /* strict '>' keeps the lowest index on ties; the max also shifts
         * the exponentials so none overflows */
        int arg = 0;
        float mx = z[0];
        for (int j = 1; j < classes; j++)
            if (z[j] > mx) {
                mx = z[j];
                arg = j;
            }
        double se = 0.0;
        for (int j = 0; j < classes; j++)
            se += exp((double)z[j] - mx);
        double lse = mx + log(se);
        int y = labels[i];
        if (smooth) {
            double sz = 0.0;
            for (int j = 0; j < classes; j++)
                sz += z[j];
            total += lse - (1.0 - eps) * (double)z[y] - off * sz;
        } else {
            total += lse - (double)z[y];
        }
        hits += arg == y;
        if (dlogits) {
            float *d = dlogits + (size_t)i * classes;
            for (int j = 0; j < classes; j++) {
                double p = exp((double)z[j] - lse);
                double t = smooth ? (j == y ? on : off) : (double)(j == y);
                d[j] = (float)((p - t) * grad_scale);
            }
        }
    }
    if (correct)
        *correct = hits;
    return n > 0 ? total / n : 0.0;
}
