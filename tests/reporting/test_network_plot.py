"""Network drawings: the layout's graph against the model tree, the figure, and `nnlab summary --plot`."""

import pytest

from nnlab.cli import main
from nnlab.engine import Dense, Sequential
from nnlab.models import create_model
from nnlab.reporting.network_plot import SKIP, network_figure, network_layout

PNG = b"\x89PNG\r\n\x1a\n"
MODELS = ["mnist_autoencoder", "code_classifier", "colour_base", "colour_unet", "colour_unet_full",
          "colour_residual_seed", "colour_residual", "light_vgg", "sr_mlp", "espcn", "sr_cnn", "utkface_cnn"]
_built = {}


def _model(name):
    if name not in _built:
        _built[name] = create_model(name).build(seed=0)
    return _built[name]


def _rows(model):
    return {r["index"]: r for r in model.summary_rows()}


def _children(rows, index):
    return [i for i in rows if i.startswith(index + ".") and "." not in i[len(index) + 1:]]


@pytest.mark.parametrize("name", MODELS)
def test_every_layer_is_in_exactly_one_box_with_its_shape_and_parameters(name):
    model = _model(name)
    rows = _rows(model)
    layout = network_layout(model)
    # the leaves of the model tree, less the Identity branches of a Concat (drawn as skip arrows)
    skip_branches = {i for i, r in rows.items() if r["layer"] == "Identity" and i.rpartition(".")[0] in rows
                     and rows[i.rpartition(".")[0]]["layer"].startswith("Concat")}
    leaves = {i for i in rows if not _children(rows, i)} - skip_branches
    drawn = [i for n in layout.nodes if n.kind == "layer" for i in n.indices]
    assert sorted(drawn) == sorted(leaves)                               # each layer once, none left out
    for node in layout.nodes:
        if node.kind == "layer":                                         # a box shows its last layer's shape
            assert ("N", *node.shape) == rows[node.indices[-1]]["output_shape"]
            assert node.params == sum(rows[i]["params"] for i in node.indices)
            assert len(node.merged) >= len(node.indices) - 1
        elif node.kind in ("add", "concat"):                             # a join: its container's shape
            assert len(node.indices) == 1 and ("N", *node.shape) == rows[node.indices[0]]["output_shape"]
    assert sum(n.params for n in layout.nodes) == model.num_parameters() == layout.total_params
    inputs, outputs = layout.of_kind("input"), layout.of_kind("output")
    assert len(inputs) == len(outputs) == 1
    assert layout.nodes[outputs[0]].shape == model.output_shape()
    assert len(layout.positions) == len(layout.nodes)
    for e in layout.edges:                                               # arrows point down the page
        assert layout.positions[e.src][1] < layout.positions[e.dst][1]


def test_unet_has_one_skip_arrow_into_a_concat_node_per_identity_branch():
    model = _model("colour_unet")
    rows = _rows(model)
    unet_concats = {i for i, r in rows.items() if r["layer"].startswith("Concat")
                    and any(rows[c]["layer"] == "Identity" for c in _children(rows, i))}
    assert len(unet_concats) == 3
    layout = network_layout(model)
    skips = layout.skip_edges()
    assert len(skips) == len(unet_concats)
    into = {layout.nodes[e.dst].indices[0] for e in skips}
    assert into == unet_concats and all(layout.nodes[e.dst].kind == "concat" for e in skips)
    for e in skips:                               # from the fork: what the Identity branch passes on
        identity = next(c for c in _children(rows, layout.nodes[e.dst].indices[0]) if rows[c]["layer"] == "Identity")
        assert ("N", *layout.nodes[e.src].shape) == rows[identity]["output_shape"]
        assert e.route is not None and e.route > layout.positions[e.src][0]
    routes = sorted((layout.positions[e.dst][1] - layout.positions[e.src][1], e.route) for e in skips)
    assert [r for _, r in routes] == sorted(r for _, r in routes)       # an outer skip runs outside an inner one


@pytest.mark.parametrize("name", ["colour_residual", "colour_residual_seed"])
def test_residual_blocks_end_in_add_nodes_with_their_projection_boxes(name):
    model = _model(name)
    rows = _rows(model)
    residuals = {i: r for i, r in rows.items() if r["layer"].startswith("Residual")}
    layout = network_layout(model)
    adds = layout.of_kind("add")
    assert sorted(layout.nodes[a].indices[0] for a in adds) == sorted(residuals)
    for a in adds:
        index = layout.nodes[a].indices[0]
        skips = [e for e in layout.edges if e.dst == a and e.kind == "skip"]
        assert len(skips) == 1
        src = layout.nodes[skips[0].src]
        if residuals[index]["layer"] == "Residual(projection)":      # through the projection's boxes
            assert src.projection and src.indices[-1].startswith(f"{index}.projection.")
            assert skips[0].route is None and layout.positions[skips[0].src][0] > layout.positions[a][0]
        else:                                                           # the input itself, down a side channel
            assert not src.projection and skips[0].route is not None
    projection_layers = {i for i in rows if ".projection." in i}
    drawn = {i for n in layout.nodes if n.projection for i in n.indices}
    assert drawn == projection_layers and projection_layers
    for e in layout.edges:                                              # a projection box sits on the skip path
        if layout.nodes[e.src].projection or layout.nodes[e.dst].projection:
            assert e.kind == "skip"


