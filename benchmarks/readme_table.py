"""The README's results table, generated from the results files so that it cannot drift from them.

    python benchmarks/readme_table.py           # print the table
    python benchmarks/readme_table.py --write   # replace it in README.md (between its markers)

One row per number of :mod:`nnlab.seeds` that has a target: the seed's number, the target, nnlab's
run with the homework's settings (``nnlab_seed_preset`` of ``results/seed_reproduction.json``)
and nnlab's improved default (``results/experiments.json``), and whether the default meets the
target. Below it in the README, the seed-001 sweeps on the seed's palette
(``results/colourization_sweeps.json``) beside the seed's tables. ``tests/test_readme.py`` checks
that README.md holds exactly these tables.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BEGIN, END = "<!-- results-table:begin -->", "<!-- results-table:end -->"
SWEEPS_BEGIN, SWEEPS_END = "<!-- colourization-sweeps:begin -->", "<!-- colourization-sweeps:end -->"
TIME_BEGIN, TIME_END = "<!-- time-to-target:begin -->", "<!-- time-to-target:end -->"


def _load(name: str) -> dict:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else {}


def table() -> str:
    from nnlab import seeds
    from nnlab.reporting.render import format_value
    from nnlab.reporting.render import table as md_table

    defaults, reproduced = _load("experiments.json"), _load("seed_reproduction.json").get("numbers", {})
    timed = _load("time_to_target.json")         # wall times measured alone by time_to_target.py come first
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
                     "wall time (default)": _wall(timed.get(n.experiment, {}), entry) if first else ""})
    columns = ["experiment", "metric", "seed (homework)", "target", "nnlab, seed preset", "nnlab, default", "met",
               "wall time (default)"]
    return md_table(rows, columns)


def _wall(timed: dict, entry: dict) -> str:
    """The wall time of an experiment's default run: from time_to_target.json, else experiments.json
    (marked with an asterisk: not measured by time_to_target.py)."""
    from nnlab.reporting.render import format_value

    if timed.get("wall_s") is not None:
        return format_value(timed["wall_s"], "s")
    return format_value(entry["wall_s"], "s") + " *" if entry.get("wall_s") else ""


def time_table() -> str:
    """Time to result (``time_to_target.json``): per experiment its wall time against the target,
    per network the training seconds, epochs and the seconds until its per-epoch score first
    reached the seed's number and nnlab's target."""
    from nnlab.reporting.render import format_value
    from nnlab.reporting.render import table as md_table

    def secs(value) -> str:
        return "-" if value is None else format_value(value, "s")

    rows = []
    for name, entry in _load("time_to_target.json").items():
        wall = (f"{format_value(entry['wall_s'], 's')} of {format_value(entry['target_s'], 's')}"
                f" ({'met' if entry['met'] else '**not met**'})")
        networks = entry.get("networks") or {"(whole run only)": None}
        for i, (net, t) in enumerate(networks.items()):
            t = t or {}
            rows.append({"experiment": "" if i else name, "network": net, "epochs": str(t.get("epochs", "")),
                         "training": secs(t["train_s"]) if t else "",
                         "to the seed's number": secs(t.get("seconds_to_seed")) if t else "",
                         "to the target": secs(t.get("seconds_to_target")) if t else "",
                         "per-epoch score": f"`{t['column']}`" if t.get("column") else "",
                         "wall time (whole run)": "" if i else wall})
    columns = ["experiment", "network", "epochs", "training", "to the seed's number", "to the target",
               "per-epoch score", "wall time (whole run)"]
    return md_table(rows, columns)


def sweeps_table() -> str:
    """The seed-001 sweeps on the seed's palette (``colourization_sweeps.json``), the seed's beside."""
    from nnlab import seeds
    from nnlab.reporting.render import format_value
    from nnlab.reporting.render import table as md_table

    results = _load("colourization_sweeps.json")
    rows, ratios = [], []
    for model in ("base", "unet"):
        for key in ("num_filters", "lr", "kernel_size"):
            entry = results.get(f"{model}.{key}")
            seed = {float(v): a for v, a in seeds.SWEEPS[model].get(key, [])}
            points = entry["points"] if entry else [{key: v, f"{model}_accuracy": None} for v, _ in
                                                     seeds.SWEEPS[model].get(key, [])]
            values = " / ".join(format_value(p[key], "") for p in points) or "3 / 5 / 7"
            ours = " / ".join("-" if p.get(f"{model}_accuracy") is None else f"{100 * p[f'{model}_accuracy']:.1f}"
                              for p in points)
            theirs = " / ".join("-" if seed.get(float(p[key])) is None else f"{100 * seed[float(p[key])]:.1f}"
                                for p in points) if seed else "3 best, no table"
            for p in points if seed else []:
                if p.get(f"{model}_accuracy") is not None and seed.get(float(p[key])):
                    ratios.append((p[f"{model}_accuracy"] / seed[float(p[key])],
                                   f"{'base' if model == 'base' else 'U-Net'} {key} = {format_value(p[key], '')}"))
            if entry and not entry.get("complete", True):
                ours += " (- : not run yet)"
            rows.append({"network": {"base": "base CNN", "unet": "U-Net"}[model], "swept": f"{key} {values}",
                         "nnlab, seed preset (%)": ours if entry else "not run yet",
                         "seed (%)": theirs})
    text = md_table(rows, ["network", "swept", "nnlab, seed preset (%)", "seed (%)"])
    if ratios:
        values = sorted(r for r, _ in ratios)
        low = min(ratios)
        text += (f"\nOver the {len(values)} points run that the seed also reports, nnlab's accuracy divided by "
                 f"the seed's has a median of {statistics.median(values):.2f} (from {low[0]:.2f}, at {low[1]}, "
                 f"to {values[-1]:.2f}; the middle half {_quartiles(values)}).\n")
    return text


def _quartiles(values: list[float]) -> str:
    q1, _, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else (values[0],) * 3
    return f"{q1:.2f} to {q3:.2f}"


def _replace(content: str, begin: str, end: str, text: str) -> str:
    if begin not in content or end not in content:
        raise SystemExit(f"README.md has no {begin} ... {end} markers")
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{text}{end}{tail}"


def main() -> None:
    text, sweeps, times = table(), sweeps_table(), time_table()
    if "--write" not in sys.argv:
        print(text + "\n" + sweeps + "\n" + times)
        return
    readme = ROOT / "README.md"
    content = _replace(readme.read_text(), BEGIN, END, text)
    content = _replace(content, TIME_BEGIN, TIME_END, times)
    readme.write_text(_replace(content, SWEEPS_BEGIN, SWEEPS_END, sweeps))
    print(f"wrote the results table, the time to result and the colourization sweeps into {readme}")


if __name__ == "__main__":
    main()
