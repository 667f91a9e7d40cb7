-- qsweep results database, schema version 1.
-- Only the sweep coordinator writes (WAL mode, batched transactions); the
-- dashboard and `qsweep status` read. Accuracy is a percentage 0..100.

PRAGMA journal_mode = WAL;

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- ('schema_version', '1') and ('application', 'qsweep') identify the file.

CREATE TABLE IF NOT EXISTS sweeps (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    grid      TEXT NOT NULL,          -- the grid file's text as last run
    grid_path TEXT,
    host      TEXT,
    version   TEXT,                   -- qsweep version that ran it last
    ranks     INTEGER,
    started   REAL,                   -- unix seconds
    finished  REAL
);

-- One row per distinct phase configuration: shared by every sweep whose
-- grid expands to the same effective configuration (id = its hash).
CREATE TABLE IF NOT EXISTS phases (
    id          TEXT PRIMARY KEY,     -- 32 hex chars, hash of the effective config
    parent_id   TEXT REFERENCES phases(id),
    phase       TEXT NOT NULL CHECK (phase IN ('float', 'retrain', 'clr', 'ptq', 'compress')),
    config      TEXT NOT NULL,        -- job JSON: `qsweep train --config` keys
    model       TEXT NOT NULL,        -- resnet-basic-20-31 / fcdnn-128-4 / fcdnn-res-128-4
    dataset     TEXT NOT NULL,
    arch        TEXT NOT NULL,        -- fcdnn | resnet | imagenet-resnet | mobilenetv2
    block       TEXT,                 -- basic | preact | depthwise | bottleneck; NULL for fcdnn, mobilenetv2
    depth       INTEGER NOT NULL,
    width       INTEGER NOT NULL,
    residual    INTEGER NOT NULL DEFAULT 0,
    params      INTEGER NOT NULL,
    wbits       INTEGER NOT NULL,
    abits       INTEGER NOT NULL,
    regularizer TEXT NOT NULL DEFAULT 'none',   -- none | lipschitz
    clr         INTEGER NOT NULL DEFAULT 0,     -- 1 for the clr phase
    seed        INTEGER NOT NULL,
    threads     INTEGER NOT NULL,
    epochs      INTEGER NOT NULL,     -- planned
    gflop       REAL,                 -- estimated cost: epochs x images x GFLOP/img
    status      TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,                 -- 'diverged at epoch E: train loss L ...', 'error: ...', 'parent failed: ...'
    epochs_done INTEGER NOT NULL DEFAULT 0,
    test_acc    REAL,                 -- final epoch (never the best epoch)
    test_loss   REAL,
    train_loss  REAL,
    train_acc   REAL,
    seconds     REAL,                 -- training wall time over all attempts
    img_per_s   REAL,
    model_bits  REAL,
    bops        REAL,
    version     TEXT,                 -- qsweep version that produced the result
    worker_host TEXT,
    started     REAL,
    finished    REAL,
    updated     REAL
);
CREATE INDEX IF NOT EXISTS phases_status ON phases(status);
CREATE INDEX IF NOT EXISTS phases_parent ON phases(parent_id);
CREATE INDEX IF NOT EXISTS phases_arch ON phases(dataset, block, depth, width, wbits, abits);
-- The dashboard's covering index (why: sql/indexes.sql).
CREATE INDEX IF NOT EXISTS phases_read ON phases(
    id, status, dataset, arch, block, residual, depth, width, phase, wbits, abits,
    regularizer, clr, seed, test_acc, params, model, gflop, epochs, epochs_done,
    img_per_s, updated, finished);

