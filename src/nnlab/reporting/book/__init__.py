"""The lab book: the five seed homework reports answered question by question from nnlab's runs.

``build_book(runs, out)`` writes ``out/book.md`` (figures in ``out/figures/``) and its
self-contained twin ``out/book.html``. There is a chapter per homework (000 to 004) and one for
what goes beyond them; each follows its homework's questions in order, and each question gets
its answer: the numbers, figures and tables of the newest finished runs, the seed's number
beside nnlab's seed-preset and default numbers with a verdict, and, for theory questions, a
short written answer backed by a worked exercise. A question whose run is missing says which
command produces it.
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime
from pathlib import Path

from nnlab import seeds
from nnlab.reporting.book.context import PRESET_LABEL, BookContext, Chapter
from nnlab.reporting.render import format_value, html_page, table
from nnlab.reporting.runs import RunRecord, SweepRecord

log = logging.getLogger(__name__)

#: the experiments the book reads, each with the presets it shows
EXPERIMENTS: dict[str, tuple[str | None, ...]] = {
    "utkface-mlp": ("seed", None), "colourization": ("seed", None), "blobs-bce": ("seed", None),
    "batch-size": ("seed", None), "relu-pwl": ("seed", None), "symmetry": ("seed", None),
    "super-resolution": ("seed", None), "expression": ("seed", None), "mnist-autoencoder": ("seed", None),
    "utkface-cnn": ("seed", None),
}


def chapters() -> list[Chapter]:
    from nnlab.reporting.book import beyond, ch000, ch001, ch002, ch003, ch004

    return [ch000.CHAPTER, ch001.CHAPTER, ch002.CHAPTER, ch003.CHAPTER, ch004.CHAPTER, beyond.CHAPTER]


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def summary_table(ctx: BookContext) -> str:
    """Every number the seeds report, with nnlab's two numbers and the verdict: the book's first page."""
    from nnlab.reporting.book.context import comparison_row

    rows = []
    for n in seeds.NUMBERS:
        if not n.seed:
            continue
        row = comparison_row(n, ctx.measured(n, "seed"), ctx.measured(n, None))
        rows.append({"homework": n.seed, **row})
    return table(rows, ["homework", "quantity", "seed", "nnlab, seed preset", "nnlab, default", "target", "verdict"])


def runs_table(runs: dict[tuple[str, str | None], RunRecord]) -> str:
    rows = [{"experiment": r.experiment, "preset": PRESET_LABEL.get(r.preset, r.preset), "run folder": f"`{r.path}`",
             "started": r.started, "wall time": format_value(r.metrics.get("wall_s"), "s")}
            for r in sorted(runs.values(), key=lambda r: (r.experiment, str(r.preset)))]
    return table(rows) if rows else "*No runs were found.*\n"


def book_markdown(ctx: BookContext) -> str:
    chs = chapters()
    title = "nnlab lab book: the five homework reports, reproduced and improved"
    parts = [f"# {title}{' (smoke runs)' if ctx.smoke else ''}\n"]
    if ctx.smoke:
        parts.append("> **Built from smoke runs.** Every run in this book used tiny synthetic data and a few steps"
                     " (`--smoke`): the book's structure, figures and tables are all here, but its numbers mean"
                     " nothing. Build it from real runs with `nnlab book`.\n")
    parts.append(
        "Each chapter follows one of the seed homework reports question by question. For every number a"
        " homework reports, the book sets beside it nnlab's run with the homework's own settings"
        " (`--preset seed`) and nnlab's improved default, with the target the default must reach and a"
        " verdict. Figures and tables come from the newest finished run of each experiment (listed at the"
        f" end); the theory questions are answered in words and by worked exercises computed now. Built"
        f" {datetime.now().isoformat(timespec='minutes')}.\n")
    parts.append("## Contents\n")
    parts.append("\n".join(f"- [{c.id if c.id != 'beyond' else 'Beyond'}: {c.title}](#{_anchor(_chapter_heading(c))})"
                           for c in chs) + "\n")
    parts += ["## Every number the homework reports, at a glance\n", summary_table(ctx)]
    for chapter in chs:
        parts.append(f"## {_chapter_heading(chapter)}\n")
        parts.append(chapter.intro.strip() + "\n")
        for q in chapter.questions:
            parts.append(f"### {q.id}. {q.title}\n")
            parts.append("> " + " ".join(q.asks.split()) + "\n")
            ctx.said.clear()
            try:
                parts += [block for block in q.answer(ctx) if block]
            except Exception as exc:  # one broken answer must not cost the whole book
                log.exception("book: %s %s failed", chapter.id, q.id)
                parts.append(f"**This answer could not be built: {type(exc).__name__}: {exc}**\n")
    parts += ["## The runs this book was built from\n", runs_table(ctx.runs)]
    if ctx.missing:
        parts += ["### Missing runs\n", "These commands produce the runs the book could not find:\n",
                  "\n".join(f"- `{c}`" for c in ctx.missing) + "\n"]
    return "\n".join(parts)


def _chapter_heading(chapter: Chapter) -> str:
    return f"Chapter {chapter.id}: {chapter.title}" if chapter.id != "beyond" else f"Beyond the homework: {chapter.title}"


def build_book(runs: dict[tuple[str, str | None], RunRecord], out: str | Path, *, smoke: bool = False,
               data_dir: str | None = None, sweeps: list[SweepRecord] | None = None,
               results: str | Path | None = None) -> tuple[Path, Path]:
    """Write the book into ``out`` from ``runs`` ((experiment, preset) -> run), ``sweeps`` and the
    benchmarks' ``results`` folder (``benchmarks/results``: long sweeps and probes recorded there
    are shown where no run folder holds them); return (book.html, book.md)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "figures", ignore_errors=True)  # figures of an earlier build, possibly of other runs
    ctx = BookContext(out=out, runs=runs, smoke=smoke, data_dir=data_dir, sweeps=list(sweeps or []),
                      results=Path(results) if results else None)
    text = book_markdown(ctx)
    md_path, html_path = out / "book.md", out / "book.html"
    md_path.write_text(text)
    html_path.write_text(html_page("nnlab lab book", text, base=out))
    log.info("book: %d figures, %d missing runs, written to %s", len(ctx.figures_made), len(ctx.missing), out)
    return html_path, md_path
