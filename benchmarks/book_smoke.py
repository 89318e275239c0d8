"""How long ``nnlab book --smoke`` takes: every experiment's smoke runs, then the whole book.

    python benchmarks/book_smoke.py            # target: under a minute on a 2-core machine

Runs the command in a fresh process (NNLAB_DATA unset: smoke runs read no data) into a scratch
folder, prints the wall time and the book's size, and writes ``results/book_smoke.json`` with
the machine's CPU, cores and thread settings. Measure it with nothing else running.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import blas_info, git_revision, write_result  # noqa: E402


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NNLAB_DATA"}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "nnlab", "-q", "book", "--smoke", "--out", tmp], env=env,
                             capture_output=True, text=True)
        wall = time.perf_counter() - start
        if out.returncode != 0:
            sys.stderr.write(out.stderr[-3000:])
            raise SystemExit("nnlab book --smoke failed")
        text = (Path(tmp) / "book.md").read_text()
        figures = len(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text))
    result = {"wall_s": round(wall, 1), "target_s": 60, "met": wall < 60, "figures": figures,
              "questions": text.count("\n### "), "git": git_revision(), "machine": blas_info()}
    path = write_result("book_smoke", result)
    print(f"nnlab book --smoke: {wall:.1f} s (target < 60 s: {'met' if wall < 60 else 'NOT met'}), "
          f"{figures} figures, {result['questions']} questions -> {path}")


if __name__ == "__main__":
    main()
