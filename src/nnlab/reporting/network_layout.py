"""Where each box of a network drawing goes: the graph of an engine model, laid out on a grid.

``network_layout(model)`` walks the model tree (``Sequential``, ``Residual``, ``Concat``) and
returns a :class:`Layout`: nodes (an input, a box per layer, an ``add`` per Residual, a ``concat``
per Concat, an output), the edges between them, and each node's position as (column, row) in
grid units: rows go down the page, a box is ``2 * HALF`` columns wide around its centre. Pure data,
no matplotlib: :mod:`nnlab.reporting.network_plot` draws it.

* A ``Residual`` is its block in the current column, the projection (if any) in a column to its
  right, and an ``add`` node below both; the skip edge runs from the block's input, through the
  projection boxes or down a side channel (``Edge.route``), into the ``add``.
* A ``Concat``'s branches stand side by side; an ``Identity`` branch (a U-Net skip connection)
  is a skip edge from the fork down a side channel into the ``concat`` node.
* Activations, normalisation and dropout that keep the shape are drawn in the box of the layer
  before them (``Node.merged``), so ``Conv2d -> BatchNorm2d -> ReLU`` is one box.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from nnlab.engine.layers import Activation, BatchNorm1d, BatchNorm2d, Concat, Dropout, Identity, PReLU, Residual
from nnlab.engine.module import Module
from nnlab.engine.sequential import Sequential

HALF = 0.43      # half the width of a box, in columns
GAP = 0.12       # between a side channel and what it passes, in columns
NODE_KINDS = ("input", "layer", "add", "concat", "output")
EDGE_KINDS = ("main", "skip")
_FOLLOWERS = (Activation, PReLU, Dropout, BatchNorm1d, BatchNorm2d)


@dataclass(frozen=True)
class Node:
    """One box (or join) of the drawing.

    ``indices`` are the ``Sequential.summary_rows`` indices of what the node draws: the layers of
    a box, the container of an ``add`` or ``concat`` node, none for the input and output.
    """

    kind: str                       # one of NODE_KINDS
    label: str                      # the first layer's label; "add", "concat", "Input", "Output"
    shape: tuple[int, ...]          # per-sample output shape, e.g. (32, 16, 16)
    params: int = 0                 # parameters of every layer in the box
    merged: tuple[str, ...] = ()    # what follows the first layer inside the box (activation, BN...)
    indices: tuple[str, ...] = ()
    projection: bool = False        # a box on a Residual's projection (skip) path

    @property
    def text(self) -> str:
        """The box's layers, e.g. ``Conv2d(1 -> 32, 3x3, pad 1) → BatchNorm2d(32) → ReLU``."""
        return " → ".join((self.label, *self.merged))


@dataclass(frozen=True)
class Edge:
    """An arrow from node ``src`` to node ``dst`` (indices into ``Layout.nodes``).

    ``route``: the column of the side channel a skip edge runs down (None: drawn straight or as an
    elbow between the two nodes)."""

    src: int
    dst: int
    kind: str = "main"              # one of EDGE_KINDS
    route: float | None = None


@dataclass
class Layout:
    """A network as boxes and arrows with their grid positions (column, row)."""

    name: str
    input_shape: tuple[int, ...]
    total_params: int
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    positions: list[tuple[float, int]] = field(default_factory=list)   # node -> (column, row)
    right: float = HALF             # right edge of everything drawn, in columns (boxes start at -HALF)

    @property
    def rows(self) -> int:
        return 1 + max(r for _, r in self.positions)

    def of_kind(self, kind: str) -> list[int]:
        """The nodes of one kind, e.g. ``layout.of_kind("add")``."""
        return [i for i, n in enumerate(self.nodes) if n.kind == kind]

    def skip_edges(self) -> list[Edge]:
        return [e for e in self.edges if e.kind == "skip"]


def layer_text(module: Module) -> str:
    """A layer's name in a box: its label, or the activation of a generic ``Activation``."""
    if type(module) is Activation:
        return module.describe().get("activation") or module.label()
    return module.label()


def _fused_activation(module: Module) -> tuple[str, ...]:
    """The activation a layer applies itself (``Linear(..., activation="relu")``), if any."""
    if isinstance(module, _FOLLOWERS):
        return ()
    act = module.describe().get("activation", "")
    return (act,) if act and act != "identity" else ()


