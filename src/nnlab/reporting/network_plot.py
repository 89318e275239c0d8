"""A drawing of a network, like Keras's ``plot_model``: boxes top to bottom, skip connections aside.

>>> from nnlab.models import create_model
>>> fig = network_figure(create_model("colour_unet").build(seed=0))      # doctest: +SKIP
>>> fig.savefig("colour_unet.png")                                       # doctest: +SKIP

Each box is a layer (with the activation, normalisation or dropout after it, which keep the
shape) and shows its output shape per sample and its parameters. Skip connections are orange:
a Residual's skip path (through its projection boxes, or down a side channel) ends in an ⊕
(add) node, a U-Net's ``Concat`` with an ``Identity`` branch in a ``concat`` node. A long network
wraps into columns where the figure would pass ``max_height`` (only between two boxes that one
plain arrow joins, never through a skip connection), else it grows in height.

The figure is drawn in inches (the axes fill the figure, one data unit to the inch), so text
sizes and box sizes agree at any size.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from nnlab.reporting.network_layout import HALF, Edge, Layout, Node, network_layout

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from nnlab.engine.module import Module

__all__ = ["network_figure", "network_layout", "Layout", "Node", "Edge", "figure_caption"]

ROW = 1.0           # row pitch (inches)
BOX_H = 0.72        # height of a layer box
SMALL_H = 0.46      # height of the input, output and concat boxes
ADD_R = 0.14        # radius of an add node
HEADER = 0.7        # title and subtitle, above the legend
LEGEND_ROW = 0.22
COLUMN_GAP = 0.7    # between the columns of a wrapped network
MARGIN = 0.3
MAIN, SKIP = "#3b3b3b", "#e07020"
FAMILIES = {        # box colour by what a layer does: (legend label, colour)
    "conv": ("convolution", "#dbe8f7"),
    "dense": ("linear", "#e8def5"),
    "resample": ("pool / resample / reshape", "#e1f0dc"),
    "other": ("activation / other", "#f0f0f0"),
}
_RESAMPLE = ("Pool", "Upsample", "PixelShuffle", "Flatten", "Reshape")
FONT_LABEL, FONT_SMALL = 10.0, 8.5


def _family(node: Node) -> str:
    name = node.label
    if name.startswith(("Conv1d", "Conv2d", "ConvTranspose2d")):
        return "conv"
    if name.startswith(("Linear", "Dense")):
        return "dense"
    if any(key in name.split("(")[0] for key in _RESAMPLE):
        return "resample"
    return "other"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"          # as summary() writes it: (784), (32, 16, 16)


def _box_lines(node: Node) -> list[tuple[str, float, str]]:
    """The text lines of a node: (text, font size, colour)."""
    if node.kind == "layer":
        lines = [(node.label, FONT_LABEL, "black")]
        if node.merged:
            lines.append(("→ " + " → ".join(node.merged), FONT_SMALL, "#333333"))
        lines.append((f"{_shape(node.shape)}   {node.params:,} params", FONT_SMALL, "#444444"))
        return lines
    if node.kind == "add":
        return [(f"add  {_shape(node.shape)}", FONT_SMALL, "#444444")]
    return [(node.label, FONT_LABEL, "black"), (_shape(node.shape), FONT_SMALL, "#444444")]


def _text_width(text: str, size: float, renderer=None) -> float:
    """The width of ``text`` at ``size`` points, in inches (measured by an Agg renderer at 72 dpi)."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    renderer = renderer or RendererAgg(1, 1, 72)
    return renderer.get_text_width_height_descent(text, FontProperties(size=size), ismath=False)[0] / 72


def _node_size(node: Node, box_w: float) -> tuple[float, float]:
    """Half width and half height of a node, in inches."""
    if node.kind == "layer":
        return box_w / 2, BOX_H / 2
    if node.kind == "add":
        return ADD_R, ADD_R
    return box_w * 0.3, SMALL_H / 2


def _wrap_segments(layout: Layout, rows_per_column: int) -> list[tuple[int, int]]:
    """Row ranges [start, stop) of the columns a long network wraps into.

    A column may end after row r only where a single plain arrow between boxes of the main
    column crosses from row r to r + 1 (never through a skip connection or side branch)."""
    total = layout.rows
    if total <= rows_per_column:
        return [(0, total)]
    crossing = [0] * total
    straight = [True] * total
    for e in layout.edges:
        (xs, rs), (xd, rd) = layout.positions[e.src], layout.positions[e.dst]
        for r in range(rs, rd):
            crossing[r] += 1
            straight[r] = straight[r] and e.kind == "main" and xs == xd == 0.0
    cuts = [r + 1 for r in range(total - 1) if crossing[r] == 1 and straight[r]]   # a column may start there
    bounds = _pack(cuts, total, rows_per_column)
    if bounds is None:
        return [(0, total)]                       # it cannot wrap: the figure grows in height
    columns = len(bounds) - 1
    for limit in range(math.ceil(total / columns), rows_per_column):   # as even as the cuts allow
        even = _pack(cuts, total, limit)
        if even is not None and len(even) == len(bounds):
            bounds = even
            break
    return list(zip(bounds, bounds[1:]))


