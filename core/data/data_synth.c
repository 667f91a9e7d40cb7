/* Synthetic semicircle data (methods.md section 6).
 *
 * Choices the spec leaves open, all documented here:
 * - Core points: for radius r = 1..radii, the upper semicircle takes angles
 *   pi * i / (points - 1), i = 0..points-1 (both ends included), and the
 *   lower one pi + pi * i / (points - 1). So the points at angle pi and at
 *   angle 0 == 2 pi appear once in each semicircle; that keeps both halves
 *   the same and gives exactly 2 * points points per ring.
 * - The training set holds every core point itself plus `copies` noisy
 *   copies x + N(0, sigma^2 I): 2,000 x (1 + 9) = 20,000 by default. It is
 *   then shuffled with the data seed, so a train_limit keeps a sample of
 *   every ring rather than the innermost rings only.
 * - Test points are uniform in area in the disc of radius test_radius
 *   (r = R sqrt(u), angle 2 pi v). Their label is that of the nearest ring,
 *   round(d) clamped to 1..radii (lround: a tie at k + 0.5 goes outwards),
 *   taken mod 2.
 * - The decision-map grid spans [-(radii + 1), radii + 1]^2, which is the
 *   spec's [-11, 11]^2 for the default 10 rings, and follows the test rule.
 * - Every input is divided by the largest radius (radii).
 * - Train and test draw from separate generators (the data seed xor a
 *   per-split tag), so changing test_points leaves the training set alone.
 */
#include "data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Internal entry point, called by qs_data_load (data_batch.c). */
int qs_data__synth_load(qs_dataset *train, qs_dataset *test,
                        const qs_synth_cfg *cfg, int train_limit,
                        int test_limit);

#define SYNTH_TRAIN_TAG 0x747261696e5f7331ULL /* "train_s1" */
#define SYNTH_TEST_TAG 0x746573745f5f7331ULL  /* "test__s1" */
#define GRID_SIDE 256

static const double PI = 3.14159265358979323846;

static int synth_validate(const qs_synth_cfg *c)
{
    if (c->radii < 1 || c->radii > 100000)
        return qs_err(QS_EINVAL, "synthetic data: radii %d must be 1..100000", c->radii);
    if (c->points < 2)
        return qs_err(QS_EINVAL, "synthetic data: points %d per semicircle must be >= 2",
                      c->points);
    if (c->copies < 0)
        return qs_err(QS_EINVAL, "synthetic data: copies %d must be >= 0", c->copies);
    if (!(c->sigma >= 0.0f) || !isfinite(c->sigma))
        return qs_err(QS_EINVAL, "synthetic data: sigma %g must be finite and >= 0",
                      (double)c->sigma);
    if (c->test_points < 1)
        return qs_err(QS_EINVAL, "synthetic data: test_points %d must be >= 1",
                      c->test_points);
    if (!(c->test_radius > 0.0f) || !isfinite(c->test_radius))
        return qs_err(QS_EINVAL, "synthetic data: test_radius %g must be finite and > 0",
                      (double)c->test_radius);
    /* 2 * radii * points * (copies + 1) must fit an int. */
    double n = 2.0 * c->radii * (double)c->points * (c->copies + 1.0);
    if (n > 200000000.0)
        return qs_err(QS_EINVAL,
                      "synthetic data: %d radii x 2 x %d points x (1 + %d copies) = "
                      "%.0f training points, more than the 200,000,000 allowed",
                      c->radii, c->points, c->copies, n);
    return QS_OK;
}

/* The label of the ring nearest to distance d from the origin. */
static int ring_label(double d, int radii)
{
    long k = lround(d);
    if (k < 1)
        k = 1;
    if (k > radii)
        k = radii;
    return (int)(k % 2);
}

static int synth_alloc(qs_dataset *d, int n)
{
    memset(d, 0, sizeof *d);
    d->kind = QS_DATA_SYNTHETIC;
    d->n = n;
    d->c = 2;
    d->h = d->w = 1;
    d->classes = 2;
    for (int i = 0; i < 3; i++) {
        d->mean[i] = 0.0f;
        d->std[i] = 1.0f;
    }
    d->xf = malloc((size_t)n * 2 * sizeof(float) + 1);
    d->y = malloc((size_t)n * sizeof(int) + 1);
    if (!d->xf || !d->y) {
        free(d->xf);
        free(d->y);
        memset(d, 0, sizeof *d);
        return qs_err(QS_ENOMEM, "synthetic data: out of memory for %d points", n);
    }
    return QS_OK;
}

/* train: xf [n, 2], y [n] with n = 2 radii points (1 + copies), shuffled;
 * keeps the first `limit` after the shuffle (0 = all). */
