"""The TensorBoard callback on both engines, `nnlab run --tensorboard`, and the event files read back
with TensorBoard's own reader."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml

pytest.importorskip("tensorboard")

from nnlab.engine import Dense, Sequential  # noqa: E402
from nnlab.errors import ConfigError  # noqa: E402
from nnlab.training import Callback, TensorBoard  # noqa: E402
from nnlab.training.tensorboard import (  # noqa: E402
    EventWriter,
    TensorBoardMissingError,
    flatten_hparams,
    read_histograms,
    read_hparams,
    read_images,
    read_scalars,
)

LR = 0.1
HPARAMS = {"lr": LR, "model": {"hidden": [8], "act": "tanh"}, "note": None, "amp": False}


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    return x, (x[:, 0] - x[:, 1] > 0).astype(np.int64)


def mlp(seed=0):
    return Sequential([Dense(8, "tanh"), Dense(2)], input_shape=(5,), dtype="float64", seed=seed)


class Recorder(Callback):
    """The weights before and after each epoch and the gradients the trainer reports at its end."""

    def __init__(self):
        self.before, self.after, self.grads = {}, {}, {}

    def on_epoch_begin(self, trainer, epoch):
        self.before[epoch] = trainer.get_weights()

    def on_epoch_end(self, trainer, epoch, logs):
        self.after[epoch], self.grads[epoch] = trainer.get_weights(), trainer.get_gradients()


def check_log(log_dir, history, recorder, params):
    """What both engines' logs must hold after 3 epochs of one full-batch SGD step each."""
    scalars, hists = read_scalars(log_dir), read_histograms(log_dir)
    steps = [1, 2, 3]
    for run, prefix in (("train", ""), ("validation", "val_")):
        for metric in ("loss", "accuracy"):
            logged = scalars[run][f"epoch_{metric}"]
            assert [s for s, _ in logged] == steps
            np.testing.assert_allclose([v for _, v in logged], history[prefix + metric], rtol=1e-6)
    assert scalars["train"]["learning_rate"] == [(s, pytest.approx(LR)) for s in steps]
    assert "learning_rate" not in scalars["validation"] and "epoch_loss" not in scalars["."]
    for name, size in params.items():
        for kind in ("weights", "gradients"):
            logged = hists["train"][f"{kind}/{name}"]
            assert [s for s, _ in logged] == steps and all(h["num"] == size for _, h in logged)
            assert sum(logged[-1][1]["bucket"]) == size
        final = recorder.after[3][name]
        assert hists["train"][f"weights/{name}"][-1][1]["max"] == pytest.approx(final.max())
        # one plain SGD step per epoch: the gradient the trainer reports is the step it took
        step = (recorder.before[3][name] - final) / LR
        np.testing.assert_allclose(recorder.grads[3][name], step, rtol=1e-6, atol=1e-9)
        norms = scalars["train"][f"gradient_norm/{name}"]
        assert [s for s, _ in norms] == steps
        assert norms[-1][1] == pytest.approx(np.linalg.norm(recorder.grads[3][name]), rel=1e-6)
    assert read_hparams(log_dir) == {".": {"lr": LR, "model.hidden": "[8]", "model.act": "tanh", "note": "None",
                                           "amp": False}}


def test_numpy_engine_logs_curves_histograms_gradients_and_hparams(tmp_path):
    x, y = data()
    vx, vy = data(20, seed=1)
    model = mlp().compile("cross_entropy", {"name": "sgd", "lr": LR}, metrics=["accuracy"])
    rec = Recorder()
    history = model.fit(x, y, epochs=3, batch_size=len(x), validation_data=(vx, vy),
                        callbacks=[rec, TensorBoard(tmp_path / "tb", hparams=HPARAMS)])
    check_log(tmp_path / "tb", history, rec, {k: p.size for k, p in model.named_parameters()})
    assert set(rec.grads[3]) == {k for k, _ in model.named_parameters()}


@pytest.mark.torch
def test_torch_trainer_logs_the_same(tmp_path, torch_one_thread):
    from nnlab.torchlib import Trainer

    x, y = data()
    vx, vy = data(20, seed=1)
    trainer = Trainer(mlp(), loss="cross_entropy", optimizer={"name": "sgd", "lr": LR}, metrics=["accuracy"],
                      device="cpu")
    rec = Recorder()
    history = trainer.fit(x, y, epochs=3, batch_size=len(x), validation_data=(vx, vy),
                          callbacks=[rec, TensorBoard(tmp_path / "tb", hparams=HPARAMS)])
    params = {k: p.numel() for k, p in trainer.model.named_parameters()}
    assert set(params) <= set(trainer.get_weights()) and set(rec.grads[3]) == set(params)
    check_log(tmp_path / "tb", history, rec, params)


