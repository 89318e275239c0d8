"""Reports from run folders: ``report.html`` (self-contained) and ``report.md`` for one run, and
a side-by-side comparison of several.

A run folder holds ``config.yaml``, ``metrics.json``, ``manifest.json`` (what to show, in
order: figures, tables, notes, histories) and the files they name. The HTML embeds every
figure as base64 PNG, so it opens offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
figure{margin:1.5em 0}figcaption{color:#555;font-size:0.9em}pre{background:#f7f7f7;padding:0.8em;overflow:auto}
.failed{color:#b00;font-weight:bold}"""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if v is None:
        return "-"
    return str(v)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def table_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>(empty)</p>"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(k)))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def table_md(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(empty)\n"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def img_html(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">{cap}</figure>'


def _load_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    if not (run_dir / "config.yaml").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.yaml)")
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    metrics = json.loads((run_dir / "metrics.json").read_text()) if (run_dir / "metrics.json").is_file() else {}
    manifest = json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").is_file() else []
    return cfg, metrics, manifest


def write_report(run_dir: str | Path) -> tuple[Path, Path]:
    """(Re)build ``report.html`` and ``report.md`` of a run folder from what is in it."""
    run_dir = Path(run_dir)
    cfg, metrics, manifest = _load_run(run_dir)
    meta = cfg.get("run", {})
    title = f"{meta.get('experiment', run_dir.name)}{' (smoke)' if meta.get('smoke') else ''}"
    status = metrics.get("status", "unknown")
    scalar = [{"metric": k, "value": v} for k, v in metrics.items() if not isinstance(v, (list, dict))]
    parts_h = [f"<h1>{html.escape(title)}</h1>",
               f"<p>Run folder <code>{html.escape(str(run_dir))}</code>; preset {_fmt(meta.get('preset'))}, engine "
               f"{_fmt(meta.get('engine'))}, started {_fmt(meta.get('started'))}, git {_fmt(meta.get('git'))}.</p>"]
    parts_m = [f"# {title}\n", f"Run folder `{run_dir}`; preset {_fmt(meta.get('preset'))}, engine "
               f"{_fmt(meta.get('engine'))}, started {_fmt(meta.get('started'))}.\n"]
    if status != "ok":
        parts_h.append(f'<p class="failed">Status: {html.escape(str(status))} {html.escape(str(metrics.get("error", "")))}</p>')
        parts_m.append(f"**Status: {status}** {metrics.get('error', '')}\n")
    parts_h += ["<h2>Metrics</h2>", table_html(scalar)]
    parts_m += ["## Metrics\n", table_md(scalar)]
    for item in manifest:
        kind = item.get("kind")
        if kind == "figure":
            path = run_dir / item["path"]
            if path.is_file():
                parts_h.append(img_html(path, item.get("caption", "")))
                parts_m.append(f"![{item['name']}]({item['path']})\n\n{item.get('caption', '')}\n")
        elif kind == "table":
            path = run_dir / item["path"]
            if path.is_file():
                rows = _read_csv(path)
                head = f"<h3>{html.escape(item['name'])}</h3>" + (f"<p>{html.escape(item['caption'])}</p>"
                                                                  if item.get("caption") else "")
                parts_h += [head, table_html(rows)]
                parts_m += [f"### {item['name']}\n", (item.get("caption", "") + "\n") if item.get("caption") else "",
                            table_md(rows)]
        elif kind == "note":
            if item.get("title"):
                parts_h.append(f"<h3>{html.escape(item['title'])}</h3>")
                parts_m.append(f"### {item['title']}\n")
            parts_h.append("".join(f"<p>{html.escape(p)}</p>" for p in item["text"].split("\n\n")))
            parts_m.append(item["text"] + "\n")
    parts_h += ["<h2>Configuration</h2>", f"<pre>{html.escape(yaml.safe_dump(cfg, sort_keys=False))}</pre>"]
    parts_m += ["## Configuration\n", "```yaml\n" + yaml.safe_dump(cfg, sort_keys=False) + "```\n"]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts_h)}</body></html>\n")
    html_path, md_path = run_dir / "report.html", run_dir / "report.md"
    html_path.write_text(page)
    md_path.write_text("\n".join(parts_m))
    return html_path, md_path


def compare_runs(run_dirs: list[str | Path], out: str | Path | None = None) -> Path:
    """A comparison of several runs: metrics side by side and their curves overlaid.

    Writes ``out/compare.html``, ``compare.md`` and the figures; returns ``out``.
    """
    from nnlab.reporting.figures import overlay_figure, save
    from nnlab.training.history import History

    dirs = [Path(d) for d in run_dirs]
    if len(dirs) < 2:
        raise ValueError("compare_runs needs at least two run folders")
    out = Path(out) if out is not None else Path("runs") / "compare" / datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    labels = _labels(dirs)
    metrics = {label: _load_run(d)[1] for label, d in zip(labels, dirs)}
    keys = list(dict.fromkeys(k for m in metrics.values() for k, v in m.items() if not isinstance(v, (list, dict))))
    rows = [{"metric": k, **{label: metrics[label].get(k) for label in labels}} for k in keys]
    parts_h = ["<h1>Comparison</h1>", "<ul>" + "".join(f"<li>{html.escape(lab)}: <code>{html.escape(str(d))}</code></li>"
                                                        for lab, d in zip(labels, dirs)) + "</ul>",
               "<h2>Metrics</h2>", table_html(rows)]
    parts_m = ["# Comparison\n", *[f"- {lab}: `{d}`" for lab, d in zip(labels, dirs)], "\n## Metrics\n", table_md(rows)]
    names = sorted({p.stem for d in dirs for p in d.glob("history*.csv")})
    for name in names:
        histories = {lab: History.from_csv(d / f"{name}.csv") for lab, d in zip(labels, dirs) if (d / f"{name}.csv").is_file()}
        if len(histories) < 2:
            continue
        path = save(overlay_figure(histories, title=name), out / f"{name}-overlay.png")
        parts_h.append(img_html(path, f"{name}: the runs' curves overlaid"))
        parts_m.append(f"![{name}]({path.name})\n")
    (out / "compare.html").write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>Comparison</title>"
                                      f"<style>{STYLE}</style></head><body>{''.join(parts_h)}</body></html>\n")
    (out / "compare.md").write_text("\n".join(parts_m))
    return out


def _labels(dirs: list[Path]) -> list[str]:
    """Short distinct labels: the experiment/timestamp tail of each folder."""
    labels = [f"{d.parent.name}/{d.name}" for d in dirs]
    if len(set(labels)) < len(labels):
        labels = [str(d) for d in dirs]
    return labels
