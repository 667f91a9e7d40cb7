"""Rebuilds a results database from a CSV export of the runs view
(docs/results/*.csv: `sqlite3 -header -csv DB "select * from runs"`), so
`qsweep report` runs on committed results after the sweep's own database
is gone. Only what the reports read is restored: each phase's row with
its sweep link; no epochs, checkpoints or decision maps, and the job JSON
(phases.config) is '{}' (so the quantizer reads as hwang-pact).

  /usr/bin/python3 docs/results/runs_csv_to_db.py docs/results/table5-small.csv /tmp/t5s.db
  bin/qsweep report table5 --db /tmp/t5s.db --format markdown
"""
import csv
import os
import sqlite3
import sys

here = os.path.dirname(os.path.abspath(__file__))
src, dst = sys.argv[1], sys.argv[2]
if os.path.exists(dst):
    sys.exit(f"{dst}: exists; give a new file")
con = sqlite3.connect(dst)
con.executescript(open(os.path.join(here, "..", "..", "sql", "schema.sql")).read())
# What qsweep itself writes when it creates a database (server/db/db.c).
con.execute("insert or replace into meta(key, value) values ('application', 'qsweep'), "
            "('schema_version', ?)", ("1",))  # QS_DB_SCHEMA_VERSION (server/db/db.h)
cols = [r[1] for r in con.execute("pragma table_info(phases)")]
sweeps = {}
with open(src, newline="") as f:
    for n, r in enumerate(csv.DictReader(f), 2):
        if r["sweep"] not in sweeps:
            sweeps[r["sweep"]] = con.execute("insert into sweeps(name, grid) values (?, '{}')",
                                             (r["sweep"],)).lastrowid
        row = {"id": r["phase_id"], "parent_id": r["parent_id"] or None, "config": "{}"}
        for c in cols:
            if c not in row and c in r:
                row[c] = r[c] if r[c] != "" else None
        try:
            con.execute(f"insert or ignore into phases({','.join(row)}) values ({','.join('?' * len(row))})",
                        list(row.values()))
        except sqlite3.Error as e:
            sys.exit(f"{src}:{n}: {e}")
        con.execute("insert or ignore into sweep_phases(sweep_id, phase_id) values (?, ?)",
                    (sweeps[r["sweep"]], r["phase_id"]))
con.commit()
print(f"{dst}: {con.execute('select count(*) from phases').fetchone()[0]} phases")