def test_histograms_only_every_histogram_freq_epochs_and_images_once(tmp_path):
    x, y = data()
    model = mlp().compile("cross_entropy", {"name": "sgd", "lr": LR})
    batch = np.linspace(0, 1, 2 * 3 * 4 * 5).reshape(2, 3, 4, 5)          # (N, C, H, W)
    model.fit(x, y, epochs=4, batch_size=10,
              callbacks=[TensorBoard(tmp_path, histogram_freq=2, images={"inputs": batch})])
    hists = read_histograms(tmp_path)["train"]
    assert [s for s, _ in hists["weights/0.weight"]] == [2, 4] and [s for s, _ in hists["gradients/1.bias"]] == [2, 4]
    images = read_images(tmp_path)["train"]
    assert sorted(images) == ["inputs/0", "inputs/1"]
    (step, img), = images["inputs/1"]
    assert step == 0 and (img["height"], img["width"]) == (4, 5) and img["png"].startswith(b"\x89PNG")
    assert "." not in read_hparams(tmp_path)             # no hparams given: none written


def test_a_resumed_fit_replaces_what_the_interrupted_one_wrote_after_its_checkpoint(tmp_path):
    class Crash(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 3:
                raise KeyboardInterrupt

    x, y = data()
    ckpt = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):           # after TensorBoard wrote epoch 3, before its checkpoint
        mlp().compile("cross_entropy", "adam").fit(
            x, y, epochs=4, batch_size=8, callbacks=[TensorBoard(tmp_path / "tb"), Crash()], checkpoint=ckpt)
    first = read_scalars(tmp_path / "tb")["train"]["epoch_loss"]
    assert [s for s, _ in first] == [1, 2, 3]
    history = mlp().compile("cross_entropy", "adam").fit(x, y, epochs=4, batch_size=8,
                                                        callbacks=[TensorBoard(tmp_path / "tb")], checkpoint=ckpt)
    logged = read_scalars(tmp_path / "tb")["train"]["epoch_loss"]
    assert [s for s, _ in logged] == [1, 2, 3, 4]                       # epoch 3 once: the resumed run's
    np.testing.assert_allclose([v for _, v in logged], history["loss"], rtol=1e-6)
    assert logged[:2] == first[:2]


def test_event_writer_writes_figures_text_and_any_image_layout(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1), dpi=50)
    ax.plot([0, 1], [1, 0])
    with EventWriter(tmp_path) as w:
        w.figure("fig", fig, step=0)
        w.image("hw", np.zeros((3, 7)), step=0)
        w.image("hwc", np.full((3, 7, 3), 200, np.uint8), step=0)
        w.image("chw", np.ones((1, 3, 7)), step=0)
        w.text("note", "**bold**", step=0)
        w.histogram("all-nan", np.full(4, np.nan), step=0)          # nothing finite: skipped
    plt.close(fig)
    images = read_images(tmp_path)["."]
    assert (images["fig"][0][1]["height"], images["fig"][0][1]["width"]) == (50, 100)
    assert {(v[0][1]["height"], v[0][1]["width"]) for k, v in images.items() if k != "fig"} == {(3, 7)}
    assert read_histograms(tmp_path)["."] == {}
    with EventWriter(tmp_path / "x") as w, pytest.raises(ValueError, match="channels"):
        w.image("bad", np.zeros((5, 6, 7)), step=0)


def test_flatten_hparams_makes_flat_dashboard_values():
    assert flatten_hparams({"a": {"b": {"c": 1}}, "t": (1, 2), "n": None, "x": np.float32(0.5)}) == {
        "a.b.c": 1, "t": "[1, 2]", "n": "None", "x": 0.5}


