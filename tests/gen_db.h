/* A realistic qsweep results database for tests, the dashboard demo and the
 * HTTP benchmark, generated without training anything: the real schema
 * (sql/schema.sql, plus sql/indexes.sql when given) filled with sweeps
 * whose accuracies follow the paper's published tables plus seed noise.
 *
 * Sweeps (all on one file, phases shared between sweeps where the
 * configuration is identical, as the coordinator does):
 *   table5-cifar10   Table 5: basic/preact/depthwise at the paper's depths
 *                    and widths, float/W2AF/WFA2/W2A2, seeds 1-3, all done
 *   table4-lipschitz Table 4: basic width 16, depths 20/32/56/110, W2A2
 *                    plain, + Lipschitz, + CLR; a divergence, its child
 *                    failed, CLR phases still running and queued
 *   width-basic20    basic depth 20, widths 8..48, four settings, seeds 1-2
 *   synthetic-fcdnn  FCDNNs on the ring data with decision maps (zlib of
 *                    256 x 256 label bytes)
 *   live             a small sweep in progress: done, running, queued and
 *                    failed phases; qs_gen_advance() moves it on
 *   scale            (only when asked) filler phases with many epochs, for
 *                    the benchmark: 10,000 phases, 2,000,000 epoch rows
 *
 * Header-only so that a test can include it; tests/tool_gen_db.c is the
 * command-line front end. Needs sqlite3, zlib and server/report/paper.c (the
 * published tables, which the generated accuracies follow). */
#ifndef QS_GEN_DB_H
#define QS_GEN_DB_H

#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "paper.h"

typedef struct {
    const char *schema_path;  /* sql/schema.sql */
    const char *indexes_path; /* optional extra indexes (sql/indexes.sql) */
    long scale_phases;        /* > 0: add a "scale" sweep up to this many phases in all */
    long scale_epoch_rows;    /* epoch rows in all to aim for with the scale sweep */
    uint64_t seed;
    double now; /* unix seconds the timestamps lead up to */
} qs_gen_cfg;

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *ins_phase, *ins_link, *ins_epoch, *ins_map;
    uint64_t rng;
    double now;
    long phases, epoch_rows;
    char err[512];
} qs_gen;

typedef struct {
    const char *phase, *dataset, *arch, *block;
    int depth, width, residual;
    long params;
    int wbits, abits;
    const char *reg;
    int clr;
    long seed;
    int epochs;
    double acc;       /* final test accuracy */
    double start_acc; /* where the curve starts (parent's accuracy for children) */
    const char *status;
    int epochs_done;
    const char *error;
    double started, finished;
    char parent[33];
    char id[33];
} qs_gen_phase;

static int qs_gen_fail(qs_gen *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err, sizeof g->err, fmt, ap);
    va_end(ap);
    return 1;
}

