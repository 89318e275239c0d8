"""The report of a sweep: ``results.csv`` (one row per grid point, best first), one figure per
swept setting (the metric against its values) and ``report.html`` / ``report.md``.

The rows come from :mod:`nnlab.experiments.sweep`; this module only writes them, every file
atomically.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nnlab.atomic_io import atomic_write_text
from nnlab.reporting.figures import save
from nnlab.reporting.render import figure, html_page, table


def write_sweep_report(sweep_dir: str | Path, rows: list[dict[str, Any]], *, choices: Mapping[str, Sequence[Any]],
                       metric: str, direction: str, title: str, intro: str) -> None:
    """Write ``results.csv``, the figures, ``report.md`` and ``report.html`` (self-contained) of the
    sweep in ``sweep_dir``: ``rows`` one per grid point, best first, each with the swept settings,
    ``metric``, ``state`` and ``run`` (and ``error`` when a point failed)."""
    sweep_dir = Path(sweep_dir)
    if not any(r.get("error") for r in rows):
        rows = [{k: v for k, v in r.items() if k != "error"} for r in rows]
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows({k: json.dumps(v) if isinstance(v, bool) else v for k, v in r.items()} for r in rows)
    atomic_write_text(sweep_dir / "results.csv", buf.getvalue())
    best = rows[0] if rows[0]["state"] == "COMPLETE" else None
    best_text = (f"Best: {', '.join(f'{k}={best[k]}' for k in choices)} with {metric} = "
                 f"{best[metric]:.6g} ({best['run']})." if best else "No grid point has completed yet.")
    figures = metric_figures(sweep_dir, rows, choices, metric, direction)
    settings = (sweep_dir / "sweep.yaml").read_text() if (sweep_dir / "sweep.yaml").is_file() else ""
    parts = [f"# {title}\n", intro + "\n", f"**{best_text}**\n", "## Results\n", table(rows),
             "## The metric against each swept setting\n",
             *[figure(f"figures/{p.name}", f"{metric} against {p.stem.split('-vs-')[-1]}") for p in figures],
             "## Settings\n", f"```yaml\n{settings}```\n"]
    text = "\n".join(parts)
    atomic_write_text(sweep_dir / "report.md", text)
    atomic_write_text(sweep_dir / "report.html", html_page(title, text, base=sweep_dir))


def read_results(sweep_dir: str | Path) -> list[dict[str, str]]:
    """The rows of a sweep's ``results.csv`` (best first)."""
    with open(Path(sweep_dir) / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def metric_figures(sweep_dir: Path, rows: list[dict[str, Any]], choices: Mapping[str, Sequence[Any]],
                   metric: str, direction: str) -> list[Path]:
    """One PNG per swept key: the metric against its values (a line per value of the other key)."""
    from matplotlib.figure import Figure

    done = [r for r in rows if r["state"] == "COMPLETE"]
    paths = []
    for key, xs in choices.items() if done else ():
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs)
        pos = {v: (v if numeric else i) for i, v in enumerate(xs)}
        others = [k for k in choices if k != key]
        if len(others) == 1:  # a line per value of the other key
            groups = {f"{others[0]}={v}": [r for r in done if r[others[0]] == v] for v in choices[others[0]]}
        else:
            groups = {"best over the other keys" if others else "": done}
        fig = Figure(figsize=(5.5, 3.6), dpi=100, layout="constrained")
        ax = fig.add_subplot()
        for label, group in groups.items():
            if not group:
                continue
            best: dict[Any, float] = {}
            for r in group:  # with several other keys: the best value at each x
                y = r[metric]
                if r[key] not in best or (y < best[r[key]]) == (direction == "min"):
                    best[r[key]] = y
            x = sorted(best, key=lambda v: pos[v])
            ax.plot([pos[v] for v in x], [best[v] for v in x], marker="o", label=label or None)
        if numeric and min(xs) > 0 and max(xs) >= 100 * min(xs):
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(xs)), [str(v) for v in xs])
        ax.set_xlabel(key)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} ({direction}) against {key}", fontsize=10)
        ax.grid(alpha=0.3)
        if any(groups):
            ax.legend(fontsize=8)
        paths.append(save(fig, Path(sweep_dir) / "figures" / f"{metric}-vs-{key}.png"))
    return paths
