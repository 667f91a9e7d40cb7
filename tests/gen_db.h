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

#include "gen_db_rows.h"

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
                lp.error = "diverged at epoch 37: train loss nan at iteration 12";
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
                cp.error = "parent failed: diverged at epoch 37: train loss nan at iteration 12";
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
