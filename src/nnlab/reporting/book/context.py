"""What a chapter of the lab book is written with: the runs it reads, the seed's numbers, and
helpers that turn a run's figures, tables and notes into Markdown in the book's folder.

A chapter never fails because a run is missing: every helper then writes which command
produces it, so a book built on a machine with only some runs still says what is missing.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlab import seeds
from nnlab.reporting.render import cell, figure, format_value, table
from nnlab.reporting.report import load_run, read_csv
from nnlab.reporting.runs import RunRecord, SweepRecord

log = logging.getLogger(__name__)

PRESET_LABEL = {None: "default", "seed": "seed preset"}


@dataclass
class Question:
    """One question of a homework and how the book answers it.

    ``asks``: the question in the homework's words (translated); ``answer(book)`` returns the
    Markdown blocks of the answer (text, tables, figures)."""

    id: str
    title: str
    asks: str
    answer: Callable[[BookContext], list[str]]
    theory: bool = False


@dataclass
class Chapter:
    id: str                      # "000" ... "004", or "beyond"
    title: str
    intro: str
    questions: list[Question]
    experiments: tuple[str, ...] = ()   # the experiments whose runs it reads


@dataclass
class BookContext:
    """The runs a book is built from and the folder it is written to."""

    out: Path
    runs: dict[tuple[str, str | None], RunRecord]
    smoke: bool = False
    data_dir: str | None = None
    sweeps: list[SweepRecord] = field(default_factory=list)
    results: Path | None = None   # benchmarks/results: figures the benchmarks recorded (sweeps, gap probes)
    _exercises: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _manifests: dict[Path, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    figures_made: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    said: set[tuple[str, str | None]] = field(default_factory=set)  # runs already said missing in this question

    # -- runs ---------------------------------------------------------------------------------
    def run(self, experiment: str, preset: str | None = None) -> RunRecord | None:
        return self.runs.get((experiment, preset))

    def command(self, experiment: str, preset: str | None = None) -> str:
        return f"nnlab run {experiment}{' --preset ' + preset if preset else ''}{' --smoke' if self.smoke else ''}"

    def missing_text(self, experiment: str, preset: str | None = None) -> str:
        """Which command makes a missing run: said once per question (the rest of what the
        question would show from that run is left out silently)."""
        cmd = self.command(experiment, preset)
        if cmd not in self.missing:
            self.missing.append(cmd)
        if (experiment, preset) in self.said:
            return ""
        self.said.add((experiment, preset))
        return (f"*Not in this book yet: this answer needs a finished run of {experiment}"
                f" ({PRESET_LABEL.get(preset, preset)}), and none was found. `{cmd}` produces it.*\n")

    def lead(self, experiment: str, text: str, preset: str | None = None) -> str:
        """``text`` (words that introduce what a run shows) if that run exists, else nothing: a
        missing run is announced once, without sentences that lead to nothing."""
        return text if self.run(experiment, preset) is not None else ""

    def metric(self, experiment: str, key: str, preset: str | None = None) -> float | None:
        run = self.run(experiment, preset)
        value = run.metrics.get(key) if run else None
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def value(self, experiment: str, key: str, unit: str = "", preset: str | None = None) -> str:
        """A metric formatted for prose ("10.83 years", "75.53%"), or "(not measured)"."""
        v = self.metric(experiment, key, preset)
        return "(not measured)" if v is None else format_value(v, unit)

    # -- figures, tables and notes of runs ------------------------------------------------------
    def _copy(self, source: Path, *parts: str) -> str:
        target = self.out.joinpath("figures", *parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        self.figures_made.append(target)
        return str(target.relative_to(self.out))

    def figure(self, experiment: str, name: str, caption: str | None = None, preset: str | None = None) -> str:
        """A run's figure ``name`` copied into the book, with its caption (or ``caption``)."""
        run = self.run(experiment, preset)
        if run is None:
            return self.missing_text(experiment, preset)
        item = self._manifest_item(run, "figure", name)
        if item is None:
            return (f"*The {experiment} run at `{run.path}` has no figure {name!r}: it was made by an older"
                    f" nnlab. `{self.command(experiment, preset)}` makes it again.*\n")
        ref = self._copy(run.path / item["path"], experiment, PRESET_LABEL.get(preset, preset).replace(" ", "-"),
                         Path(item["path"]).name)
        label = f" ({PRESET_LABEL.get(preset, preset)} run)"
        return figure(ref, (caption or item.get("caption", name)) + label, alt=name)

    def drawn_figure(self, fig: Any, name: str, caption: str) -> str:
        """A figure the book draws itself (from runs' CSVs and the seeds' logs), saved and referenced."""
        path = self.out / "figures" / "book" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
        self.figures_made.append(path)
        return figure(str(path.relative_to(self.out)), caption, alt=name)

    def figures(self, experiment: str, names: Sequence[str], preset: str | None = None) -> list[str]:
        return [self.figure(experiment, n, preset=preset) for n in names]

    def run_table(self, experiment: str, name: str, preset: str | None = None, caption: str | None = None,
                  columns: list[str] | None = None) -> str:
        """A run's table ``name`` (its CSV) as Markdown, with its caption."""
        run = self.run(experiment, preset)
        if run is None:
            return self.missing_text(experiment, preset)
        item = self._manifest_item(run, "table", name)
        if item is None:
            return f"*The {experiment} run at `{run.path}` has no table {name!r}.*\n"
        rows = read_csv(run.path / item["path"])
        text = caption or item.get("caption", "")
        return (f"*{text} ({PRESET_LABEL.get(preset, preset)} run)*\n\n" if text else "") + table(rows, columns)

    def note(self, experiment: str, title: str, preset: str | None = None) -> str:
        run = self.run(experiment, preset)
        if run is None:
            return self.missing_text(experiment, preset)
        item = self._manifest_item(run, "note", title, key="title")
        return item["text"].strip() + "\n" if item else f"*The {experiment} run has no note {title!r}.*\n"

    def _manifest_item(self, run: RunRecord, kind: str, name: str, key: str = "name") -> dict[str, Any] | None:
        if run.path not in self._manifests:  # read once per run, not once per figure
            self._manifests[run.path] = load_run(run.path)[2]
        return next((i for i in self._manifests[run.path] if i.get("kind") == kind and i.get(key) == name), None)

    def sweep(self, experiment: str, key: str, preset: str | None, overrides: Sequence[str] = ()) -> SweepRecord | None:
        """The newest real (not smoke) sweep of ``experiment`` over ``key`` alone with these settings."""
        chosen = [s for s in self.sweeps if s.experiment == experiment and list(s.grid) == [key]
                  and s.preset == preset and sorted(s.overrides) == sorted(overrides) and s.smoke == self.smoke]
        return max(chosen, key=lambda s: s.path.stat().st_mtime) if chosen else None

    def benchmark(self, name: str) -> dict[str, Any] | None:
        """``results/NAME.json`` as recorded by a benchmark, or None (no results folder, no file,
        or a file that is not a JSON object: said in the log, not fatal)."""
        import json

        if self.results is None or not (path := self.results / f"{name}.json").is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            log.warning("book: %s is unreadable (%s); left out", path, err)
            return None
        return data if isinstance(data, dict) else None

    # -- worked exercises ----------------------------------------------------------------------
    def exercise(self, name: str, caption: str = "", show_text: bool = True, **kwargs: Any) -> tuple[Any, str]:
        """Compute exercise ``name`` (keyword arguments go to it): (its result, Markdown with its
        printed numbers and its figure)."""
        result = self._exercise(name, **kwargs)
        path = self.out / "figures" / "exercises" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        result.figure().savefig(path)
        self.figures_made.append(path)
        text = f"```text\n{result.text.rstrip()}\n```\n" if show_text else ""
        failed = [claim for claim, ok in result.checks.items() if not ok]
        if failed:
            text += "\n**Checks that failed:** " + "; ".join(failed) + "\n"
        shown = caption or result.title
        return result, text + "\n" + figure(str(path.relative_to(self.out)), f"{shown} (`nnlab exercise {name}`)",
                                            alt=name)

    def _exercise(self, name: str, **kwargs: Any) -> Any:
        """Exercise ``name`` computed once per book (they take a few seconds each)."""
        from nnlab.exercises import run as run_exercise

        key = (name, repr(sorted(kwargs.items())))
        if key not in self._exercises:
            self._exercises[key] = run_exercise(name, **kwargs)
        return self._exercises[key]

    # -- the seed's numbers beside nnlab's ----------------------------------------------------
    def compare(self, ids: Sequence[str] | None = None, *, experiment: str | None = None,
                seed: str | None = None) -> str:
        """A table: each number the seed reports, nnlab's seed-preset and default numbers, the
        target and the verdict."""
        chosen = [n for n in seeds.NUMBERS if n.id in ids] if ids else seeds.numbers(experiment, seed)
        if not chosen:
            return ""
        rows = [comparison_row(n, self.measured(n, "seed"), self.measured(n, None)) for n in chosen]
        return table(rows, ["quantity", "seed", "nnlab, seed preset", "nnlab, default", "target", "verdict"])

    def measured(self, number: seeds.SeedNumber, preset: str | None) -> tuple[float | None, dict[str, Any]]:
        """(value, all metrics of that run) of a seed number in nnlab's run of ``preset``."""
        if number.experiment.startswith("exercise:"):
            result = self._exercise(number.experiment.split(":", 1)[1])
            value = result.values.get(number.metric)
            return (float(value) if value is not None else None), {}
        run = self.run(number.experiment, preset)
        if run is None:
            return None, {}
        value = run.metrics.get(number.metric)
        return (value if isinstance(value, (int, float)) else None), run.metrics