static double qs_gen_unif(qs_gen *g)
{
    /* xorshift64*: reproducible across platforms, unlike rand(). */
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return (double)((g->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static double qs_gen_normal(qs_gen *g)
{
    double u = qs_gen_unif(g), v = qs_gen_unif(g);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* 32 hex chars from two FNV-1a hashes of the text. */
static void qs_gen_hash(const char *s, char out[33])
{
    uint64_t a = 1469598103934665603ULL, b = 1099511628211ULL ^ 0x9e3779b97f4a7c15ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        a = (a ^ *p) * 1099511628211ULL;
        b = (b ^ *p) * 0x100000001b3ULL + 0x7f4a7c15ULL;
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

static int qs_gen_exec_file(qs_gen *g, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qs_gen_fail(g, "%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(text);
        return qs_gen_fail(g, "%s: cannot read", path);
    }
    text[n] = '\0';
    fclose(f);
    char *msg = NULL;
    int rc = sqlite3_exec(g->db, text, NULL, NULL, &msg);
    free(text);
    if (rc != SQLITE_OK) {
        qs_gen_fail(g, "%s: %s", path, msg ? msg : "error");
        sqlite3_free(msg);
        return 1;
    }
    return 0;
}

/* Multiply-accumulates per image, roughly: CIFAR ResNets ~150 per
 * parameter, an FCDNN one per weight. */
static double qs_gen_macs(const qs_gen_phase *p)
{
    return strcmp(p->arch, "fcdnn") == 0 ? (double)p->params : (double)p->params * 150.0;
}

static long qs_gen_resnet_params(const char *block, int depth, int width)
{
    /* Three groups of n blocks at widths k, 2k, 4k; two 3x3 convs a block. */
    if (strcmp(block, "depthwise") == 0) {
        int n = (depth - 2) / 9;
        return (long)(n * 3.0 * (6.0 * width * width * 2 + 9.0 * 6 * width) * 21.0 / 3.0 / 1.6);
    }
    int n = (depth - 2) / 6;
    return (long)(378.0 * n * width * width + 10.0 * 64 * width);
}

static long qs_gen_fcdnn_params(int depth, int width)
{
    return 2L * width + width + (long)(depth - 2) * ((long)width * width + width) + 2L * width + 2;
}

/* One epoch of a curve that ends at p->acc: fast early progress, jumps at
 * the lr milestones for step schedules, seed noise shrinking to zero. */
static void qs_gen_epoch(qs_gen *g, const qs_gen_phase *p, int e, double *lr, double *test_acc,
                         double *train_acc, double *test_loss, double *train_loss)
{
    double f = (double)e / p->epochs, a = p->acc, acc;
    int fl = strcmp(p->phase, "float") == 0, clr = strcmp(p->phase, "clr") == 0;
    if (fl) {
        double lo = strcmp(p->dataset, "synthetic") == 0 ? 50.0 : 35.0;
        if (f <= 0.5)
            acc = (a - 6.0) - (a - 6.0 - lo) * exp(-9.0 * f) + 1.2 * qs_gen_normal(g);
        else if (f <= 0.75)
            acc = a - 0.9 - 0.4 * (f - 0.5) / 0.25 * -1.0 + 0.25 * qs_gen_normal(g);
        else
            acc = a - 0.2 * (1.0 - f) / 0.25 + 0.08 * qs_gen_normal(g);
        *lr = f < 0.5 ? 0.1 : f < 0.75 ? 0.01 : 0.001;
    } else if (clr) {
        acc = p->start_acc + (a - p->start_acc) * f + 0.1 * qs_gen_normal(g) * (1.0 - f);
        double s = fmod((double)e, 8.0) / 8.0;
        *lr = 1e-5 + (1e-3 - 1e-5) * (s < 0.5 ? 2 * s : 2 - 2 * s);
    } else {
        double drop = (p->start_acc - a) + 12.0;
        acc = a - drop * exp(-7.0 * f) + 0.3 * qs_gen_normal(g) * (1.0 - f);
        *lr = f < 0.5 ? 0.01 : f < 0.8 ? 0.001 : 0.0001;
    }
    if (e == p->epochs)
        acc = a;
    if (acc > 99.9)
        acc = 99.9;
    *test_acc = acc;
    double gap = strcmp(p->dataset, "synthetic") == 0 ? 0.5 : 6.0 * f;
    *train_acc = fmin(99.95, acc + gap + 0.3 * qs_gen_unif(g));
    *test_loss = -log(acc / 100.0) * 1.6 + 0.08 + 0.05 * f;
    *train_loss = -log(*train_acc / 100.0) * 1.4 + 0.01;
}

/* The decision map of a synthetic phase: the true ring labels seen through
 * the model's flaws. Weight quantization bends the boundary (like a smaller
 * model), activation quantization adds speckle noise, an underfitting
 * float model loses the outer rings. */
static int qs_gen_map(qs_gen *g, const qs_gen_phase *p)
{
    enum { S = 256 };
    unsigned char *lab = malloc(S * S);
    uLongf zlen = compressBound(S * S);
    unsigned char *z = malloc(zlen);
    int rc = 0;
    if (!lab || !z) {
        rc = qs_gen_fail(g, "out of memory");
        goto cleanup;
    }
    double warp = p->wbits < 32 ? 0.35 * 128.0 / p->width * (p->residual ? 0.5 : 1.0) : 0.0;
    double speckle = p->abits < 32 ? 0.25 * (p->depth - 1) * 128.0 / p->width * (p->residual ? 1.3 : 1.0) : 0.0;
    double fade = p->acc < 85 ? 5.5 : 99.0; /* beyond this radius an underfit model guesses */
    for (int i = 0; i < S; i++) {
        double y = 11.0 - 22.0 * i / (S - 1);
        for (int j = 0; j < S; j++) {
            double x = -11.0 + 22.0 * j / (S - 1);
            double d = hypot(x, y), th = atan2(y, x);
            double dd = d + warp * sin(3.0 * th + p->depth) + speckle * (qs_gen_unif(g) - 0.5);
            int ring = (int)lround(dd);
            if (ring < 1)
                ring = 1;
            if (ring > 10)
                ring = 10;
            int l = ring % 2;
            if (d > fade)
                l = (x + 0.3 * y) > 0;
            lab[i * S + j] = (unsigned char)l;
        }
    }
    if (compress2(z, &zlen, lab, S * S, 6) != Z_OK) {
        rc = qs_gen_fail(g, "zlib failed");
        goto cleanup;
    }
    sqlite3_stmt *st = g->ins_map;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, S);
    sqlite3_bind_int(st, 3, S);
    sqlite3_bind_blob(st, 4, z, (int)zlen, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = qs_gen_fail(g, "insert decision map: %s", sqlite3_errmsg(g->db));
cleanup:
    free(lab);
    free(z);
    return rc;
}

/* Inserts the phase (unless an identical one exists), its epochs and map,
 * and links it to the sweep. Sets p->id. */
static int qs_gen_add(qs_gen *g, int64_t sweep_id, qs_gen_phase *p)
{
    char config[768], model[64];
    if (strcmp(p->arch, "fcdnn") == 0)
        snprintf(model, sizeof model, "fcdnn-%s%d-%d", p->residual ? "res-" : "", p->width, p->depth);
    else
        snprintf(model, sizeof model, "resnet-%s-%d-%d", p->block, p->depth, p->width);
    snprintf(config, sizeof config,
             "{\"abits\":%d,\"block\":\"%s\",\"data\":\"%s\",\"depth\":%d,\"epochs\":%d,"
             "\"lipschitz\":%g,\"model\":\"%s\",\"phase\":\"%s\",\"residual\":%s,\"seed\":%ld,"
             "\"threads\":1,\"wbits\":%d,\"width\":%d,\"parent\":\"%s\"}",
             p->abits, p->block ? p->block : "", p->dataset, p->depth, p->epochs,
             strcmp(p->reg, "lipschitz") == 0 ? 1e-4 : 0.0, p->arch, p->phase,
             p->residual ? "true" : "false", p->seed, p->wbits, p->width, p->parent);
    qs_gen_hash(config, p->id);
    if (!p->params)
        p->params = strcmp(p->arch, "fcdnn") == 0 ? qs_gen_fcdnn_params(p->depth, p->width)
                                                  : qs_gen_resnet_params(p->block, p->depth, p->width);
    /* Nothing happens in the future: a phase's times end before "now". */
    if (p->finished > g->now)
        p->finished = g->now - 30;
    if (p->started > g->now)
        p->started = g->now - 60;
    int images = strcmp(p->dataset, "synthetic") == 0 ? 20000 : 50000;
    double macs = qs_gen_macs(p);
    double gflop = p->epochs * (double)images * 6.0 * macs / 1e9;
    double sec_epoch = images * 6.0 * macs / 1e9 / 60.0 + 0.5; /* 60 GFLOP/s a rank */
    int done = p->epochs_done;
    double last_acc = NAN;

    sqlite3_stmt *st = g->ins_phase;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    int k = 1;
    sqlite3_bind_text(st, k++, p->id, -1, SQLITE_TRANSIENT);
    if (p->parent[0])
        sqlite3_bind_text(st, k++, p->parent, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, k++);
    sqlite3_bind_text(st, k++, p->phase, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, k++, config, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, k++, model, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, k++, p->dataset, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, k++, p->arch, -1, SQLITE_STATIC);
    if (p->block)
        sqlite3_bind_text(st, k++, p->block, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, k++);
    sqlite3_bind_int(st, k++, p->depth);
    sqlite3_bind_int(st, k++, p->width);
    sqlite3_bind_int(st, k++, p->residual);
    sqlite3_bind_int64(st, k++, p->params);
    sqlite3_bind_int(st, k++, p->wbits);
    sqlite3_bind_int(st, k++, p->abits);
    sqlite3_bind_text(st, k++, p->reg, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, k++, p->clr);
    sqlite3_bind_int64(st, k++, p->seed);
    sqlite3_bind_int(st, k++, 1);
    sqlite3_bind_int(st, k++, p->epochs);
    sqlite3_bind_double(st, k++, gflop);
    sqlite3_bind_text(st, k++, p->status, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, k++, strcmp(p->status, "queued") ? 1 : 0);
    if (p->error)
        sqlite3_bind_text(st, k++, p->error, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, k++);
    sqlite3_bind_int(st, k++, done);
    int acc_col = k;
    k += 4; /* test_acc, test_loss, train_loss, train_acc: below */
    if (done > 0)
        sqlite3_bind_double(st, k, done * sec_epoch);
    k++;
    if (done > 0)
        sqlite3_bind_double(st, k, images / sec_epoch);
    k++;
    sqlite3_bind_double(st, k++, (double)p->params * (p->wbits >= 32 ? 32 : p->wbits));
    sqlite3_bind_double(st, k++, macs * (p->wbits >= 32 ? 32 : p->wbits) * (p->abits >= 32 ? 32 : p->abits));
    sqlite3_bind_text(st, k++, "0.1.0-gen", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, k++, "node1", -1, SQLITE_STATIC);
    if (p->started > 0)
        sqlite3_bind_double(st, k, p->started);
    k++;
    if (p->finished > 0)
        sqlite3_bind_double(st, k, p->finished);
    k++;
    double updated = p->finished > 0 ? p->finished : p->started > 0 ? p->started + done * sec_epoch : g->now - 86400;
    sqlite3_bind_double(st, k++, updated < g->now ? updated : g->now - 10);

    /* The epochs come first so the phase row can carry the last one. */
    double lr, ta, tra, tl, trl;
    sqlite3_stmt *ep = g->ins_epoch;
    int phase_is_new = 1;
    {
        sqlite3_stmt *chk;
        sqlite3_prepare_v2(g->db, "SELECT 1 FROM phases WHERE id = ?", -1, &chk, NULL);
        sqlite3_bind_text(chk, 1, p->id, -1, SQLITE_TRANSIENT);
        phase_is_new = sqlite3_step(chk) != SQLITE_ROW;
        sqlite3_finalize(chk);
    }
    if (phase_is_new) {
        for (int e = 1; e <= done; e++) {
            qs_gen_epoch(g, p, e, &lr, &ta, &tra, &tl, &trl);
            int diverged = p->error && strcmp(p->error, "diverged") == 0 && e == done;
            sqlite3_reset(ep);
            sqlite3_clear_bindings(ep);
            sqlite3_bind_text(ep, 1, p->id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(ep, 2, e);
            sqlite3_bind_double(ep, 3, lr);
            if (!diverged) { /* the diverged epoch has no finite losses */
                sqlite3_bind_double(ep, 4, trl);
                sqlite3_bind_double(ep, 5, tra);
                sqlite3_bind_double(ep, 6, tl);
                sqlite3_bind_double(ep, 7, ta);
                last_acc = ta;
            }
            if (strcmp(p->reg, "lipschitz") == 0)
                sqlite3_bind_double(ep, 8, 40.0 * exp(-3.0 * e / p->epochs) + 2.0);
            sqlite3_bind_double(ep, 9, sec_epoch * (0.95 + 0.1 * qs_gen_unif(g)));
            sqlite3_bind_double(ep, 10, images / sec_epoch);
            if (sqlite3_step(ep) != SQLITE_DONE)
                return qs_gen_fail(g, "insert epoch: %s", sqlite3_errmsg(g->db));
            g->epoch_rows++;
        }
        if (!isnan(last_acc) && strcmp(p->status, "failed") != 0) {
            sqlite3_bind_double(st, acc_col, last_acc);
            sqlite3_bind_double(st, acc_col + 1, tl);
            sqlite3_bind_double(st, acc_col + 2, trl);
            sqlite3_bind_double(st, acc_col + 3, tra);
        }
        if (sqlite3_step(st) != SQLITE_DONE)
            return qs_gen_fail(g, "insert phase: %s", sqlite3_errmsg(g->db));
        g->phases++;
        if (strcmp(p->dataset, "synthetic") == 0 && strcmp(p->status, "done") == 0 && qs_gen_map(g, p))
            return 1;
    }
    sqlite3_reset(g->ins_link);
    sqlite3_bind_int64(g->ins_link, 1, sweep_id);
    sqlite3_bind_text(g->ins_link, 2, p->id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(g->ins_link) != SQLITE_DONE)
        return qs_gen_fail(g, "insert link: %s", sqlite3_errmsg(g->db));
    return 0;
}

static int qs_gen_sweep(qs_gen *g, const char *name, double started, double finished, int ranks,
                        int64_t *id)
{
    sqlite3_stmt *st;
    char grid[256];
    snprintf(grid, sizeof grid, "{\"name\":\"%s\",\"axes\":{\"arch\":[\"resnet\"]}}", name);
    sqlite3_prepare_v2(g->db,
                       "INSERT INTO sweeps(name, grid, grid_path, host, version, ranks, started, finished)"
                       " VALUES(?, ?, ?, 'node1', '0.1.0-gen', ?, ?, ?)",
                       -1, &st, NULL);
    char path[128];
    snprintf(path, sizeof path, "sweeps/%s.json", name);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, grid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, ranks);
    sqlite3_bind_double(st, 5, started);
    if (finished > 0)
        sqlite3_bind_double(st, 6, finished);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : qs_gen_fail(g, "insert sweep: %s", sqlite3_errmsg(g->db));
    sqlite3_finalize(st);
    *id = sqlite3_last_insert_rowid(g->db);
    return rc;
}

/* Float, W2AF, WFA2, W2A2 of one architecture: the float parent and its
 * three retrained children. accs: the four final accuracies. */
static int qs_gen_family(qs_gen *g, int64_t sw, qs_gen_phase base, const double accs[4],
                         double *clock, double step, char ids[4][33])
{
    static const int bits[4][2] = {{32, 32}, {2, 32}, {32, 2}, {2, 2}};
    qs_gen_phase fp = base;
    fp.phase = "float";
    fp.wbits = fp.abits = 32;
    fp.reg = "none";
    fp.clr = 0;
    fp.acc = accs[0];
    fp.start_acc = accs[0];
    fp.epochs_done = fp.epochs = base.epochs;
    fp.status = "done";
    fp.started = *clock;
    /* The sweep runs families on its ranks in parallel: the clock moves
     * by a fraction of each phase's time. */
    fp.finished = *clock + step;
    *clock += step / 8;
    fp.parent[0] = '\0';
    if (qs_gen_add(g, sw, &fp))
        return 1;
    if (ids)
        memcpy(ids[0], fp.id, 33);
    for (int s = 1; s < 4; s++) {
        qs_gen_phase q = base;
        q.phase = "retrain";
        q.wbits = bits[s][0];
        q.abits = bits[s][1];
        q.reg = "none";
        q.clr = 0;
        q.epochs = q.epochs_done = base.epochs / 2;
        q.acc = accs[s];
        q.start_acc = accs[0];
        q.status = "done";
        q.started = *clock;
        q.finished = *clock + step / 2;
        *clock += step / 16;
        memcpy(q.parent, fp.id, 33);
        if (qs_gen_add(g, sw, &q))
            return 1;
        if (ids)
            memcpy(ids[s], q.id, 33);
    }
    return 0;
}



static qs_gen_phase qs_gen_base(const char *dataset, const char *arch, const char *block, int depth,
                                int width, long seed, int epochs)
{
    qs_gen_phase p;
    memset(&p, 0, sizeof p);
    p.dataset = dataset;
    p.arch = arch;
    p.block = block;
    p.depth = depth;
    p.width = width;
    p.seed = seed;
    p.epochs = epochs;
    p.reg = "none";
    return p;
}

static int qs_gen_table5(qs_gen *g)
{
    int64_t sw;
    double clock = g->now - 30 * 3600.0;
    if (qs_gen_sweep(g, "table5-cifar10", clock, g->now - 3 * 3600.0, 8, &sw))
        return 1;
    for (int r = 0; r < qs_paper_table5_rows; r++)
        for (long seed = 1; seed <= 3; seed++) {
            qs_gen_phase b = qs_gen_base("cifar10", "resnet", qs_paper_table5[r].block, qs_paper_table5[r].depth,
                                         qs_paper_table5[r].width, seed, 200);
            b.params = (long)(qs_paper_table5[r].params_m * 1e6);
            double accs[4];
            /* Seed noise plus a small systematic offset: a reproduction,
             * not a copy. */
            for (int s = 0; s < 4; s++)
                accs[s] = qs_paper_table5[r].acc[s] - 0.12 - 0.05 * s + 0.15 * qs_gen_normal(g);
            if (qs_gen_family(g, sw, b, accs, &clock, 1500.0, NULL))
                return 1;
        }
    return 0;
}

static int qs_gen_table4(qs_gen *g)
{
    static const struct {
        int depth;
        double acc[3];
    } t4[] = {{20, {92.42, 89.36, 89.68}}, {32, {92.99, 90.00, 90.60}},
              {56, {93.67, 89.13, 90.24}}, {110, {94.07, 83.71, 87.77}}};
    int64_t sw;
    double clock = g->now - 20 * 3600.0;
    if (qs_gen_sweep(g, "table4-lipschitz", clock, 0, 8, &sw))
        return 1;
    for (int r = 0; r < 4; r++)
        for (long seed = 1; seed <= 2; seed++) {
            int last = r == 3;
            qs_gen_phase b = qs_gen_base("cifar10", "resnet", "basic", t4[r].depth, 16, seed, 200);
            double fa = t4[r].acc[0] - 0.1 + 0.12 * qs_gen_normal(g);
            double accs[4] = {fa, fa - 0.8, fa - 1.9, t4[r].acc[1] + 0.2 * qs_gen_normal(g)};
            char ids[4][33];
            /* The float and plain W2A2 retrain phases (W2AF and WFA2 come along). */
            if (qs_gen_family(g, sw, b, accs, &clock, 1200.0, ids))
                return 1;
            /* W2A2 with the Lipschitz regularizer, then CLR from it. */
            qs_gen_phase lp = b;
            lp.phase = "retrain";
            lp.wbits = lp.abits = 2;
            lp.reg = "lipschitz";
            lp.epochs = lp.epochs_done = 100;
            lp.start_acc = fa;
            lp.acc = (t4[r].acc[1] + t4[r].acc[2]) / 2 + 0.15 * qs_gen_normal(g);
            lp.status = "done";
            lp.started = clock;
            lp.finished = clock += 600;
            memcpy(lp.parent, ids[0], 33);
            int diverge = last && seed == 2;
            if (diverge) {
                lp.status = "failed";
                lp.error = "diverged";
                lp.epochs_done = 37;
            }
            if (qs_gen_add(g, sw, &lp))
                return 1;
            qs_gen_phase cp = lp;
            cp.phase = "clr";
            cp.clr = 1;
            cp.epochs = cp.epochs_done = 40;
            cp.error = NULL;
            cp.start_acc = lp.acc;
            cp.acc = t4[r].acc[2] + 0.12 * qs_gen_normal(g);
            cp.status = "done";
            cp.started = clock;
            cp.finished = clock += 300;
            memcpy(cp.parent, lp.id, 33);
            if (diverge) {
                cp.status = "failed";
                cp.error = "parent failed: diverged";
                cp.epochs_done = 0;
                cp.started = cp.finished = 0;
            } else if (last) {
                cp.status = "running";
                cp.epochs_done = 23;
                cp.finished = 0;
                cp.started = g->now - 1800;
            }
            if (qs_gen_add(g, sw, &cp))
                return 1;
            /* CLR without the regularizer, queued behind the rest. */
            qs_gen_phase cn = cp;
            cn.reg = "none";
            cn.error = NULL;
            cn.start_acc = accs[3];
            cn.acc = accs[3] + 0.25 + 0.1 * qs_gen_normal(g);
            memcpy(cn.parent, ids[3], 33); /* the plain W2A2 retrain phase */
            cn.status = last ? "queued" : "done";
            cn.epochs_done = last ? 0 : 40;
            cn.started = last ? 0 : clock;
            cn.finished = last ? 0 : (clock += 300);
            if (qs_gen_add(g, sw, &cn))
                return 1;
        }
    return 0;
}

static int qs_gen_widths(qs_gen *g)
{
    static const int widths[] = {8, 12, 16, 24, 32, 48};
    int64_t sw;
    double clock = g->now - 40 * 3600.0;
    if (qs_gen_sweep(g, "width-basic20", clock, g->now - 25 * 3600.0, 8, &sw))
        return 1;
    for (int i = 0; i < 6; i++)
        for (long seed = 1; seed <= 2; seed++) {
            double w = widths[i];
            qs_gen_phase b = qs_gen_base("cifar10", "resnet", "basic", 20, widths[i], seed, 200);
            double fa = 94.6 - 9.0 * exp(-w / 11.0);
            double accs[4] = {fa, fa - 0.3 - 5.0 * exp(-w / 9.0), fa - 0.8 - 7.0 * exp(-w / 10.0),
                              fa - 1.2 - 12.0 * exp(-w / 10.0)};
            for (int s = 0; s < 4; s++)
                accs[s] += 0.15 * qs_gen_normal(g);
            if (qs_gen_family(g, sw, b, accs, &clock, 900.0, NULL))
                return 1;
        }
    return 0;
}

static int qs_gen_synthetic(qs_gen *g)
{
    static const struct {
        int width, depth, residual;
        double fl;
    } nets[] = {{128, 3, 0, 70.5}, {128, 4, 0, 96.2}, {128, 6, 0, 96.9}, {128, 8, 0, 97.1},
                {200, 4, 0, 97.0}, {256, 3, 0, 95.1}, {256, 4, 0, 97.4}, {128, 4, 1, 96.5},
                {128, 6, 1, 96.8}};
    int64_t sw;
    double clock = g->now - 50 * 3600.0;
    if (qs_gen_sweep(g, "synthetic-fcdnn", clock, g->now - 49 * 3600.0, 4, &sw))
        return 1;
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        qs_gen_phase b = qs_gen_base("synthetic", "fcdnn", NULL, nets[i].depth, nets[i].width, 1, 100);
        b.residual = nets[i].residual;
        double sc = 128.0 / nets[i].width, fl = nets[i].fl;
        double wq = (2.5 + 0.3 * (nets[i].depth - 3)) * sc * (b.residual ? 0.5 : 1.0);
        double aq = (1.5 + 1.6 * (nets[i].depth - 3)) * sc * (b.residual ? 1.3 : 1.0);
        double accs[4] = {fl, fl - wq, fl - aq, fl - wq - aq - 1.0};
        if (qs_gen_family(g, sw, b, accs, &clock, 120.0, NULL))
            return 1;
    }
    return 0;
}

/* A sweep in progress, small enough for qs_gen_advance to finish. */
static int qs_gen_live(qs_gen *g)
{
    static const int depths[] = {8, 14, 20}, widths[] = {59, 40, 31};
    static const int bits[4][2] = {{32, 32}, {2, 32}, {32, 2}, {2, 2}};
    int64_t sw;
    double clock = g->now - 2 * 3600.0;
    if (qs_gen_sweep(g, "live", clock, 0, 4, &sw))
        return 1;
    int n = 0;
    for (int d = 0; d < 3; d++)
        for (long seed = 1; seed <= 2; seed++) {
            qs_gen_phase fp = qs_gen_base("cifar10", "resnet", "preact", depths[d], widths[d], seed, 20);
            fp.phase = "float";
            fp.wbits = fp.abits = 32;
            fp.acc = 88.0 + 0.4 * d + 0.2 * qs_gen_normal(g);
            fp.start_acc = fp.acc;
            /* The first two families are done, the third is being trained,
             * the rest wait. */
            int fam = d * 2 + (int)seed - 1;
            fp.status = fam < 3 ? "done" : fam == 3 ? "running" : "queued";
            fp.epochs_done = fam < 3 ? 20 : fam == 3 ? 7 : 0;
            fp.started = fam <= 3 ? (clock += 300) : 0;
            fp.finished = fam < 3 ? clock + 200 : 0;
            if (qs_gen_add(g, sw, &fp))
                return 1;
            for (int s = 1; s < 4; s++) {
                qs_gen_phase q = fp;
                q.phase = "retrain";
                q.wbits = bits[s][0];
                q.abits = bits[s][1];
                q.epochs = 10;
                q.start_acc = fp.acc;
                q.acc = fp.acc - 0.4 * s - 0.3 * d + 0.2 * qs_gen_normal(g);
                memcpy(q.parent, fp.id, 33);
                q.error = NULL;
                if (fam < 2 || (fam == 2 && s < 3)) {
                    q.status = "done";
                    q.epochs_done = 10;
                    q.started = clock += 100;
                    q.finished = clock + 90;
                } else if (fam == 2) {
                    q.status = "running";
                    q.epochs_done = 4;
                    q.started = g->now - 200;
                    q.finished = 0;
                } else {
                    q.status = "queued";
                    q.epochs_done = 0;
                    q.started = q.finished = 0;
                }
                if (fam == 1 && s == 2) { /* a worker lost mid-phase */
                    q.status = "failed";
                    q.error = "error: worker on rank 3 exited (signal 9)";
                    q.epochs_done = 6;
                }
                if (qs_gen_add(g, sw, &q))
                    return 1;
                n++;
            }
        }
    /* The live sweep's coordinator claim (server/db/db_lock.h): this process,
     * on this host, stands in for a running coordinator while it lives;
     * its heartbeat never ages, so a long test stays "running". */
    char host[64] = "", sql[512];
    gethostname(host, sizeof host - 1);
    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO coordinator(id, host, pid, sweep, token, since, heartbeat) "
             "VALUES (1, '%s', %ld, 'live', 'gen', %.0f, 1e12)", host, (long)getpid(), g->now);
    if (sqlite3_exec(g->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return qs_gen_fail(g, "coordinator claim: %s", sqlite3_errmsg(g->db));
    return 0;
}

/* Filler for the benchmark: done phases with `per` epochs each, cycling
 * through blocks, depths, widths, settings and seeds, until the file holds
 * `target` phases. */
static int qs_gen_scale(qs_gen *g, long target, long epoch_rows)
{
    int64_t sw;
    if (target <= g->phases)
        return 0;
    long n = target - g->phases;
    /* Per phase, so that the total comes out right: of every 50 phases
     * 46 are done (all epochs), one running (half), one failed (a third),
     * two queued (none). */
    double share = (46.0 + 0.5 + 1.0 / 3.0) / 50.0;
    long per = epoch_rows > g->epoch_rows ? (long)((epoch_rows - g->epoch_rows) / (n * share)) : 1;
    if (per < 1)
        per = 1;
    double clock = g->now - 200 * 3600.0;
    if (qs_gen_sweep(g, "scale", clock, 0, 64, &sw))
        return 1;
    static const int bits[4][2] = {{32, 32}, {2, 32}, {32, 2}, {2, 2}};
    long extra = epoch_rows > g->epoch_rows ? (long)((epoch_rows - g->epoch_rows) / share) - per * n : 0;
    for (long i = 0; i < n; i++) {
        int r = (int)(i % qs_paper_table5_rows);
        int s = (int)(i / qs_paper_table5_rows % 4);
        long seed = 100 + i / (qs_paper_table5_rows * 4);
        qs_gen_phase p = qs_gen_base("cifar10", "resnet", qs_paper_table5[r].block, qs_paper_table5[r].depth,
                                     qs_paper_table5[r].width, seed, (int)(per + (i < extra ? 1 : 0)));
        p.params = (long)(qs_paper_table5[r].params_m * 1e6);
        /* Independent phases (no parent links): the coordinator's DAG
         * shape does not matter to the read paths being measured. */
        p.phase = s == 0 ? "float" : "retrain";
        p.wbits = bits[s][0];
        p.abits = bits[s][1];
        p.acc = qs_paper_table5[r].acc[s] + 0.2 * qs_gen_normal(g);
        p.start_acc = qs_paper_table5[r].acc[0];
        int stat = (int)(i % 50);
        p.status = stat == 0 ? "failed" : stat == 1 ? "running" : stat < 4 ? "queued" : "done";
        p.epochs_done = stat >= 4 ? p.epochs : stat == 1 ? p.epochs / 2 : stat == 0 ? p.epochs / 3 : 0;
        p.error = stat == 0 ? "diverged" : NULL;
        p.started = stat < 2 || stat >= 4 ? (clock += 60) : 0;
        p.finished = stat >= 4 || stat == 0 ? clock + 50 : 0;
        if (qs_gen_add(g, sw, &p))
            return 1;
    }
    return 0;
}

static int qs_gen_prepare(qs_gen *g)
{
    static const char phase_sql[] =
        "INSERT OR IGNORE INTO phases(id, parent_id, phase, config, model, dataset, arch, block,"
        " depth, width, residual, params, wbits, abits, regularizer, clr, seed, threads, epochs,"
        " gflop, status, attempts, error, epochs_done, test_acc, test_loss, train_loss, train_acc,"
        " seconds, img_per_s, model_bits, bops, version, worker_host, started, finished, updated)"
        " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    if (sqlite3_prepare_v2(g->db, phase_sql, -1, &g->ins_phase, NULL) ||
        sqlite3_prepare_v2(g->db, "INSERT OR IGNORE INTO sweep_phases(sweep_id, phase_id) VALUES(?, ?)",
                           -1, &g->ins_link, NULL) ||
        sqlite3_prepare_v2(g->db,
                           "INSERT INTO epochs(phase_id, epoch, lr, train_loss, train_acc, test_loss,"
                           " test_acc, lipschitz, seconds, img_per_s) VALUES(?,?,?,?,?,?,?,?,?,?)",
                           -1, &g->ins_epoch, NULL) ||
        sqlite3_prepare_v2(g->db, "INSERT INTO decision_maps(phase_id, width, height, data) VALUES(?,?,?,?)",
                           -1, &g->ins_map, NULL))
        return qs_gen_fail(g, "prepare: %s", sqlite3_errmsg(g->db));
    return 0;
}

static void qs_gen_close(qs_gen *g)
{
    sqlite3_finalize(g->ins_phase);
    sqlite3_finalize(g->ins_link);
    sqlite3_finalize(g->ins_epoch);
    sqlite3_finalize(g->ins_map);
    sqlite3_close(g->db);
    g->db = NULL;
}

/* Creates path (which must not exist yet) and fills it. err gets the
 * reason on failure (non-zero return). */
static int qs_gen_db(const char *path, const qs_gen_cfg *cfg, char *err, size_t errn)
{
    qs_gen g;
    memset(&g, 0, sizeof g);
    g.rng = cfg->seed ? cfg->seed : 0x5eed;
    g.now = cfg->now;
    int rc = 1;
    if (sqlite3_open_v2(path, &g.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        qs_gen_fail(&g, "%s: cannot create", path);
        goto cleanup;
    }
    if (qs_gen_exec_file(&g, cfg->schema_path))
        goto cleanup;
    if (cfg->indexes_path && qs_gen_exec_file(&g, cfg->indexes_path))
        goto cleanup;
    sqlite3_exec(g.db,
                 "PRAGMA synchronous = OFF;"
                 "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '1'), ('application', 'qsweep');"
                 "BEGIN",
                 NULL, NULL, NULL);
    if (qs_gen_prepare(&g) || qs_gen_table5(&g) || qs_gen_table4(&g) || qs_gen_widths(&g) ||
        qs_gen_synthetic(&g) || qs_gen_live(&g))
        goto cleanup;
    if (cfg->scale_phases > 0 && qs_gen_scale(&g, cfg->scale_phases, cfg->scale_epoch_rows))
        goto cleanup;
    if (sqlite3_exec(g.db, "COMMIT; PRAGMA optimize", NULL, NULL, NULL) != SQLITE_OK) {
        qs_gen_fail(&g, "commit: %s", sqlite3_errmsg(g.db));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (rc && err)
        snprintf(err, errn, "%s", g.err);
    qs_gen_close(&g);
    return rc;
}

/* Moves the "live" sweep on by one epoch of each running phase, as the
 * coordinator would: a phase reaching its last epoch is done and the next
 * queued one starts (parents first). Returns the epochs added (0 when the
 * sweep is finished) or -1 with err set. */
static int qs_gen_advance(const char *path, double now, char *err, size_t errn)
{
    qs_gen g;
    memset(&g, 0, sizeof g);
    g.rng = (uint64_t)now * 2654435761u + 1;
    g.now = now;
    int added = -1;
    sqlite3_stmt *sel = NULL, *upd = NULL, *next = NULL;
    if (sqlite3_open_v2(path, &g.db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        qs_gen_fail(&g, "%s: cannot open", path);
        goto cleanup;
    }
    sqlite3_busy_timeout(g.db, 5000);
    if (qs_gen_prepare(&g) || sqlite3_exec(g.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        qs_gen_fail(&g, "begin: %s", sqlite3_errmsg(g.db));
        goto cleanup;
    }
    sqlite3_prepare_v2(g.db,
                       "SELECT p.id, p.phase, p.dataset, p.epochs, p.epochs_done, p.wbits, p.abits,"
                       " p.regularizer, coalesce(par.test_acc, 88.0), p.depth, p.seed"
                       " FROM phases p JOIN sweep_phases sp ON sp.phase_id = p.id"
                       " JOIN sweeps s ON s.id = sp.sweep_id LEFT JOIN phases par ON par.id = p.parent_id"
                       " WHERE s.name = 'live' AND p.status = 'running' ORDER BY p.id",
                       -1, &sel, NULL);
    sqlite3_prepare_v2(g.db,
                       "UPDATE phases SET epochs_done = ?2, test_acc = ?3, test_loss = ?4,"
                       " train_acc = ?5, train_loss = ?6, updated = ?7, status = ?8,"
                       " finished = CASE WHEN ?8 = 'done' THEN ?7 END WHERE id = ?1",
                       -1, &upd, NULL);
    if (!sel || !upd) {
        qs_gen_fail(&g, "prepare: %s", sqlite3_errmsg(g.db));
        goto cleanup;
    }
    added = 0;
    int finished_any = 0, s;
    while ((s = sqlite3_step(sel)) == SQLITE_ROW) {
        qs_gen_phase p;
        memset(&p, 0, sizeof p);
        snprintf(p.id, sizeof p.id, "%s", (const char *)sqlite3_column_text(sel, 0));
        p.phase = strcmp((const char *)sqlite3_column_text(sel, 1), "float") == 0 ? "float" : "retrain";
        p.dataset = "cifar10";
        p.epochs = sqlite3_column_int(sel, 3);
        int e = sqlite3_column_int(sel, 4) + 1;
        p.wbits = sqlite3_column_int(sel, 5);
        p.abits = sqlite3_column_int(sel, 6);
        p.reg = "none";
        double parent_acc = sqlite3_column_double(sel, 8);
        int depth = sqlite3_column_int(sel, 9);
        /* Deterministic final accuracy per phase, as qs_gen_live sets it. */
        p.acc = p.wbits >= 32 && p.abits >= 32 ? 88.0 + 0.4 * (depth - 8) / 6.0
                                               : parent_acc - 0.5 * ((p.wbits < 32) + 2 * (p.abits < 32));
        p.start_acc = parent_acc;
        double lr, ta, tra, tl, trl;
        qs_gen_epoch(&g, &p, e, &lr, &ta, &tra, &tl, &trl);
        sqlite3_reset(g.ins_epoch);
        sqlite3_clear_bindings(g.ins_epoch);
        sqlite3_bind_text(g.ins_epoch, 1, p.id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(g.ins_epoch, 2, e);
        sqlite3_bind_double(g.ins_epoch, 3, lr);
        sqlite3_bind_double(g.ins_epoch, 4, trl);
        sqlite3_bind_double(g.ins_epoch, 5, tra);
        sqlite3_bind_double(g.ins_epoch, 6, tl);
        sqlite3_bind_double(g.ins_epoch, 7, ta);
        sqlite3_bind_double(g.ins_epoch, 9, 30.0);
        sqlite3_bind_double(g.ins_epoch, 10, 1600.0);
        if (sqlite3_step(g.ins_epoch) != SQLITE_DONE) {
            qs_gen_fail(&g, "insert epoch: %s", sqlite3_errmsg(g.db));
            added = -1;
            goto cleanup;
        }
        int done = e >= p.epochs;
        sqlite3_reset(upd);
        sqlite3_bind_text(upd, 1, p.id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(upd, 2, e);
        sqlite3_bind_double(upd, 3, ta);
        sqlite3_bind_double(upd, 4, tl);
        sqlite3_bind_double(upd, 5, tra);
        sqlite3_bind_double(upd, 6, trl);
        sqlite3_bind_double(upd, 7, now);
        sqlite3_bind_text(upd, 8, done ? "done" : "running", -1, SQLITE_STATIC);
        sqlite3_step(upd);
        finished_any += done;
        added++;
    }
    if (s != SQLITE_DONE) {
        qs_gen_fail(&g, "select: %s", sqlite3_errmsg(g.db));
        added = -1;
        goto cleanup;
    }
    sqlite3_finalize(sel);
    sel = NULL;
    /* Keep two phases running: queued ones whose parent is done. */
    sqlite3_prepare_v2(g.db,
                       "UPDATE phases SET status = 'running', started = ?1, updated = ?1, attempts = 1"
                       " WHERE id IN (SELECT p.id FROM phases p JOIN sweep_phases sp ON sp.phase_id = p.id"
                       " JOIN sweeps s ON s.id = sp.sweep_id LEFT JOIN phases par ON par.id = p.parent_id"
                       " WHERE s.name = 'live' AND p.status = 'queued'"
                       " AND (p.parent_id IS NULL OR par.status = 'done')"
                       " ORDER BY p.parent_id IS NOT NULL DESC, p.id"
                       " LIMIT max(0, 2 - (SELECT count(*) FROM phases q JOIN sweep_phases sq ON sq.phase_id = q.id"
                       "  JOIN sweeps t ON t.id = sq.sweep_id WHERE t.name = 'live' AND q.status = 'running')))",
                       -1, &next, NULL);
    sqlite3_bind_double(next, 1, now);
    sqlite3_step(next);
    added += sqlite3_changes(g.db) > 0 && added == 0 ? 1 : 0;
    (void)finished_any;
    if (sqlite3_exec(g.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        qs_gen_fail(&g, "commit: %s", sqlite3_errmsg(g.db));
        added = -1;
    }
cleanup:
    if (added < 0 && err && errn) {
        size_t k = strlen(g.err);
        if (k >= errn)
            k = errn - 1;
        memcpy(err, g.err, k);
        err[k] = '\0';
    }
    if (added < 0 && g.db)
        sqlite3_exec(g.db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    sqlite3_finalize(next);
    qs_gen_close(&g);
    return added;
}

#endif
