"""How a sweep's wall time falls with its workers, on SQLite and on PostgreSQL.

    python benchmarks/sweep_scale.py                                  # SQLite
    NNLAB_TEST_POSTGRES=postgresql://USER@HOST:PORT/DB python benchmarks/sweep_scale.py   # and PostgreSQL

Each measurement is one ``nnlab -q sweep blobs-bce`` over eight learning rates (``--set
epochs=500``, every trial on one thread: ``--threads 1``) with 1, 2 and 4 worker processes,
into a new sweep folder and, for PostgreSQL, a new database (``.ci/postgres`` starts a server).
The expected ceiling is the number of cores: on a 2-core machine two workers can at best halve
the time and four cannot do better than two. Results go to ``benchmarks/results/sweep_scale.json``
(``{"sqlite": {"1": {"wall_s": ..., "speedup": ...}, ...}, "postgresql": {...}, "machine": ...}``) as each
measurement ends; run again, the script measures only what is missing (``--again`` measures all).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, blas_info, git_revision, update_result  # noqa: E402

LRS = "0.001,0.002,0.005,0.01,0.02,0.05,0.1,0.2"
WORKERS = (1, 2, 4)


def sweep_seconds(workers: int, storage: str | None, out: Path) -> float:
    cmd = [sys.executable, "-m", "nnlab", "-q", "sweep", "blobs-bce", "--grid", f"lr={LRS}", "--set", "epochs=500",
           "--threads", "1", "--workers", str(workers), "--out", str(out)]
    if storage:
        cmd += ["--storage", storage]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def fresh_database(server: str) -> str:
    import psycopg

    name = f"nnlab_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--again", action="store_true", help="measure everything again")
    a = p.parse_args()
    server = os.environ.get("NNLAB_TEST_POSTGRES")
    storages = {"sqlite": None, **({"postgresql": server} if server else {})}
    update_result("sweep_scale", "machine", lambda old: {**blas_info(), "cores": os.cpu_count(), "git": git_revision(),
                                                         "grid": f"blobs-bce lr={LRS}, epochs=500, --threads 1"})
    done = json.loads((RESULTS / "sweep_scale.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        for kind, url in storages.items():
            for w in WORKERS:
                if not a.again and str(w) in done.get(kind, {}):
                    continue
                seconds = sweep_seconds(w, fresh_database(url) if url else None, Path(tmp) / f"{kind}-{w}")

                def entry(old, w=w, seconds=seconds):
                    new = {**old, str(w): {"wall_s": round(seconds, 1)}}
                    if "1" in new:
                        for v in new.values():
                            v["speedup"] = round(new["1"]["wall_s"] / v["wall_s"], 2)
                    return new

                result = update_result("sweep_scale", kind, entry)
                print(f"{kind:10s} {w} worker(s): {seconds:6.1f} s  (speedup {result[str(w)].get('speedup', '-')})",
                      flush=True)


if __name__ == "__main__":
    main()