def test_a_plain_chain_is_one_column_of_boxes_without_skips():
    layout = network_layout(_model("light_vgg"))
    assert layout.skip_edges() == [] and not layout.of_kind("add") and not layout.of_kind("concat")
    assert [(e.src, e.dst, e.kind) for e in layout.edges] == [(i, i + 1, "main") for i in range(len(layout.nodes) - 1)]
    assert {x for x, _ in layout.positions} == {0.0} and [r for _, r in layout.positions] == list(range(layout.rows))
    conv = layout.nodes[1]                                  # Conv2d then its ReLU, in one box
    assert conv.label == "Conv2d(3 -> 16, 3x3, pad 1)" and conv.merged == ("ReLU",) and conv.params == 448


def test_parallel_branches_stand_side_by_side():
    layout = network_layout(_model("utkface_cnn"))         # three heads concatenated
    concat = layout.of_kind("concat")[0]
    heads = [e.src for e in layout.edges if e.dst == concat]
    assert len(heads) == 3 and all(e.kind == "main" for e in layout.edges if e.dst == concat)
    columns = sorted(layout.positions[h][0] for h in heads)
    assert columns[0] == 0.0 and columns[1] > 0.86 and columns[2] > columns[1] + 0.86   # boxes 0.86 wide


def test_an_unbuilt_model_cannot_be_drawn():
    with pytest.raises(ValueError, match="not built"):
        network_layout(Sequential([Dense(3)]))


def _texts_overlap(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()                                           # places the legend's texts
    renderer = canvas.get_renderer()
    texts = [*fig.texts, *fig.axes[0].texts, *fig.legends[0].get_texts()]      # all the drawing writes
    assert len(texts) > 10
    boxes = [t.get_window_extent(renderer) for t in texts if t.get_text()]
    return [(a, b) for k, a in enumerate(boxes) for b in boxes[k + 1:] if a.overlaps(b)]


def test_the_figure_draws_every_box_and_skip_arrow_and_saves_as_png(tmp_path):
    from matplotlib.patches import FancyArrowPatch

    model = _model("colour_residual")
    layout = network_layout(model)
    fig = network_figure(model)
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert "colour_residual" in texts and any("498,648 parameters" in t and "(1, 32, 32)" in t for t in texts)
    for node in layout.nodes:
        if node.kind == "layer":
            assert node.label in texts and any(f"{node.params:,} params" in t for t in texts)
    arrows = fig.axes[0].findobj(FancyArrowPatch)
    assert len(arrows) == len(layout.edges)
    orange = [a for a in arrows if a.get_edgecolor()[:3] == pytest.approx((0xE0 / 255, 0x70 / 255, 0x20 / 255))]
    assert len(orange) == len(layout.skip_edges()) == 12 and SKIP == "#e07020"
    assert "skip connection" in [t.get_text() for t in fig.legends[0].get_texts()]
    assert _texts_overlap(fig) == []
    path = tmp_path / "net.png"
    fig.savefig(path)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 20_000


def test_a_long_chain_wraps_into_columns_and_a_long_skip_grows_the_figure():
    chain = Sequential([Dense(16, "relu") for _ in range(40)], input_shape=(8,), seed=0)
    tall = network_figure(chain, max_height=100)
    wrapped = network_figure(chain, max_height=12, title="forty layers")
    assert tall.get_size_inches()[1] > 40 and wrapped.get_size_inches()[1] <= 12
    assert wrapped.get_size_inches()[0] > 3 * 2.0                         # at least three columns of boxes
    assert "forty layers" in [t.get_text() for t in wrapped.texts]
    assert _texts_overlap(wrapped) == []
    label = next(t for t in wrapped.axes[0].texts if t.get_text() == "Linear(16 -> 16)")
    wrapped.axes[0].text(*label.get_position(), "an overlapping label", fontsize=10)
    assert _texts_overlap(wrapped)                                        # the check sees an overlap
    unet = network_figure(_model("colour_unet"), max_height=8)            # one skip spans it all: no wrap
    assert unet.get_size_inches()[1] > 12 and unet.get_size_inches()[0] < 8


@pytest.mark.parametrize("suffix, magic", [(".png", PNG), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_summary_plot_writes_the_drawing(tmp_path, capsys, suffix, magic):
    path = tmp_path / "drawings" / f"net{suffix}"
    assert main(["summary", "colour_base", "--plot", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Total parameters: 86,784" in out and f"{path}" in out.splitlines()[-1]
    assert path.read_bytes().startswith(magic)


def test_summary_plot_refuses_other_suffixes_and_unwritable_places_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["summary", "colour_base", "--plot", str(tmp_path / "net.jpg")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1
    assert "net.jpg" in err and ".png, .svg, .pdf" in err and not (tmp_path / "net.jpg").exists()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as exc:
        main(["summary", "sr_mlp", "--plot", str(blocker / "net.png")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and "cannot write" in err and "net.png" in err
