-- A results database with known per-seed accuracies for the verdict tests
-- (tests/test_verdict.c, tests/cli/report_verdicts.sh): run after
-- sql/schema.sql. Sweep "verdict" is a reduced Table 5 design (basic and
-- preact at depths 8/20/32, depthwise at 11/29, one width a depth), built
-- so that each verdict word comes out at least once; sweep "verdict-t4"
-- is one Table 4 depth. The expected intervals are worked out in
-- tests/test_verdict.c.
INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '1'), ('application', 'qsweep');
INSERT INTO sweeps(id, name, grid) VALUES (901, 'verdict', '{}'), (902, 'verdict-t4', '{}');

CREATE TEMP TABLE v(sweep INTEGER, block TEXT, depth INTEGER, width INTEGER, phase TEXT,
                    wbits INTEGER, abits INTEGER, reg TEXT, clr INTEGER, seed INTEGER, acc REAL);
INSERT INTO v VALUES
  -- claim 1 (float, middle depth vs shallowest)
  (901, 'basic', 8, 20, 'float', 32, 32, 'none', 0, 1, 90.1),
  (901, 'basic', 8, 20, 'float', 32, 32, 'none', 0, 2, 90.3),
  (901, 'basic', 20, 12, 'float', 32, 32, 'none', 0, 1, 91.0),
  (901, 'basic', 20, 12, 'float', 32, 32, 'none', 0, 2, 91.4),
  (901, 'basic', 20, 12, 'float', 32, 32, 'none', 0, 3, 91.9),
  (901, 'preact', 8, 20, 'float', 32, 32, 'none', 0, 1, 90.4),
  (901, 'preact', 8, 20, 'float', 32, 32, 'none', 0, 2, 90.8),
  (901, 'preact', 8, 20, 'float', 32, 32, 'none', 0, 3, 90.6),
  (901, 'preact', 20, 12, 'float', 32, 32, 'none', 0, 1, 90.5),
  (901, 'preact', 20, 12, 'float', 32, 32, 'none', 0, 2, 90.9),
  (901, 'preact', 20, 12, 'float', 32, 32, 'none', 0, 3, 90.1),
  (901, 'depthwise', 11, 14, 'float', 32, 32, 'none', 0, 1, 89.0),
  (901, 'depthwise', 11, 14, 'float', 32, 32, 'none', 0, 2, 89.2),
  (901, 'depthwise', 29, 8, 'float', 32, 32, 'none', 0, 1, 88.0),
  -- claims 2-4 (W2A2) and the floats of the drops
  (901, 'basic', 8, 20, 'retrain', 2, 2, 'none', 0, 1, 88.0),
  (901, 'basic', 8, 20, 'retrain', 2, 2, 'none', 0, 2, 88.3),
  (901, 'basic', 8, 20, 'retrain', 2, 2, 'none', 0, 3, 88.2),
  (901, 'basic', 20, 12, 'retrain', 2, 2, 'none', 0, 1, 86.9),
  (901, 'basic', 20, 12, 'retrain', 2, 2, 'none', 0, 2, 87.1),
  (901, 'basic', 20, 12, 'retrain', 2, 2, 'none', 0, 3, 87.0),
  (901, 'basic', 32, 9, 'float', 32, 32, 'none', 0, 1, 90.0),
  (901, 'basic', 32, 9, 'float', 32, 32, 'none', 0, 2, 90.6),
  (901, 'basic', 32, 9, 'float', 32, 32, 'none', 0, 3, 90.3),
  (901, 'basic', 32, 9, 'retrain', 2, 2, 'none', 0, 1, 85.0),
  (901, 'basic', 32, 9, 'retrain', 2, 2, 'none', 0, 2, 85.4),
  (901, 'basic', 32, 9, 'retrain', 2, 2, 'none', 0, 3, 85.2),
  (901, 'preact', 8, 20, 'retrain', 2, 2, 'none', 0, 1, 84.0),
  (901, 'preact', 8, 20, 'retrain', 2, 2, 'none', 0, 2, 84.2),
  (901, 'preact', 8, 20, 'retrain', 2, 2, 'none', 0, 3, 84.1),
  (901, 'preact', 20, 12, 'retrain', 2, 2, 'none', 0, 1, 85.5),
  (901, 'preact', 20, 12, 'retrain', 2, 2, 'none', 0, 2, 85.7),
  (901, 'preact', 20, 12, 'retrain', 2, 2, 'none', 0, 3, 85.6),
  (901, 'preact', 32, 9, 'float', 32, 32, 'none', 0, 1, 90.2),
  (901, 'preact', 32, 9, 'float', 32, 32, 'none', 0, 2, 90.4),
  (901, 'preact', 32, 9, 'float', 32, 32, 'none', 0, 3, 90.9),
  (901, 'preact', 32, 9, 'retrain', 2, 2, 'none', 0, 1, 86.0),
  (901, 'preact', 32, 9, 'retrain', 2, 2, 'none', 0, 2, 86.5),
  (901, 'preact', 32, 9, 'retrain', 2, 2, 'none', 0, 3, 86.3),
  (901, 'depthwise', 11, 14, 'retrain', 2, 2, 'none', 0, 1, 86.0),
  (901, 'depthwise', 11, 14, 'retrain', 2, 2, 'none', 0, 2, 86.2),
  (901, 'depthwise', 29, 8, 'retrain', 2, 2, 'none', 0, 1, 87.0),
  (901, 'depthwise', 29, 8, 'retrain', 2, 2, 'none', 0, 2, 87.3),
  -- claim 5 (Table 4, basic width 16): one CLR seed, not enough data
  (902, 'basic', 20, 16, 'float', 32, 32, 'none', 0, 1, 92.0),
  (902, 'basic', 20, 16, 'float', 32, 32, 'none', 0, 2, 92.2),
  (902, 'basic', 20, 16, 'retrain', 2, 2, 'none', 0, 1, 89.0),
  (902, 'basic', 20, 16, 'retrain', 2, 2, 'none', 0, 2, 89.4),
  (902, 'basic', 20, 16, 'clr', 2, 2, 'lipschitz', 1, 1, 89.8);

INSERT INTO phases(id, phase, config, model, dataset, arch, block, depth, width, params, wbits,
                   abits, regularizer, clr, seed, threads, epochs, status, epochs_done, test_acc)
SELECT printf('%032d', rowid), phase, '{}', printf('resnet-%s-%d-%d', block, depth, width),
       'cifar10', 'resnet', block, depth, width, 100000, wbits, abits, reg, clr, seed, 1, 2,
       'done', 2, acc
FROM v;
INSERT INTO sweep_phases(sweep_id, phase_id) SELECT sweep, printf('%032d', rowid) FROM v;
DROP TABLE v;