def comparison_row(number: seeds.SeedNumber, seed_preset: tuple[float | None, dict], default: tuple[float | None, dict],
                   ) -> dict[str, str]:
    """One row of a seed-vs-nnlab table (see :meth:`BookContext.compare`)."""
    unit = number.unit
    return {"quantity": f"{number.what} ({number.question})",
            "seed": format_value(number.value, unit) if number.value is not None else "-",
            "nnlab, seed preset": format_value(seed_preset[0], unit) if seed_preset[0] is not None else "not run",
            "nnlab, default": format_value(default[0], unit) if default[0] is not None else "not run",
            "target": _target(number),
            "verdict": verdict(number, default[0], default[1])}


def _target(number: seeds.SeedNumber) -> str:
    if number.target is None or number.mode is None:
        return "reference"
    if isinstance(number.target, str):
        return f"{'<' if number.mode == 'min' else '>'} {number.target}"
    return {"min": "<= ", "max": ">= ", "eq": "= "}[number.mode] + format_value(number.target, number.unit)


def verdict(number: seeds.SeedNumber, value: float | None, metrics: dict[str, Any]) -> str:
    """Met or missed (with the gap), and better or worse than the seed's number."""
    if value is None:
        return "not measured"
    met = number.met(value, metrics)
    if met is None:
        return "for reference"
    if number.mode == "eq":
        return "same as the seed" if met else f"differs ({cell(value)} against {cell(number.target)})"
    bound = metrics.get(number.target) if isinstance(number.target, str) else number.target
    gap = abs(value - bound)
    shown = f"{100 * gap:.2f} points" if number.unit == "fraction" else format_value(gap, number.unit)
    text = f"target met (by {shown})" if met else f"**target missed by {shown}**"
    if number.value is not None:
        better = value < number.value if number.mode == "min" else value > number.value
        text += "; better than the seed" if better else "; **not better than the seed**"
    return text
