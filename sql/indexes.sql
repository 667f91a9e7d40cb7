-- Indexes for the dashboard's read paths (`qsweep serve`). schema.sql
-- creates them in every new database; this file adds them to an older one
-- (sqlite3 results.db < sql/indexes.sql). Every dashboard query joins sweep_phases to phases by
-- id and reads a handful of columns of each phase of a sweep: progress
-- counts, the runs list's filters and sort keys, the charts' grouping
-- columns. phases rows are wide (the config text), and phases has a TEXT
-- primary key, so each join step costs an autoindex search plus a table
-- search. This index, keyed by id, holds all of those columns: the joins
-- never touch the table rows. On a database of 10,000 phases and
-- 2,000,000 epoch rows it cut the sweep overview query from ~70 ms to
-- ~8 ms and the runs list's sort from ~65 ms to ~14 ms (bench/http_bench.sh).
-- Cost to the writer: one more index entry per phase insert or update.
CREATE INDEX IF NOT EXISTS phases_read ON phases(
    id, status, dataset, arch, block, residual, depth, width, phase, wbits, abits,
    regularizer, clr, seed, test_acc, params, model, gflop, epochs, epochs_done,
    img_per_s, updated, finished);
