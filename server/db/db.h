/* The results database (sql/schema.sql). Only the coordinator writes.
 * Opening checks the file: a missing or 0-byte file becomes a new database;
 * a file that is not a qsweep database, or of another schema version, is a
 * clear error and is never modified. */
#ifndef QS_DB_H
#define QS_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "grid.h"

#define QS_DB_SCHEMA_VERSION 1

typedef struct {
    sqlite3 *h;
    char *path;
    int readonly;
} qs_db;

/* readonly: open without creating (the dashboard, `qsweep status`). */
int qs_db_open(qs_db *db, const char *path, int readonly);
void qs_db_close(qs_db *db);
/* A reader of a file whose `runs` view is older than this qsweep's (no
 * writer of this version has opened it yet; the writer remakes the view):
 * the current definition, from sql/schema.sql, as a TEMP view of this
 * connection, which shadows the file's. Nothing in the file changes. */
int qs_db_runs_view_current(sqlite3 *h, const char *path);

/* sql/schema.sql, compiled in (Makefile): the one text of the tables and
 * the runs view, which the dashboard's fast source also reads. */
extern const char qs_schema_sql[];

/* Registers a sweep run in one transaction: the sweeps row (inserted or
 * updated: grid text, host, version, ranks, started), every phase of the
 * grid (INSERT OR IGNORE: phases already present, done or not, keep their
 * rows), and the sweep_phases links. Phases left 'running' by a killed run
 * go back to 'queued'. */
int qs_db_sweep_begin(qs_db *db, const qs_grid *g, const char *host, const char *version,
                      int ranks, int64_t *sweep_id);
int qs_db_sweep_end(qs_db *db, int64_t sweep_id);
/* --retry-failed: failed phases of the sweep back to queued (attempts kept). */
int qs_db_retry_failed(qs_db *db, int64_t sweep_id);

typedef struct {
    int queued, running, done, failed;
    double gflop_left, gflop_done; /* estimated cost of unfinished / finished phases */
    double img_per_s;              /* sum over running image phases (latest epoch) */
    double points_per_s;           /* the same for synthetic (2-D point) phases */
    double eta_s;                  /* < 0 when unknown */
} qs_db_progress;

/* Counts for a sweep by name (NULL = every phase in the file). */
int qs_db_progress_get(qs_db *db, const char *sweep, qs_db_progress *p);

#endif
