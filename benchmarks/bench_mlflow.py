"""Benchmarks of the MLflow store on its embedded sqlite form (no server, no model):

    python -m benchmarks.bench_mlflow [--runs 10000]

1. the baseline lookup among ``--runs`` recorded runs: the tag-filtered query alone, and the
   query plus the record's download (``latest``);
2. recording one run (tags, metrics, the record artifact; no report upload);
3. ``import mlflow`` in a fresh interpreter, reported on its own (the gate pays it once).

The history is filled by cloning one real recorded run's rows in the database (``runs`` and
``tags``, new ids, times and branches): the query then runs over 10,000 runs' rows and indexes
as MLflow wrote them, in seconds instead of the hour 10,000 uploads would take. The newest runs
on ``main`` are real uploads, so the lookup finds and downloads a real record.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from benchmarks.bench_history import median_seconds, small_record
from pytest_mlgate.store.mlflow.store import MlflowStore, _tag


def fill(database: Path, template_run: str, runs: int) -> None:
    """``runs`` clones of ``template_run`` (its runs row and tags), spread over branches and
    time like a busy repository's history: a quarter on main, the rest on 97 PR branches."""
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        row = dict(db.execute("SELECT * FROM runs WHERE run_uuid = ?", (template_run,)).fetchone())
        tags = [
            dict(t) for t in db.execute("SELECT * FROM tags WHERE run_uuid = ?", (template_run,))
        ]
        run_rows, tag_rows = [], []
        start = row["start_time"] - runs * 60_000
        for i in range(runs):
            new = uuid.uuid4().hex
            branch = "main" if i % 4 == 0 else f"pr-{i % 97}"
            run_id = f"clone-{i:06d}"
            run_rows.append(
                {**row, "run_uuid": new, "name": run_id, "start_time": start + i * 60_000}
            )
            for tag in tags:
                value = {
                    "mlgate.run_id": run_id,
                    "mlgate.branch": branch,
                    "mlflow.runName": run_id,
                }.get(tag["key"], tag["value"])
                tag_rows.append({**tag, "run_uuid": new, "value": value})
        for table, rows in (("runs", run_rows), ("tags", tag_rows)):
            columns = list(rows[0])
            db.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})",
                [tuple(r[c] for c in columns) for r in rows],
            )


def bench_mlflow(runs: int) -> dict[str, float]:
    rng = np.random.default_rng(2)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        store = MlflowStore(f"sqlite:///{root}/mlflow.db", "bench")
        template = small_record(0, 1, rng)  # on a PR branch
        store.append(template)
        fill(root / "mlflow.db", store.mlflow_run_id(template.run_id), runs)
        latest = [small_record(299, 4 * k, rng) for k in range(3)]  # the newest, on main
        record_s = []
        for record in latest:
            start = time.perf_counter()
            store.append(record)
            record_s.append(time.perf_counter() - start)
        total = len(store.entries())
        query = median_seconds(
            lambda: next(store._search(_tag("branch", "main"), newest_first=True, limit=1)), 5
        )
        fresh = MlflowStore(store.uri, "bench")  # no record downloaded yet
        lookup = median_seconds(lambda: MlflowStore(store.uri, "bench").latest("main", ["t"]), 3)
        found = fresh.latest("main", ["t"])
        assert found is not None
        assert found.run_id == latest[-1].run_id
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mlflow"], check=True)
    imported = time.perf_counter() - start
    return {
        "runs": float(total),
        "query_s": query,
        "latest_s": lookup,
        "record_s": statistics.median(record_s),
        "import_s": imported,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    figures = bench_mlflow(args.runs)
    print(f"MLflow sqlite store, {figures['runs']:.0f} runs:")
    print(f"  baseline lookup, the query alone     {figures['query_s']:7.3f} s  (target <= 1 s)")
    print(f"  baseline lookup, query + download    {figures['latest_s']:7.3f} s")
    print(f"  recording one run (no report upload) {figures['record_s']:7.3f} s  (target <= 2 s)")
    print(f"  import mlflow (fresh interpreter)    {figures['import_s']:7.3f} s  (paid once)")


if __name__ == "__main__":
    main()
