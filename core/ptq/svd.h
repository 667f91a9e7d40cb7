/* SVD compression of a layer weight (docs/ptq-methods.md): W [m, n]
 * (a conv's [out, in kh kw], a linear's [out, in]) replaced by its rank-r
 * factorisation W ~ A B with A = U_r S_r [m, r] and B = V_r^T [r, n].
 * For a conv, B is a kh x kw conv from in to r channels and A a 1x1 conv
 * from r to out channels; parameters fall from m n to r (m + n).
 * The SVD is LAPACK's sgesvd (OpenBLAS, through pkg-config openblas). */
#ifndef QS_SVD_H
#define QS_SVD_H

/* Thin SVD of row-major w [m, n], k = min(m, n): s [k] descending,
 * u [m, k], vt [k, n] row-major, w = u diag(s) vt. */
int qs_svd(float *s, float *u, float *vt, const float *w, int m, int n);

/* The smallest r whose leading singular values keep `energy` of
 * sum s_i^2 (0 < energy <= 1); s [k] descending. */
int qs_svd_rank_energy(int *r, const float *s, int k, double energy);
/* The largest r with r (m + n) <= params (at least 1 when params allows
 * rank 1; below that an error), at most min(m, n). */
int qs_svd_rank_budget(int *r, int m, int n, long params);
/* Parameters of the factorised pair: r (m + n). */
long qs_svd_params(int m, int n, int r);

/* The factors of rank r (1 <= r <= min(m, n)): a [m, r] = U_r S_r,
 * b [r, n] = V_r^T. *rel_err (may be NULL) gets ||W - a b||_F / ||W||_F. */
int qs_svd_factor(float *a, float *b, double *rel_err, const float *w, int m, int n, int r);

#endif