class _Builder:
    """Places a model tree node by node; ``open`` is the box that may take the next follower."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.open: int | None = None
        self.path_kind = "main"          # "skip" while placing a projection

    def node(self, node: Node, x: float, row: int) -> int:
        self.layout.nodes.append(node)
        self.layout.positions.append((x, row))
        return len(self.layout.nodes) - 1

    def edge(self, src: int, dst: int, kind: str, route: float | None = None) -> None:
        self.layout.edges.append(Edge(src, dst, kind, route))

    def place(self, module: Module, index: str, entry: int, x: float, row: int) -> tuple[int, int, float]:
        """Draw ``module`` below node ``entry`` in the column centred at ``x``, from ``row`` down.

        Returns the node its output leaves from, the next free row and the right edge of what
        it drew (in columns)."""
        if isinstance(module, Sequential):
            exit_node, right = entry, x + HALF
            for name, layer in module.children():
                exit_node, row, r = self.place(layer, _child(index, name), exit_node, x, row)
                right = max(right, r)
            return exit_node, row, right
        if isinstance(module, Residual):
            return self.residual(module, index, entry, x, row)
        if isinstance(module, Concat):
            return self.concat(module, index, entry, x, row)
        return self.leaf(module, index, entry, x, row)

    def leaf(self, module: Module, index: str, entry: int, x: float, row: int) -> tuple[int, int, float]:
        shape = tuple(module.output_shape(module.input_shape))
        params = module.num_parameters()
        if self.open == entry and isinstance(module, _FOLLOWERS) and shape == tuple(module.input_shape):
            old = self.layout.nodes[entry]
            self.layout.nodes[entry] = replace(old, shape=shape, params=old.params + params,
                                               merged=(*old.merged, layer_text(module)),
                                               indices=(*old.indices, index))
            return entry, row, x + HALF
        node = self.node(Node("layer", layer_text(module), shape, params, _fused_activation(module), (index,),
                              projection=self.path_kind == "skip"), x, row)
        self.edge(entry, node, self.path_kind)
        self.open = node
        return node, row + 1, x + HALF

    def residual(self, module: Residual, index: str, entry: int, x: float, row: int) -> tuple[int, int, float]:
        self.open = None
        block_exit, block_end, right = self.place(module.block, f"{index}.block", entry, x, row)
        if module.projection is not None:
            self.open, kind, self.path_kind = None, self.path_kind, "skip"
            skip_src, skip_end, right = self.place(module.projection, f"{index}.projection", entry,
                                                   right + GAP + HALF, row)
            self.path_kind, route = kind, None
        else:
            skip_src, skip_end, route = entry, row, right + GAP
            right = route
        shape = tuple(module.output_shape(module.input_shape))
        join_row = max(block_end, skip_end)
        add = self.node(Node("add", "add", shape, indices=(index,)), x, join_row)
        self.edge(block_exit, add, self.path_kind)
        self.edge(skip_src, add, "skip", route)
        self.open = None
        return add, join_row + 1, right

    def concat(self, module: Concat, index: str, entry: int, x: float, row: int) -> tuple[int, int, float]:
        ends, skips, right, column = [], 0, x + HALF, x
        for name, branch in module.children():
            if isinstance(branch, Identity):     # a U-Net skip connection
                skips += 1
                continue
            self.open = None
            branch_exit, branch_end, r = self.place(branch, _child(index, name), entry, column, row)
            ends.append((branch_exit, branch_end))
            right = max(right, r)
            column = right + GAP + HALF
        shape = tuple(module.output_shape(module.input_shape))
        join_row = max((end for _, end in ends), default=row)
        node = self.node(Node("concat", "concat", shape, indices=(index,)), x, join_row)
        for branch_exit, _ in ends:
            self.edge(branch_exit, node, self.path_kind)
        for _ in range(skips):
            right += GAP
            self.edge(entry, node, "skip", right)
        self.open = None
        return node, join_row + 1, right


def _child(index: str, name: str) -> str:
    return f"{index}.{name}" if index else name


def network_layout(model: Module) -> Layout:
    """The drawing of a built engine model as a :class:`Layout` (see the module docstring).

    Raises ``ValueError`` for a model that is not built (its shapes are not known yet)."""
    if not getattr(model, "built", False) or model.input_shape is None:
        raise ValueError(f"{type(model).__name__} is not built: build it with an input shape before drawing it")
    layout = Layout(getattr(model, "name", type(model).__name__), tuple(model.input_shape), model.num_parameters())
    builder = _Builder(layout)
    start = builder.node(Node("input", "Input", layout.input_shape), 0.0, 0)
    # a Sequential's layers are numbered "0", "1"... as in summary_rows; a lone layer is "0"
    exit_node, row, right = builder.place(model, "" if isinstance(model, Sequential) else "0", start, 0.0, 1)
    out = builder.node(Node("output", "Output", tuple(model.output_shape(model.input_shape))), 0.0, row)
    builder.edge(exit_node, out, "main")
    layout.right = right
    return layout

