"""Markdown in, one self-contained HTML page out: the renderer of run reports and the lab book.

Reports and the book are written once, as Markdown (``report.md``, ``book.md``), and the HTML
twin is rendered from that text by markdown-it-py (CommonMark with tables) with raw HTML
switched off, so any ``<`` in a metric name, an error message or a config value is escaped,
never interpreted. Images referenced by a relative path are embedded as base64 PNG, so the page
opens offline and can be mailed as one file. The page frame is a Jinja2 template with
autoescaping on.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any, Iterable

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;padding:0 1.2em;
color:#222;line-height:1.45}
h1{font-size:1.7em;border-bottom:2px solid #ddd;padding-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #eee}
h3{margin-top:1.4em}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em;display:block;overflow-x:auto;max-width:100%}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}
td:not(:first-child){font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee;display:block;margin:.8em 0 .2em}
p:has(> img) + p > em:only-child{color:#555;font-size:.9em}
pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.85em}code{background:#f4f4f4;padding:0 .2em}
blockquote{margin:1em 0;padding:.4em 1em;border-left:4px solid #4a78b5;background:#f3f6fb}
.toc{columns:2;font-size:.92em}
"""

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><style>{{ style }}</style></head>
<body>
{{ body | safe }}
</body></html>
"""


def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def markdown_to_html(text: str, base: str | Path | None = None) -> str:
    """Render Markdown ``text`` as HTML (raw HTML escaped). Images whose path is relative to
    ``base`` and exists there are embedded as ``data:`` URIs."""
    md = _markdown()
    tokens = md.parse(text)
    if base is not None:
        base = Path(base)
        for token in tokens:
            for child in token.children or []:
                if child.type != "image":
                    continue
                src = str(child.attrGet("src") or "")
                path = base / src
                if src and "://" not in src and not src.startswith("data:") and path.is_file():
                    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
                    data = base64.b64encode(path.read_bytes()).decode("ascii")
                    child.attrSet("src", f"data:{mime};base64,{data}")
    return md.renderer.render(tokens, md.options, {})


def html_page(title: str, markdown: str, base: str | Path | None = None, extra_style: str = "") -> str:
    """A whole self-contained HTML page from Markdown (see :func:`markdown_to_html`)."""
    from jinja2 import Environment

    env = Environment(autoescape=True)
    return env.from_string(_TEMPLATE).render(title=title, style=STYLE + extra_style,
                                             body=markdown_to_html(markdown, base))


# -- Markdown building blocks ---------------------------------------------------------------
def cell(value: Any) -> str:
    """A value as the text of a table cell: floats to 4 significant digits, pipes escaped."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:,.0f}" if abs(value) >= 1e5 and value == round(value) else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    text = str(value)
    number = _number(text)
    if number is not None:
        return cell(number)
    return " ".join(text.split()).replace("|", "\\|")


def _number(text: str) -> float | int | None:
    """The number a CSV cell holds, or None (a word, a list, ...)."""
    if len(text) > 1 and text.startswith("0") and text.isdigit():
        return None  # "000" is a name (a seed document), not the number 0
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if any(c in text for c in ".eE") or text.lower() in ("nan", "inf", "-inf") else None


def table(rows: Iterable[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A Markdown table of ``rows`` (dicts); columns in first-seen order unless given."""
    rows = list(rows)
    if not rows:
        return "(empty)\n"
    keys = columns or list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(cell(k) if not isinstance(k, str) else k.replace("|", "\\|") for k in keys) + " |",
             "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def figure(path: str, caption: str, alt: str = "") -> str:
    """An image and its caption (the caption italic, in a paragraph of its own)."""
    caption = " ".join(caption.split())
    alt = (alt or Path(path).stem).replace("]", "")
    return f"![{alt}]({path})\n\n*{caption.replace('*', chr(92) + '*')}*\n" if caption else f"![{alt}]({path})\n"


def format_value(value: Any, unit: str) -> str:
    """A metric's value in its unit, for a reader: fractions as percentages, counts with
    thousands separators, seconds to 0.1 s, years and dB to two decimals, the rest to 5
    significant digits."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return cell(value)
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if unit == "fraction":
        return f"{100 * value:.2f}%"
    if unit == "count":
        return f"{int(round(value)):,}"
    if unit == "s":
        return f"{value:,.1f} s"
    text = f"{value:.2f}" if unit in ("years", "dB") else f"{value:.5g}"
    return f"{text} {unit}" if unit and unit not in ("MSE", "nats", "nats per pixel", "AUC") else text
