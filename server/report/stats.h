/* The statistics behind the claim verdicts (docs/verdicts.md): Student's t
 * quantile for any positive, also fractional, degrees of freedom, and
 * Welch's interval for a difference of two means with the verdict it
 * gives. No dependency beyond libm. */
#ifndef QS_STATS_H
#define QS_STATS_H

/* The four verdict words, in this order (qs_verdict_names). */
typedef enum { QS_V_HOLDS, QS_V_NOISE, QS_V_CONTRA, QS_V_NODATA } qs_verdict;
extern const char *const qs_verdict_names[4]; /* holds, within noise, contradicted, not enough data */

/* The p quantile (0 < p < 1) of Student's t with df > 0 degrees of
 * freedom; NAN for arguments out of range. Accurate to about 1e-10. */
double qs_t_quantile(double p, double df);

/* Mean and sample standard deviation (n - 1; NAN when n < 2) of x[0..n). */
void qs_mean_std(double *mean, double *std, const double *x, int n);
/* The same from SQL aggregates (sum, sum of squares, count). */
void qs_mean_std_sums(double *mean, double *std, double sum, double sumsq, int n);

typedef struct {
    int na, nb;
    double diff;   /* mean(a) - mean(b); NAN when a side is empty */
    double se;     /* sqrt(sa^2/na + sb^2/nb); NAN when a side has < 2 values */
    double df;     /* Welch-Satterthwaite; NAN when se is 0 or unknown */
    double lo, hi; /* the interval; NAN when a side has < 2 values */
    qs_verdict v;  /* for the claim "a > b" */
} qs_welch;

/* Welch's two-sided interval at level (0.95) for mean(a) - mean(b) and
 * the verdict on the claim mean(a) > mean(b): holds when the interval
 * lies above 0, contradicted below 0, within noise when it contains 0,
 * not enough data with fewer than 2 values on a side. */
void qs_welch_interval(qs_welch *out, const double *a, int na, const double *b, int nb,
                       double level);

#endif
