"""Reports from run folders: ``report.md`` and its self-contained twin ``report.html`` for one
run, and a side-by-side comparison of several.

A run folder holds ``config.yaml``, ``metrics.json``, ``summary.json`` (what the experiment is,
and every metric with its description, unit, the seed's number and nnlab's target),
``manifest.json`` (what to show, in order: figures, tables, notes, histories) and the files they
name. The report opens with what the experiment is and the metrics table; a smoke run carries a
banner saying its numbers mean nothing. The Markdown is the source; the HTML is rendered from
it by :mod:`nnlab.reporting.render` with every figure embedded, so it opens offline.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from nnlab.atomic_io import atomic_write_text
from nnlab.reporting.render import cell, figure, format_value, html_page, markdown_to_html, table
from nnlab.reporting.runs import run_state

SMOKE_BANNER = ("> **Smoke run.** Tiny synthetic data and a few steps: this run checks that the pipeline works end"
                " to end. Its numbers mean nothing about the method; run without `--smoke` for real ones.\n")
COLUMNS_NOTE = ("*Seed*: the number the homework report gives for the same quantity. *Target*: what nnlab's"
                " improved default must reach (a `--preset seed` run reproduces the homework and is read against"
                " the seed's number). *Met*: whether this run reaches the target. Rows without a seed number or a"
                " target are measurements for reference.")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load_run(run_dir: str | Path) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """(config, metrics, manifest, summary) of a run folder; missing files give empty values."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.yaml)")

    def read(name: str, default: Any) -> Any:
        path = run_dir / name
        if not path.is_file():
            return default
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None

    try:
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{run_dir / 'config.yaml'}: not valid YAML ({exc})") from None
    return cfg, read("metrics.json", {}), read("manifest.json", []), read("summary.json", {})


def target_text(row: dict[str, Any]) -> str:
    """A metric's target as a reader sees it: "<= 11.5 years", ">= 75.00%", "> vgg_accuracy"."""
    target, mode = row.get("target"), row.get("mode")
    if target is None or mode is None:
        return ""
    if isinstance(target, str):
        return {"min": "< ", "max": "> "}.get(mode, "= ") + target
    sign = {"min": "<= ", "max": ">= ", "eq": "= "}[mode]
    return sign + format_value(target, row.get("unit", ""))


