/* Softmax cross-entropy over logits [n, classes]. */
#include "layers.h"

#include <math.h>

/* logits [n, classes], labels [n] in [0, classes);
 * dlogits [n, classes] = (softmax - onehot) * grad_scale (or NULL);
 * returns the mean over rows of -log softmax[label]. */
double qs_softmax_xent(float *dlogits, int *correct, const float *logits,
                       const int *labels, int n, int classes,
                       float grad_scale)
{
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
        total += lse - (double)z[y];
        hits += arg == y;
        if (dlogits) {
            float *d = dlogits + (size_t)i * classes;
            for (int j = 0; j < classes; j++) {
                double p = exp((double)z[j] - lse);
                d[j] = (float)((p - (j == y)) * grad_scale);
            }
        }
    }
    if (correct)
        *correct = hits;
    return n > 0 ? total / n : 0.0;
}