static int synth_train(qs_dataset *d, const qs_synth_cfg *c, int limit)
{
    int n = 2 * c->radii * c->points * (c->copies + 1);
    float *xf = NULL;
    int *y = NULL, *perm = NULL;
    int rc = QS_ENOMEM;
    qs_rng rng;

    qs_rng_seed(&rng, c->seed ^ SYNTH_TRAIN_TAG);
    xf = malloc((size_t)n * 2 * sizeof(float));
    y = malloc((size_t)n * sizeof(int));
    perm = malloc((size_t)n * sizeof(int));
    if (!xf || !y || !perm) {
        rc = qs_err(QS_ENOMEM, "synthetic data: out of memory for %d points", n);
        goto cleanup;
    }

    double scale = 1.0 / c->radii;
    int k = 0;
    for (int r = 1; r <= c->radii; r++)
        for (int half = 0; half < 2; half++)
            for (int i = 0; i < c->points; i++) {
                double a = PI * half + PI * i / (c->points - 1);
                double px = r * cos(a), py = r * sin(a);
                for (int j = 0; j <= c->copies; j++) {
                    double nx = 0.0, ny = 0.0;
                    if (j > 0) { /* j == 0 is the core point itself */
                        nx = c->sigma * qs_rng_normal(&rng);
                        ny = c->sigma * qs_rng_normal(&rng);
                    }
                    xf[2 * k] = (float)((px + nx) * scale);
                    xf[2 * k + 1] = (float)((py + ny) * scale);
                    y[k] = r % 2;
                    k++;
                }
            }

    for (int i = 0; i < n; i++)
        perm[i] = i;
    qs_rng_shuffle(&rng, perm, n);
    int keep = (limit > 0 && limit < n) ? limit : n;
    rc = synth_alloc(d, keep);
    if (rc)
        goto cleanup;
    for (int i = 0; i < keep; i++) {
        d->xf[2 * i] = xf[2 * perm[i]];
        d->xf[2 * i + 1] = xf[2 * perm[i] + 1];
        d->y[i] = y[perm[i]];
    }
    rc = QS_OK;
cleanup:
    free(xf);
    free(y);
    free(perm);
    return rc;
}

/* test: xf [n, 2], y [n], n = test_points (or the limit), uniform in area. */
static int synth_test(qs_dataset *d, const qs_synth_cfg *c, int limit)
{
    int n = (limit > 0 && limit < c->test_points) ? limit : c->test_points;
    int rc = synth_alloc(d, n);
    if (rc)
        return rc;
    qs_rng rng;
    qs_rng_seed(&rng, c->seed ^ SYNTH_TEST_TAG);
    double scale = 1.0 / c->radii;
    for (int i = 0; i < n; i++) {
        double u = qs_rng_uniform(&rng), v = qs_rng_uniform(&rng);
        double rad = c->test_radius * sqrt(u), a = 2.0 * PI * v;
        d->xf[2 * i] = (float)(rad * cos(a) * scale);
        d->xf[2 * i + 1] = (float)(rad * sin(a) * scale);
        d->y[i] = ring_label(rad, c->radii);
    }
    return QS_OK;
}

int qs_data__synth_load(qs_dataset *train, qs_dataset *test,
                        const qs_synth_cfg *cfg, int train_limit, int test_limit)
{
    int rc = synth_validate(cfg);
    if (rc)
        return rc;
    rc = synth_train(train, cfg, train_limit);
    if (rc)
        return rc;
    rc = synth_test(test, cfg, test_limit);
    if (rc) {
        qs_data_free(train);
        return rc;
    }
    return QS_OK;
}

/* grid: xf [256 * 256, 2], row i at y = +E - 2E i / 255, column j at
 * x = -E + 2E j / 255 with E = radii + 1 (11 by default). */
int qs_data_synth_grid(qs_dataset *grid, const qs_synth_cfg *synth)
{
    qs_synth_cfg def;
    if (!grid)
        return qs_err(QS_EINVAL, "qs_data_synth_grid: no output dataset");
    memset(grid, 0, sizeof *grid);
    if (!synth) {
        qs_synth_cfg_default(&def);
        synth = &def;
    }
    int rc = synth_validate(synth);
    if (rc)
        return rc;
    rc = synth_alloc(grid, GRID_SIDE * GRID_SIDE);
    if (rc)
        return rc;
    double ext = synth->radii + 1.0, scale = 1.0 / synth->radii;
    for (int i = 0; i < GRID_SIDE; i++) {
        double py = ext - 2.0 * ext * i / (GRID_SIDE - 1);
        for (int j = 0; j < GRID_SIDE; j++) {
            double px = -ext + 2.0 * ext * j / (GRID_SIDE - 1);
            int k = i * GRID_SIDE + j;
            grid->xf[2 * k] = (float)(px * scale);
            grid->xf[2 * k + 1] = (float)(py * scale);
            grid->y[k] = ring_label(hypot(px, py), synth->radii);
        }
    }
    return QS_OK;
}