CREATE TABLE IF NOT EXISTS sweep_phases (
    sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
    phase_id TEXT NOT NULL REFERENCES phases(id),
    PRIMARY KEY (sweep_id, phase_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sweep_phases_phase ON sweep_phases(phase_id);

CREATE TABLE IF NOT EXISTS epochs (
    phase_id   TEXT NOT NULL REFERENCES phases(id),
    epoch      INTEGER NOT NULL,
    lr         REAL,
    train_loss REAL,
    train_acc  REAL,
    test_loss  REAL,
    test_acc   REAL,
    lipschitz  REAL,
    seconds    REAL,
    img_per_s  REAL,
    PRIMARY KEY (phase_id, epoch)
) WITHOUT ROWID;

-- The final checkpoint of every done phase and the latest of each running
-- one (older ones are replaced).
CREATE TABLE IF NOT EXISTS checkpoints (
    phase_id TEXT PRIMARY KEY REFERENCES phases(id),
    epoch    INTEGER NOT NULL,
    final    INTEGER NOT NULL DEFAULT 0,
    bytes    INTEGER NOT NULL,
    data     BLOB NOT NULL,           -- qsweep checkpoint (ckpt.h format)
    created  REAL
);

-- Decision maps of synthetic runs: 256 x 256 predicted labels, zlib.
CREATE TABLE IF NOT EXISTS decision_maps (
    phase_id TEXT PRIMARY KEY REFERENCES phases(id),
    width    INTEGER NOT NULL,
    height   INTEGER NOT NULL,
    data     BLOB NOT NULL            -- zlib-compressed width*height label bytes
);

-- Learned bit widths (BitPruning) of a done phase whose model learns them,
-- one row per learned width, read from its final checkpoint: layer = its
-- order among the model's learned widths, node = its node in the model
-- graph, kind 'w' (a conv / linear layer's weights) or 'a' (the activation
-- at a ReLU), bits = the width it ended with (rounded up), count = the
-- layer's weights (w) or the activation's elements per example (a).
CREATE TABLE IF NOT EXISTS phase_bits (
    phase_id TEXT NOT NULL REFERENCES phases(id),
    layer    INTEGER NOT NULL,
    node     INTEGER NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('w', 'a')),
    bits     REAL NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (phase_id, layer)
);

-- The SVD factoring of a done compress phase (docs/ptq.md), read from its
-- final checkpoint: params_before = the float model's counted parameters
-- (the phase's params becomes the factored model's), ranks = a summary
-- ("svd 8/10 layers, ranks 6-27"), rank_list = every weight layer's rank
-- in plan order, 0 for a layer kept whole ("0,6,7,13,14,6,27,27,12,0").
CREATE TABLE IF NOT EXISTS phase_svd (
    phase_id      TEXT PRIMARY KEY REFERENCES phases(id),
    params_before INTEGER NOT NULL,
    ranks         TEXT NOT NULL,
    rank_list     TEXT NOT NULL
);

-- The user-facing view: one row per (sweep, phase).
-- quantizer: the job JSON names it only when it is not the default (so the
-- ids of Hwang-PACT phases never changed); a float phase has none and is
-- the parent of every quantizer's retrain; 'bitprune' names a phase whose
-- wbits or abits are "learned" (their stored wbits / abits are then 8, the
-- width the widths start from at most). mean_wbits / mean_abits: the means of
-- the learned widths (phase_bits), NULL without them. compress / ranks: the
-- compress phase's settings and ranks (phase_svd). The view is derived data, so it
-- is dropped and made again whenever a writer opens the file: a database
-- written by an older qsweep gets the new columns then.
DROP VIEW IF EXISTS runs;
CREATE VIEW runs AS
SELECT s.name AS sweep, p.id AS phase_id, p.parent_id, p.phase, p.status,
       p.dataset, p.arch, p.block, p.depth, p.width, p.residual, p.model,
       p.params, p.wbits, p.abits, p.regularizer,
       -- derived {  (each such block is also the dashboard's: server/api/api.c)
       CASE WHEN p.phase IN ('float', 'compress') THEN 'none'
            WHEN p.phase = 'ptq' THEN 'ptq'
            WHEN json_extract(p.config, '$.wbits') = 'learned'
              OR json_extract(p.config, '$.abits') = 'learned' THEN 'bitprune'
            ELSE coalesce(json_extract(p.config, '$.quantizer'), 'hwang-pact') END AS quantizer,
       -- }
       p.clr, p.seed, p.threads,
       p.epochs, p.test_acc, p.test_loss, p.train_loss, p.train_acc,
       p.epochs_done, p.seconds, p.img_per_s, p.model_bits, p.bops, p.error,
       p.attempts, p.version, p.started, p.finished,
       -- the method that made a quantized model: qat (retrain, clr) or ptq;
       -- rounding and equalize are the ptq phase's (NULL for the others)
       -- derived {
       CASE WHEN p.phase IN ('float', 'compress') THEN 'none' WHEN p.phase = 'ptq' THEN 'ptq'
            ELSE 'qat' END AS method,
       CASE WHEN p.phase = 'ptq' THEN json_extract(p.config, '$.rounding') END AS rounding,
       CASE WHEN p.phase = 'ptq' THEN json_extract(p.config, '$.equalize') END AS equalize,
       -- }
       (SELECT avg(b.bits) FROM phase_bits b WHERE b.phase_id = p.id AND b.kind = 'w')
           AS mean_wbits,
       (SELECT avg(b.bits) FROM phase_bits b WHERE b.phase_id = p.id AND b.kind = 'a')
           AS mean_abits,
       -- a compress phase's settings ("svd e=0.8", "svd params=0.5") and its
       -- ranks (phase_svd, once done); NULL for the other phases
       -- derived {
       CASE WHEN p.phase = 'compress' THEN 'svd ' ||
            CASE WHEN json_extract(p.config, '$.svd_energy') IS NOT NULL
                 THEN 'e=' || json_extract(p.config, '$.svd_energy')
                 ELSE 'params=' || json_extract(p.config, '$.svd_params') END END AS compress,
       -- }
       (SELECT v.ranks FROM phase_svd v WHERE v.phase_id = p.id) AS ranks
FROM sweep_phases sp
JOIN sweeps s ON s.id = sp.sweep_id
JOIN phases p ON p.id = sp.phase_id;

-- The coordinator's claim on this database: at most one row (server/db/db_lock.h,
-- docs/cluster.md). A second coordinator is refused while the holder's
-- heartbeat is fresh and its pid alive; a stale claim is taken over.
CREATE TABLE IF NOT EXISTS coordinator (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    host      TEXT NOT NULL,
    pid       INTEGER NOT NULL,        -- rank 0's process id on host
    sweep     TEXT,                    -- the sweep it runs
    token     TEXT NOT NULL,           -- random per claim
    since     REAL NOT NULL,           -- unix seconds
    heartbeat REAL NOT NULL            -- renewed by the holder while it runs
);