def test_run_context_adds_the_callback_with_the_config_and_input_images(tmp_path):
    from nnlab.experiments import EXPERIMENTS, load_all, resolve_config
    from nnlab.experiments.runner import RunContext

    load_all()
    exp = EXPERIMENTS["mnist-autoencoder"]
    ctx = RunContext(exp, resolve_config(exp, smoke=True), tmp_path, smoke=True, engine="numpy", data_dir=None,
                     progress=False)
    assert not any(isinstance(c, TensorBoard) for c in ctx.callbacks(2, "p"))           # off by default
    ctx.tensorboard = tmp_path / "tensorboard"
    x = np.random.default_rng(0).normal(size=(10, 1, 6, 6))           # standardised: rescaled to [0, 1]
    tb, = (c for c in ctx.callbacks(2, "p", x=x) if isinstance(c, TensorBoard))
    assert tb.log_dir == tmp_path / "tensorboard" / "p" and tb.hparams["train.epochs"] == ctx.cfg.train.epochs
    assert tb.hparams["run.engine"] == "numpy" and tb.images["inputs"].shape == (8, 6, 6, 1)
    assert tb.images["inputs"].min() == 0 and tb.images["inputs"].max() == 1
    again, = (c for c in ctx.callbacks(2, "p", x=x.reshape(10, 2, 3, 6)) if isinstance(c, TensorBoard))
    assert again.log_dir.name == "p-2" and again.images == {}           # a second phase "p"; 2 channels: no images


@pytest.mark.slow
def test_nnlab_run_tensorboard_logs_every_phase_and_figure(tmp_path, monkeypatch, capsys):
    from nnlab.cli import main

    monkeypatch.delenv("NNLAB_DATA", raising=False)
    run = tmp_path / "run"
    assert main(["-q", "run", "mnist-autoencoder", "--smoke", "--tensorboard", "--out", str(run)]) == 0
    tb = run / "tensorboard"
    scalars, hists, images = read_scalars(tb), read_histograms(tb), read_images(tb)
    for phase in ("autoencoder", "classifier"):
        history = np.genfromtxt(run / f"{phase}.csv", delimiter=",", names=True)
        for sub, key in (("train", "loss"), ("validation", "val_loss")):
            logged = scalars[f"{phase}/{sub}"]["epoch_loss"]
            assert [s for s, _ in logged] == history["epoch"].astype(int).tolist()
            np.testing.assert_allclose([v for _, v in logged], history[key], rtol=1e-6)
    layers = np.load(run / "model.npz").files                         # the autoencoder's parameters
    assert len(layers) == 16
    assert {f"{k}/{n}" for k in ("weights", "gradients") for n in layers} == set(hists["autoencoder/train"])
    assert {f"gradient_norm/{n}" for n in layers} <= set(scalars["autoencoder/train"])
    figures = {p.stem for p in (run / "figures").glob("*.png")}
    assert {"reconstructions", "samples"} <= figures and set(images["figures"]) == {f"figures/{f}" for f in figures}
    hparams = read_hparams(tb)["autoencoder"]
    assert hparams["run.experiment"] == "mnist-autoencoder" and hparams["hidden"] == "[500, 200, 100]"
    assert yaml.safe_load((run / "config.yaml").read_text())["run"]["tensorboard"] is True


def test_missing_tensorboard_is_one_clear_error(tmp_path, monkeypatch, capsys):
    from nnlab.cli import main

    for name in [m for m in sys.modules if m == "tensorboard" or m.startswith("tensorboard.")] + ["tensorboard"]:
        monkeypatch.setitem(sys.modules, name, None)              # what `import tensorboard` meets without it
    with pytest.raises(TensorBoardMissingError, match=r'pip install -e "\.\[tensorboard\]"') as info:
        TensorBoard(tmp_path / "tb")
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ImportError)
    with pytest.raises(SystemExit) as stop:
        main(["run", "blobs-bce", "--smoke", "--tensorboard", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1 and '.[tensorboard]' in err
    assert not (tmp_path / "run").exists()                            # refused before any run folder


@pytest.mark.slow
def test_the_numpy_engine_logs_without_torch(tmp_path):
    code = textwrap.dedent(f"""
        import json, sys
        import nnlab.training
        lazy = "tensorboard" not in sys.modules
        import numpy as np
        from nnlab.engine import Dense, Sequential
        from nnlab.training.tensorboard import TensorBoard, read_scalars
        x = np.random.default_rng(0).normal(size=(16, 3))
        model = Sequential([Dense(4, "relu"), Dense(1)], input_shape=(3,), seed=0).compile("mse", "sgd")
        model.fit(x, x[:, :1], epochs=2, batch_size=8, callbacks=[TensorBoard({str(tmp_path)!r})])
        steps = [s for s, _ in read_scalars({str(tmp_path)!r})["train"]["epoch_loss"]]
        print(json.dumps({{"lazy": lazy, "steps": steps, "torch": "torch" in sys.modules}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {"lazy": True, "steps": [1, 2], "torch": False}
