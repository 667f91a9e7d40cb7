/* `qsweep checkpoint get --db F --phase ID --out FILE`: a phase's checkpoint
 * from the database, as the file `qsweep train --from/--resume` and
 * `qsweep export --from` read. The database keeps one checkpoint per phase
 * (the checkpoints table): the final one of a done phase, the latest of a
 * running or interrupted one; the coordinator hands the same bytes to a
 * child phase. Read-only on the database. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "db_phase.h"
#include "err.h"
#include "io.h"
#include "jsonw.h"

static const qs_opt ckpt_opts[] = {
    {"--db", "FILE", "results database, opened read-only (default results.db)"},
    {"--phase", "ID", "the phase: its id, or a unique prefix of it (as status prints)"},
    {"--out", "FILE", "where to write the checkpoint (replaced if it exists)"},
    {NULL, NULL, NULL}};
static const qs_cmd_spec ckpt_spec = {
    "checkpoint", "checkpoint get --db results.db --phase ID --out FILE", ckpt_opts,
    "writes the phase's stored checkpoint (final when the phase is done, else its\n"
    "latest) and prints one JSON line: phase_id, status, epoch, final, bytes, out.\n"
    "Exit 2 when the phase is unknown, ambiguous or has no checkpoint.\n",
    1, 0, NULL};

/* The full id of the phase `want` names (an id or a unique prefix). */
static int resolve_phase(char *out, size_t cap, char *status, size_t scap, qs_db *db,
                         const char *want)
{
    sqlite3_stmt *st;
    int n = 0, s, rc = QS_OK;
    if (sqlite3_prepare_v2(db->h, "SELECT id, status FROM phases WHERE substr(id, 1, "
                           "length(?1)) = ?1 ORDER BY id = ?1 DESC, id LIMIT 2", -1, &st,
                           NULL) != SQLITE_OK)
        return qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    sqlite3_bind_text(st, 1, want, -1, SQLITE_STATIC);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        /* An exact id wins over longer ids it prefixes (ordered first). */
        if (n == 1 && strcmp(out, want) == 0)
            break;
        if (n++ == 0) {
            snprintf(out, cap, "%s", id);
            snprintf(status, scap, "%s", (const char *)sqlite3_column_text(st, 1));
        }
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        rc = qs_err(QS_EIO, "%s: %s", db->path, sqlite3_errmsg(db->h));
    else if (n == 0)
        rc = qs_err(QS_EINVAL, "--phase %s: no phase with this id in %s", want, db->path);
    else if (n > 1)
        rc = qs_err(QS_EINVAL, "--phase %s: several phases start so in %s; give more of the id",
                    want, db->path);
    sqlite3_finalize(st);
    return rc;
}

/* Written as FILE.tmp and renamed: a failed write never leaves half a
 * checkpoint under the name asked for. */
static int write_out(const char *path, const uint8_t *p, size_t n)
{
    char tmp[4096];
    int rc = QS_OK;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return qs_err(QS_EINVAL, "--out %s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return qs_err(QS_EIO, "--out %s: cannot write %s: %s", path, tmp, strerror(errno));
    if (fwrite(p, 1, n, f) != n)
        rc = qs_err(QS_EIO, "--out %s: write failed: %s", path, strerror(errno));
    if (fclose(f) != 0 && rc == QS_OK)
        rc = qs_err(QS_EIO, "--out %s: write failed: %s", path, strerror(errno));
    if (rc == QS_OK && rename(tmp, path) != 0)
        rc = qs_err(QS_EIO, "--out %s: cannot rename %s: %s", path, tmp, strerror(errno));
    if (rc != QS_OK)
        remove(tmp);
    return rc;
}

int qs_cmd_checkpoint(int argc, char **argv)
{
    qs_args a;
    qs_db db;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc, epoch = 0, final = 0, open = 0;
    char id[128], status[16];
    if ((rc = qs_args_parse(&a, &ckpt_spec, argc, argv)) >= 0)
        return rc;
    const char *dbpath = qs_arg(&a, "--db") ? qs_arg(&a, "--db") : "results.db";
    const char *phase = qs_arg(&a, "--phase"), *out = qs_arg(&a, "--out");
    if (a.npos == 0)
        return qs_args_fail(&ckpt_spec, "give an action (allowed: get)");
    if (strcmp(a.pos[0], "get"))
        return qs_args_fail(&ckpt_spec, "unknown action \"%s\" (allowed: get)", a.pos[0]);
    if (!phase || !out)
        return qs_args_fail(&ckpt_spec, "--phase ID and --out FILE are required");
    if ((rc = qs_check_output(out, "--out")))
        goto cleanup;
    if ((rc = qs_db_open(&db, dbpath, 1)))
        goto cleanup;
    open = 1;
    if ((rc = resolve_phase(id, sizeof id, status, sizeof status, &db, phase)) ||
        (rc = qs_db_checkpoint_get(&db, id, &bytes, &len, &epoch, &final)))
        goto cleanup;
    if (!bytes) {
        rc = qs_err(QS_EINVAL, "--phase %s: phase %s (%s) has no checkpoint in %s%s", phase,
                    id, status, dbpath,
                    !strcmp(status, "queued") ? ": it has not started" :
                    !strcmp(status, "failed") ? ": it failed before its first one was saved" : "");
        goto cleanup;
    }
    if ((rc = write_out(out, bytes, len)))
        goto cleanup;
    qs_buf b;
    qs_jw w;
    qs_buf_init(&b);
    qs_jw_init(&w, &b);
    qs_jw_obj(&w, NULL);
    qs_jw_str(&w, "phase_id", id);
    qs_jw_str(&w, "status", status);
    qs_jw_int(&w, "epoch", epoch);
    qs_jw_bool(&w, "final", final);
    qs_jw_int(&w, "bytes", (long long)len);
    qs_jw_str(&w, "out", out);
    qs_jw_end_obj(&w);
    if ((rc = qs_buf_ok(&b)) == QS_OK)
        printf("%s\n", b.p);
    qs_buf_free(&b);
cleanup:
    free(bytes);
    if (open)
        qs_db_close(&db);
    if (rc) {
        fprintf(stderr, "qsweep checkpoint: %s\n", qs_errmsg());
        return qs_exit_status(rc);
    }
    return 0;
}
