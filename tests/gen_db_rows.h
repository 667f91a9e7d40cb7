/* The row writers of tests/gen_db.h: the generator state, its random
 * numbers, phase ids, parameter and MAC counts, curves, decision maps, and
 * the inserts of one phase / sweep / float-and-quantized family. gen_db.h
 * composes them into the named sweeps; split out to keep each under 600 lines. */
#ifndef QS_GEN_DB_ROWS_H
#define QS_GEN_DB_ROWS_H


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
            int diverged = p->error && strncmp(p->error, "diverged", 8) == 0 && e == done;
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

#endif
