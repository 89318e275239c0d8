"""The README's results table, generated from the results files so that it cannot drift from them.

    python benchmarks/readme_table.py           # print the table
    python benchmarks/readme_table.py --write   # replace it in README.md (between its markers)

One row per number of :mod:`nnlab.seeds` that has a target: the seed's number, the target, nnlab's
run with the homework's settings (``nnlab_seed_preset`` of ``results/seed_reproduction.json``)
and nnlab's improved default (``results/experiments.json``), and whether the default meets the
target. ``tests/test_readme.py`` checks that README.md holds exactly this table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BEGIN, END = "<!-- results-table:begin -->", "<!-- results-table:end -->"


def _load(name: str) -> dict:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else {}


def table() -> str:
    from nnlab import seeds
    from nnlab.reporting.render import format_value
    from nnlab.reporting.render import table as md_table

    defaults, reproduced = _load("experiments.json"), _load("seed_reproduction.json").get("numbers", {})
    rows, shown = [], set()
    order = list(dict.fromkeys(n.experiment for n in seeds.NUMBERS))  # each experiment's rows together
    for n in sorted(seeds.NUMBERS, key=lambda n: order.index(n.experiment)):
        if n.mode is None or n.experiment.startswith("exercise:"):
            continue
        entry = defaults.get(n.experiment, {})
        default = entry.get(n.metric)
        seed_preset = reproduced.get(n.id, {}).get("nnlab_seed_preset")
        if isinstance(n.target, str):
            target = f"> {n.target}"
        else:
            target = {"min": "<= ", "max": ">= ", "eq": "= "}[n.mode] + format_value(n.target, n.unit)
        first = n.experiment not in shown  # the experiment's name and wall time on its first row only
        shown.add(n.experiment)
        rows.append({"experiment": n.experiment if first else "", "metric": n.what,
                     "seed (homework)": format_value(n.value, n.unit) if n.value is not None else "-",
                     "target": target,
                     "nnlab, seed preset": format_value(seed_preset, n.unit) if seed_preset is not None else "not run",
                     "nnlab, default": format_value(default, n.unit) if default is not None else "not run",
                     "met": {True: "yes", False: "**no**", None: "-"}[n.met(default, entry)],
                     "wall time (default)": format_value(entry.get("wall_s"), "s") if first and entry.get("wall_s")
                     else ""})
    columns = ["experiment", "metric", "seed (homework)", "target", "nnlab, seed preset", "nnlab, default", "met",
               "wall time (default)"]
    return md_table(rows, columns)


def main() -> None:
    text = table()
    if "--write" not in sys.argv:
        print(text)
        return
    readme = ROOT / "README.md"
    content = readme.read_text()
    if BEGIN not in content or END not in content:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} markers")
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")
    print(f"wrote the results table into {readme}")


if __name__ == "__main__":
    main()