def _pack(cuts: list[int], total: int, limit: int) -> list[int] | None:
    """Column boundaries [0, c1, ..., total] at ``cuts`` with the fewest columns of at most ``limit``
    rows (each column ends at the last cut that fits), or None if a column cannot fit."""
    bounds = [0]
    while total - bounds[-1] > limit:
        fits = [c for c in cuts if bounds[-1] < c <= bounds[-1] + limit]
        if not fits:
            return None
        bounds.append(fits[-1])
    return [*bounds, total]


class _Frame:
    """Where a layout goes on the page, in inches: figure columns (``segments`` of rows) side by side,
    each as wide as what it holds, under the title and the legend."""

    def __init__(self, layout: Layout, box_w: float, max_height: float, header: float, min_width: float) -> None:
        self.box_w, self.pitch = box_w, box_w / (2 * HALF)    # pitch: inches per layout column
        rows_fit = max(4, int((max_height - header - 1.5 * MARGIN) / ROW))
        self.segments = _wrap_segments(layout, rows_fit)
        self.first = {r: (k, start) for k, (start, stop) in enumerate(self.segments) for r in range(start, stop)}
        rights = [HALF] * len(self.segments)                  # each figure column's right edge, in columns
        for (x, r) in layout.positions:
            rights[self.first[r][0]] = max(rights[self.first[r][0]], x + HALF)
        for e in layout.edges:
            if e.route is not None:
                k = self.first[layout.positions[e.src][1]][0]
                rights[k] = max(rights[k], e.route)
        widths = [(r + HALF) * self.pitch for r in rights]
        content = sum(widths) + COLUMN_GAP * (len(widths) - 1)
        self.width = max(content + 2 * MARGIN, min_width)
        self.lefts = [(self.width - content) / 2 + sum(widths[:k]) + COLUMN_GAP * k for k in range(len(widths))]
        self.ends = [left + w for left, w in zip(self.lefts, widths)]
        self.height = header + MARGIN + max(b - a for a, b in self.segments) * ROW
        self.top = self.height - header - MARGIN / 2            # the top of the first row

    def segment(self, row: int) -> int:
        return self.first[row][0]

    def x(self, column: float, row: int) -> float:
        return self.lefts[self.segment(row)] + (column + HALF) * self.pitch

    def y(self, row: int) -> float:
        return self.top - ROW / 2 - (row - self.first[row][1]) * ROW


