/* Student's t quantile by bisection on the t distribution function,
 * written through the regularized incomplete beta function (continued
 * fraction, modified Lentz), and Welch's interval. Bisection rather than
 * a series approximation: one accurate method for every df, fractional
 * ones from Welch-Satterthwaite included, at a cost (about 100 beta
 * evaluations) that is nothing next to the database query. */
#include <math.h>

#include "stats.h"

const char *const qs_verdict_names[4] = {"holds", "within noise", "contradicted",
                                         "not enough data"};

/* Continued fraction of I_x(a, b); converges fast for x < (a+1)/(a+b+2). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 500; m++) {
        double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        for (int k = 0; k < 2; k++) {
            d = 1 + num * d;
            if (fabs(d) < tiny)
                d = tiny;
            c = 1 + num / c;
            if (fabs(c) < tiny)
                c = tiny;
            d = 1 / d;
            h *= d * c;
            if (k == 0)
                num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        }
        if (fabs(d * c - 1) < 1e-15)
            break;
    }
    return h;
}

/* Regularized incomplete beta I_x(a, b). */
static double ibeta(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1) / (a + b + 2))
        return front * beta_cf(a, b, x) / a;
    return 1 - front * beta_cf(b, a, 1 - x) / b;
}

/* P(T > t) for t >= 0. */
static double t_upper(double t, double df)
{
    return 0.5 * ibeta(df / 2, 0.5, df / (df + t * t));
}

double qs_t_quantile(double p, double df)
{
    if (!(p > 0 && p < 1) || !(df > 0))
        return NAN;
    if (p < 0.5)
        return -qs_t_quantile(1 - p, df);
    double tail = 1 - p, lo = 0, hi = 1;
    if (tail == 0.5)
        return 0;
    /* Bracket: t_upper falls from 0.5 towards 0 as t grows. */
    while (t_upper(hi, df) > tail && hi < 1e300)
        hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (t_upper(mid, df) > tail)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

void qs_mean_std(double *mean, double *std, const double *x, int n)
{
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    double m = n > 0 ? s / n : NAN;
    /* Two passes: the sum-of-squares shortcut loses digits at accuracies
     * near 90 % with spreads of hundredths. */
    for (int i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *std = n > 1 ? sqrt(ss / (n - 1)) : NAN;
}

void qs_mean_std_sums(double *mean, double *std, double sum, double sumsq, int n)
{
    *mean = n > 0 ? sum / n : NAN;
    *std = n > 1 ? sqrt(fmax(0, (sumsq - sum * sum / n) / (n - 1))) : NAN;
}

void qs_welch_interval(qs_welch *out, const double *a, int na, const double *b, int nb,
                       double level)
{
    double ma, sa, mb, sb;
    qs_mean_std(&ma, &sa, a, na);
    qs_mean_std(&mb, &sb, b, nb);
    out->na = na;
    out->nb = nb;
    out->diff = na > 0 && nb > 0 ? ma - mb : NAN;
    out->se = out->df = out->lo = out->hi = NAN;
    out->v = QS_V_NODATA;
    if (na < 2 || nb < 2)
        return;
    double va = sa * sa / na, vb = sb * sb / nb;
    out->se = sqrt(va + vb);
    if (out->se > 0) {
        out->df = (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1));
        double h = qs_t_quantile(0.5 + level / 2, out->df) * out->se;
        out->lo = out->diff - h;
        out->hi = out->diff + h;
    } else {
        /* Every value equal on both sides: no spread to estimate, the
         * interval is the difference itself. */
        out->lo = out->hi = out->diff;
    }
    out->v = out->lo > 0 ? QS_V_HOLDS : out->hi < 0 ? QS_V_CONTRA : QS_V_NOISE;
}