def metrics_rows(summary: dict[str, Any], metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of the metrics table: from ``summary.json`` when the run wrote one, else the bare
    numbers of ``metrics.json`` (a run made before summaries existed)."""
    rows = summary.get("metrics")
    if rows is None:
        rows = [{"key": k, "value": v, "description": "", "unit": ""} for k, v in metrics.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)]
    out = []
    for r in rows:
        unit = r.get("unit", "")
        met = r.get("met")
        out.append({"metric": r.get("description") or r["key"], "value": format_value(r.get("value"), unit),
                    "seed": format_value(r.get("seed"), unit) if r.get("seed") is not None else "",
                    "target": target_text(r), "met": "" if met is None else "yes" if met else "**no**",
                    "key": f"`{r['key']}`"})
    return out


def metrics_markdown(summary: dict[str, Any], metrics: dict[str, Any]) -> str:
    rows = metrics_rows(summary, metrics)
    if not rows:
        return "(no metrics recorded)\n"
    seeded = any(r["seed"] or r["target"] for r in rows)
    columns = ["metric", "value", "seed", "target", "met", "key"] if seeded else ["metric", "value", "key"]
    return table([{c: r[c] for c in columns} for r in rows], columns) + ("\n" + COLUMNS_NOTE + "\n" if seeded else "")


def manifest_markdown(run_dir: Path, manifest: list[dict[str, Any]], heading: str = "###",
                      figure_path: Callable[[Path], str] | None = None) -> list[str]:
    """The figures, tables and notes of a run, in the order recorded, as Markdown blocks.

    ``figure_path`` maps a figure file to the path the Markdown should use (default: relative
    to the run folder)."""
    blocks = []
    for item in manifest:
        kind = item.get("kind")
        if kind == "figure":
            path = run_dir / item["path"]
            if path.is_file():
                ref = figure_path(path) if figure_path else item["path"]
                blocks.append(figure(ref, item.get("caption", ""), alt=item.get("name", "")))
        elif kind == "table":
            path = run_dir / item["path"]
            if path.is_file():
                caption = f"*{item['caption']}*\n\n" if item.get("caption") else ""
                blocks.append(f"{heading} {item['name']}\n\n{caption}{table(read_csv(path))}")
        elif kind == "note":
            title = f"{heading} {item['title']}\n\n" if item.get("title") else ""
            blocks.append(title + item["text"].strip() + "\n")
    return blocks


def status_markdown(metrics: dict[str, Any], smoke: bool) -> str:
    parts = []
    if smoke:
        parts.append(SMOKE_BANNER)
    status = metrics.get("status", "unknown")
    if status != "ok":
        error = " ".join(str(metrics.get("error", "")).split())
        parts.append(f"> **Status: {status}.** {error}\n".replace("|", "\\|"))
    return "\n".join(parts)


def _title(run_dir: Path, meta: dict[str, Any]) -> str:
    """A run's title: its experiment, and ``(smoke run)`` for one."""
    return f"{meta.get('experiment', run_dir.name)}{' (smoke run)' if meta.get('smoke') else ''}"


def report_markdown(run_dir: str | Path) -> str:
    run_dir = Path(run_dir)
    cfg, metrics, manifest, summary = load_run(run_dir)
    meta = cfg.get("run", {})
    name = meta.get("experiment", run_dir.name)
    smoke = bool(meta.get("smoke"))
    title = _title(run_dir, meta)
    parts = [f"# {title}\n"]
    if summary.get("summary"):
        parts.append(f"*{summary['summary']}*\n")
    status = status_markdown({**metrics, "status": run_state(run_dir, metrics.get("status", "incomplete"))}, smoke)
    if status:
        parts.append(status)
    if summary.get("about"):
        parts.append(summary["about"] + "\n")
    changed = f", settings changed: `{' '.join(meta['overrides'])}`" if meta.get("overrides") else ""
    parts.append(f"Run folder `{run_dir}`: status {run_state(run_dir, metrics.get('status', 'incomplete'))},"
                 f" {'preset ' + meta['preset'] if meta.get('preset') else 'default settings'}{changed},"
                 f" engine {cell(meta.get('engine'))}, started {cell(meta.get('started'))}, git `{meta.get('git') or '-'}`,"
                 f" wall time {format_value(metrics.get('wall_s'), 's')}"
                 f"{', resumed from its checkpoints' if meta.get('resumed') else ''}.\n")
    if summary.get("data"):
        parts.append("Data read: " + "; ".join(f"{d['name']}/{d['split']} from `{d['folder']}`"
                                               for d in summary["data"]) + ".\n")
    parts.append("## Metrics\n")
    if meta.get("preset") == "seed":
        parts.append("This run uses the homework's own settings (`--preset seed`): read its numbers against the"
                     " seed's. The targets are those of nnlab's improved default (`nnlab run"
                     f" {name}`), so a seed-preset run is not expected to meet them.\n")
    parts.append(metrics_markdown(summary, metrics))
    results = manifest_markdown(run_dir, manifest)
    if results:
        parts += ["## Results\n", *results]
    parts += ["## Configuration\n", "```yaml\n" + yaml.safe_dump(cfg, sort_keys=False) + "```\n"]
    return "\n".join(parts)


class RunReport:
    """A run folder's report for Jupyter: ``RunReport(folder)`` displays the whole report inline
    (figures embedded), ``RunReport(folder, full=False)`` only its title and metrics table (the
    metric, its value, the seed's number and the target). Read from the folder when displayed,
    so it shows the run as it stands."""

    def __init__(self, run_dir: str | Path, full: bool = True) -> None:
        self.run_dir, self.full = Path(run_dir), full
        load_run(self.run_dir)   # a folder that is not a run fails here, not at display

    def markdown(self) -> str:
        if self.full:
            return report_markdown(self.run_dir)
        cfg, metrics, _, summary = load_run(self.run_dir)
        return f"### {_title(self.run_dir, cfg.get('run', {}))}\n\n`{self.run_dir}`\n\n{metrics_markdown(summary, metrics)}"

    def _repr_html_(self) -> str:
        return f"<div class='nnlab-report'>{markdown_to_html(self.markdown(), base=self.run_dir)}</div>"

    def __repr__(self) -> str:
        return f"RunReport({str(self.run_dir)!r}, full={self.full})"


def write_report(run_dir: str | Path) -> tuple[Path, Path]:
    """(Re)build ``report.md`` and ``report.html`` of a run folder from what is in it."""
    run_dir = Path(run_dir)
    text = report_markdown(run_dir)
    title = text.splitlines()[0].lstrip("# ")
    html_path, md_path = run_dir / "report.html", run_dir / "report.md"
    atomic_write_text(md_path, text)
    atomic_write_text(html_path, html_page(title, text, base=run_dir))
    return html_path, md_path


def compare_runs(run_dirs: list[str | Path], out: str | Path | None = None) -> Path:
    """A comparison of several runs: metrics side by side and their curves overlaid.

    Writes ``out/compare.md``, ``compare.html`` and the figures; returns ``out``.
    """
    from nnlab.reporting.figures import overlay_figure, save
    from nnlab.training.history import History

    dirs = [Path(d) for d in run_dirs]
    if len(dirs) < 2:
        raise ValueError("compare_runs needs at least two run folders")
    out = Path(out) if out is not None else Path("runs") / "compare" / datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    labels = _labels(dirs)
    loaded = {label: load_run(d) for label, d in zip(labels, dirs)}
    metrics = {label: run[1] for label, run in loaded.items()}
    keys = list(dict.fromkeys(k for m in metrics.values() for k, v in m.items()
                              if not isinstance(v, (list, dict)) and k not in ("status", "error")))
    rows = [{"metric": k, **{label: format_value(metrics[label].get(k), "") if isinstance(metrics[label].get(k), float)
                             else cell(metrics[label].get(k)) for label in labels}} for k in keys]

    def state(label: str) -> str:
        meta, m = loaded[label][0].get("run", {}), metrics[label]
        marks = [run_state(dirs[labels.index(label)], m.get("status", "incomplete"))] + (["**smoke run: its numbers mean nothing**"] if meta.get("smoke") else [])
        error = " ".join(str(m.get("error", "")).split())
        return ", ".join(marks) + (f" ({error})" if error else "")

    parts = ["# Comparison\n", "\n".join(f"- {lab}: `{d}`: {state(lab)}" for lab, d in zip(labels, dirs)) + "\n",
             "## Metrics\n", table(rows)]
    configs = {label: _flat(run[0].get("config", {})) for label, run in loaded.items()}
    differing = sorted(k for k in set().union(*configs.values()) if len({repr(c.get(k)) for c in configs.values()}) > 1)
    parts.append("## Settings that differ\n")
    parts.append(table([{"setting": k, **{label: cell(configs[label].get(k, "-")) for label in labels}} for k in differing])
                 if differing else "The runs have the same settings.\n")
    names = list(dict.fromkeys(item["name"] for run in loaded.values() for item in run[2]
                               if item.get("kind") == "history"))
    paths = {label: {item["name"]: Path(d) / item["path"] for item in loaded[label][2] if item.get("kind") == "history"}
             for label, d in zip(labels, dirs)}
    for name in names:
        histories = {lab: History.from_csv(paths[lab][name]) for lab in labels
                     if name in paths[lab] and paths[lab][name].is_file()}
        if len(histories) < 2:
            continue
        path = save(overlay_figure(histories, title=name), out / f"{name}-overlay.png")
        parts.append(figure(path.name, f"{name}: every run's curves overlaid (one colour per run)"))
    text = "\n".join(parts)
    (out / "compare.md").write_text(text)
    (out / "compare.html").write_text(html_page("Comparison", text, base=out))
    return out


def _flat(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{"train.lr": 0.01, ...}``."""
    out: dict[str, Any] = {}
    for k, v in (cfg or {}).items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def _labels(dirs: list[Path]) -> list[str]:
    """Short distinct labels: the experiment/timestamp tail of each folder."""
    labels = [f"{d.parent.name}/{d.name}" for d in dirs]
    if len(set(labels)) < len(labels):
        labels = [str(d) for d in dirs]
    return labels