def network_figure(model: "Module | Layout", title: str | None = None, max_height: float = 18.0) -> "Figure":
    """Draw a built engine model (or its :func:`network_layout`) top to bottom.

    Boxes: layer, output shape per sample (no batch axis) and parameters; grey arrows the main
    path, orange arrows skip connections into ⊕ (add) or concat nodes. The title gives the model's
    name (or ``title``), its input and output shapes and its parameter count. A network taller
    than ``max_height`` inches wraps into columns where it can, else the figure grows in height.
    """
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.figure import Figure

    layout = model if isinstance(model, Layout) else network_layout(model)
    renderer = RendererAgg(1, 1, 72)                                # measures text; draws nothing
    text_w = max(_text_width(t, s, renderer) for n in layout.nodes for t, s, _ in _box_lines(n))
    legend = _legend_entries(layout)
    entry_w = max(_text_width(label, FONT_SMALL, renderer) for _, label, _ in legend) + 0.75
    title = title or layout.name
    min_width = max(6.0, _text_width(title, 14, renderer) + 0.4, _text_width(_subtitle(layout), 10, renderer) + 0.4)
    box_w = max(text_w + 0.3, 2.0)
    frame = _Frame(layout, box_w, max_height, HEADER + 2 * LEGEND_ROW, min_width)
    ncol = max(1, min(len(legend), int((frame.width - 2 * MARGIN) // entry_w)))
    legend_rows = math.ceil(len(legend) / ncol)
    if legend_rows != 2:                                            # the legend's rows decide the header
        frame = _Frame(layout, box_w, max_height, HEADER + LEGEND_ROW * legend_rows, min_width)
    fig = Figure(figsize=(frame.width, frame.height), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, frame.width)
    ax.set_ylim(0, frame.height)
    ax.axis("off")
    points = [(frame.x(x, r), frame.y(r)) for x, r in layout.positions]
    for node, point in zip(layout.nodes, points):
        _draw_node(ax, node, point, frame.box_w)
    sizes = [_node_size(n, frame.box_w) for n in layout.nodes]
    offsets = _side_offsets(layout)
    for j, e in enumerate(layout.edges):
        path = _edge_path(layout, e, points, sizes, offsets.get(j, (0.0, 0.0)), frame)
        _draw_arrow(ax, path, SKIP if e.kind == "skip" else MAIN, 1.7 if e.kind == "skip" else 1.1)
    _draw_header(fig, layout, title, legend, ncol, frame.height)
    return fig


def _draw_node(ax, node: Node, centre: tuple[float, float], box_w: float) -> None:
    from matplotlib.patches import Circle, FancyBboxPatch

    x, y = centre
    hw, hh = _node_size(node, box_w)
    lines = _box_lines(node)
    if node.kind == "add":
        ax.add_patch(Circle((x, y), ADD_R, facecolor="white", edgecolor=SKIP, lw=1.6, zorder=3))
        ax.text(x, y - 0.005, "+", ha="center", va="center", fontsize=12, color=SKIP, zorder=4, fontweight="bold")
        text, size, colour = lines[0]
        ax.text(x - ADD_R - 0.08, y, text, ha="right", va="center", fontsize=size, color=colour, zorder=4)
        return
    if node.kind == "layer":
        face, edge = ("#fde3cc", SKIP) if node.projection else (FAMILIES[_family(node)][1], "#666666")
    elif node.kind == "concat":
        face, edge = "#fff2b3", SKIP
    else:
        face, edge = "#e4e4e4", "#666666"
    ax.add_patch(FancyBboxPatch((x - hw, y - hh), 2 * hw, 2 * hh, boxstyle="round,pad=0,rounding_size=0.07",
                                facecolor=face, edgecolor=edge, lw=1.0, zorder=3))
    step = 0.19 if node.kind == "layer" else 0.15
    for k, (text, size, colour) in enumerate(lines):
        ax.text(x, y + step * ((len(lines) - 1) / 2 - k), text, ha="center", va="center", fontsize=size,
                color=colour, zorder=4)


def _side_offsets(layout: Layout) -> dict[int, tuple[float, float]]:
    """Vertical offsets (at the source, at the target) of the edges that leave or enter a node by its
    right side, so that they neither overlap nor cross: those entering above those leaving; of those
    entering, the farther one lower; of those leaving, the farther one higher."""
    sides: dict[int, list[tuple[int, float, int, int]]] = {}     # node -> (group, order, edge, end)
    for j, e in enumerate(layout.edges):
        xs, xd = layout.positions[e.src][0], layout.positions[e.dst][0]
        if e.route is not None or xd > xs + 1e-9:
            sides.setdefault(e.src, []).append((1, -(e.route if e.route is not None else xd), j, 0))
        if e.route is not None or xs > xd + 1e-9:
            sides.setdefault(e.dst, []).append((0, e.route if e.route is not None else xs, j, 1))
    out: dict[int, list[float]] = {}
    for node, items in sides.items():
        items.sort()
        half = ADD_R * 0.7 if layout.nodes[node].kind == "add" else SMALL_H / 2 * 0.8
        step = min(0.12, 2 * half / len(items))
        for k, (_, _, j, end) in enumerate(items):           # top to bottom
            out.setdefault(j, [0.0, 0.0])[end] = step * ((len(items) - 1) / 2 - k)
    return {j: (a, b) for j, (a, b) in out.items()}


def _edge_path(layout: Layout, e: Edge, points, sizes, offset, frame: _Frame) -> list[tuple[float, float]]:
    """The corner points of an edge's arrow, in inches."""
    (xs, ys), (xd, yd) = points[e.src], points[e.dst]
    (ws, hs), (wd, hd) = sizes[e.src], sizes[e.dst]
    dys, dyd = offset
    row_s, row_d = layout.positions[e.src][1], layout.positions[e.dst][1]
    if frame.segment(row_s) != frame.segment(row_d):    # on to the next figure column, through the gap
        gap_x = frame.ends[frame.segment(row_s)] + COLUMN_GAP / 2
        return [(xs, ys - hs), (xs, ys - hs - 0.2), (gap_x, ys - hs - 0.2), (gap_x, frame.top + 0.12),
                (xd, frame.top + 0.12), (xd, yd + hd)]
    if e.route is not None:                             # down a side channel
        rx = frame.x(e.route, row_s)
        return [(xs + _edge_x(ws, dys, e.src, layout), ys + dys), (rx, ys + dys), (rx, yd + dyd),
                (xd + _edge_x(wd, dyd, e.dst, layout), yd + dyd)]
    if abs(xs - xd) < 1e-9:
        return [(xs, ys - hs), (xd, yd + hd)]
    if xd > xs:                                   # to a column on the right: out sideways, then down
        return [(xs + _edge_x(ws, dys, e.src, layout), ys + dys), (xd, ys + dys), (xd, yd + hd)]
    return [(xs, ys - hs), (xs, yd + dyd), (xd + _edge_x(wd, dyd, e.dst, layout), yd + dyd)]


def _edge_x(half_width: float, dy: float, node: int, layout: Layout) -> float:
    """Where a horizontal line at height ``dy`` meets the right side of a node (round for add)."""
    if layout.nodes[node].kind == "add":
        return math.sqrt(max(ADD_R**2 - dy**2, 0.0))
    return half_width


def _draw_arrow(ax, corners: list[tuple[float, float]], colour: str, lw: float) -> None:
    """An arrow along ``corners`` with rounded bends."""
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path

    verts, codes = [corners[0]], [Path.MOVETO]
    for a, b, c in zip(corners, corners[1:], corners[2:]):
        ab, bc = max(math.dist(a, b), 1e-9), max(math.dist(b, c), 1e-9)
        r = min(0.1, ab / 2, bc / 2)                  # the bend: a quadratic curve through the corner
        before = (b[0] + (a[0] - b[0]) * r / ab, b[1] + (a[1] - b[1]) * r / ab)
        after = (b[0] + (c[0] - b[0]) * r / bc, b[1] + (c[1] - b[1]) * r / bc)
        verts += [before, b, after]
        codes += [Path.LINETO, Path.CURVE3, Path.CURVE3]
    verts.append(corners[-1])
    codes.append(Path.LINETO)
    ax.add_patch(FancyArrowPatch(path=Path(verts, codes), arrowstyle="-|>,head_length=5,head_width=2.6",
                                 color=colour, lw=lw, shrinkA=0, shrinkB=0, zorder=2))


def _legend_entries(layout: Layout) -> list[tuple[str, str, str]]:
    """(kind of handle, label, colour) for what the drawing shows."""
    entries = [("line", "main path", MAIN)]
    if layout.skip_edges():
        entries.append(("line", "skip connection", SKIP))
    seen = {_family(n) for n in layout.nodes if n.kind == "layer" and not n.projection}
    entries += [("box", label, colour) for key, (label, colour) in FAMILIES.items() if key in seen]
    if any(n.projection for n in layout.nodes):
        entries.append(("box", "projection (skip path)", "#fde3cc"))
    if layout.of_kind("add"):
        entries.append(("dot", "⊕ add (Residual)", SKIP))
    if layout.of_kind("concat"):
        entries.append(("box", "concat (channels)", "#fff2b3"))
    return entries


def _subtitle(layout: Layout) -> str:
    layers = sum(len(n.indices) for n in layout.nodes if n.kind == "layer")
    out = layout.nodes[layout.of_kind("output")[0]].shape
    return (f"input {_shape(layout.input_shape)} → output {_shape(out)}   ·   {layout.total_params:,} parameters"
            f"   ·   {layers} layers")


def _draw_header(fig, layout: Layout, title: str, legend, ncol: int, height: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig.text(0.5, 1 - 0.25 / height, title, ha="center", va="center", fontsize=13, fontweight="bold")
    fig.text(0.5, 1 - 0.52 / height, _subtitle(layout), ha="center", va="center", fontsize=10)
    handles = []
    for kind, label, colour in legend:
        if kind == "line":
            handles.append(Line2D([], [], color=colour, lw=1.7, label=label))
        elif kind == "dot":
            handles.append(Line2D([], [], color=colour, marker="o", markerfacecolor="white", lw=0, label=label))
        else:
            handles.append(Patch(facecolor=colour, edgecolor="#666666", label=label))
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1 - HEADER / height), ncol=ncol,
               fontsize=FONT_SMALL, frameon=False, handlelength=1.8, columnspacing=1.4, borderaxespad=0)


def figure_caption(layout: Layout) -> str:
    """What a report says under the drawing."""
    axes = " (channels, height, width)" if len(layout.input_shape) == 3 else ""
    parts = [f"The {layout.name} network ({layout.total_params:,} parameters), input at the top: each box is a layer"
             f" (with the activation, normalisation or dropout after it), its output shape per sample{axes}, without"
             " the batch axis, and its parameters; dark arrows are the main path"]
    adds, concats = len(layout.of_kind("add")), len(layout.of_kind("concat"))
    if adds:
        parts.append(f"orange arrows are the skip connections of its {adds} residual block(s), added at the ⊕ nodes"
                     " (through the orange projection boxes where the shapes differ)")
    if concats:
        unet = sum(any(e.dst == c and e.kind == "skip" for e in layout.edges) for c in layout.of_kind("concat"))
        parts.append(f"its {concats} concat node(s) join their inputs along the channel axis"
                     + (f", {unet} of them with a U-Net skip connection (orange arrow)" if unet else ""))
    return "; ".join(parts) + "."
