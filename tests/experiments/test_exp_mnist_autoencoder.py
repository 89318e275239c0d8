"""The MNIST experiments: smoke runs (synthetic data, seconds), their outputs, and the claims they make."""

import json

import numpy as np
import pytest

from nnlab.experiments import EXPERIMENTS, load_all, resolve_config, run_experiment


@pytest.fixture(scope="module", autouse=True)
def _registered():
    load_all()


def _metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
def test_autoencoder_smoke_run_writes_its_figures_and_metrics(smoke_run):
    run_dir = smoke_run("mnist-autoencoder")           # the session's default smoke run
    metrics = _metrics(run_dir)
    assert metrics["status"] == "ok" and metrics["wall_s"] > 0
    assert {"test_mse", "code_accuracy", "code_accuracy_frozen", "pca30_mse"} <= set(metrics)
    assert 0 < metrics["test_mse"] < 0.25 and 0 <= metrics["code_accuracy"] <= 1
    figures = {p.stem for p in (run_dir / "figures").iterdir()}
    assert {"reconstructions", "autoencoder-curves", "classifier-curves", "confusion"} <= figures
    assert {"class-counts", "samples", "autoencoder-iterations", "test-batch-accuracy"} <= figures  # figs 2, 3, 9, 20
    table = (run_dir / "tables" / "per-class.csv").read_text().splitlines()
    assert table[0] == "class,precision,recall,f1,support" and len(table) == 12  # header, 10 digits, macro
    assert {"model.npz", "classifier.npz"} <= {p.name for p in run_dir.iterdir()}
    # the loss of every iteration: 2 epochs of 256 images in batches of 32
    iterations = (run_dir / "autoencoder-iterations.csv").read_text().splitlines()
    assert iterations[0] == "iteration,epoch,step,loss" and len(iterations) == 1 + 16 == 1 + metrics["ae_iterations"]
    assert iterations[9].startswith("9,2,0,")
    epochs = (run_dir / "tables" / "autoencoder-epochs.csv").read_text().splitlines()
    assert epochs[0] == "epoch,train_mse,test_mse,seed_train_mse" and epochs[1].endswith(",0.0352")
    assert 0 < metrics["train_mse"] < 0.25 and 0 <= metrics["code_train_accuracy"] <= 1
    # accuracy per test batch: 128 test digits in batches of 32
    lo, mean, hi = (metrics[f"test_batch_accuracy_{k}"] for k in ("min", "mean", "max"))
    assert 0 <= lo <= mean <= hi <= 1 and mean == pytest.approx(metrics["code_accuracy"])  # equal batches
    exp = EXPERIMENTS["mnist-autoencoder"]
    undescribed = [k for k, v in metrics.items() if isinstance(v, (int, float)) and exp.describe(k) is None]
    assert not undescribed and exp.about


def test_autoencoder_seed_preset_is_the_seed_setting():
    cfg = resolve_config(EXPERIMENTS["mnist-autoencoder"], preset="seed")
    assert cfg.hidden == [500, 200, 100] and cfg.code_size == 30 and cfg.classifier.hidden == [20, 15]
    assert (cfg.train.lr, cfg.train.weight_decay, cfg.train.batch_size, cfg.train.epochs) == (1e-3, 1e-5, 100, 10)
    assert cfg.snapshot_epochs == [1, 5, 9] and cfg.classifier.finetune_epochs == 0
    assert (cfg.classifier.lr, cfg.classifier.weight_decay, cfg.test_batch_size) == (1e-3, 1e-5, 100)


@pytest.mark.parametrize("preset, weight_decay", [("seed", 1e-5), (None, 0.0)])
def test_the_classifier_weight_decay_reaches_its_optimizer(preset, weight_decay, tmp_path):
    from nnlab.experiments.exp_mnist_autoencoder import train_classifier
    from nnlab.experiments.runner import RunContext

    cfg = resolve_config(EXPERIMENTS["mnist-autoencoder"], preset=preset, overrides=["classifier.epochs=1"])
    ctx = RunContext(EXPERIMENTS["mnist-autoencoder"], cfg, tmp_path, smoke=True, engine="numpy", data_dir=None,
                     progress=False)
    rng = np.random.default_rng(0)
    codes, labels = rng.standard_normal((64, 30)).astype(np.float32), rng.integers(0, 10, 64)
    clf, _ = train_classifier(ctx, codes, labels, codes, labels)
    assert clf.optimizer.weight_decay == weight_decay


def test_batch_accuracies_split_a_shuffled_test_set():
    from nnlab.experiments.exp_mnist_autoencoder import batch_accuracies

    y = np.arange(10) % 2
    right = batch_accuracies(y, y, 4, seed=0)
    assert right.tolist() == [1.0, 1.0, 1.0]                                   # 4 + 4 + 2
    half = batch_accuracies(np.zeros(10, int), y, 5, seed=0)
    assert half.mean() == pytest.approx(0.5) and len(half) == 2
    assert batch_accuracies(np.zeros(10, int), y, 5, seed=0).tolist() == half.tolist()      # seeded
    assert batch_accuracies(y, np.arange(10) // 5, 10, seed=0).tolist() == [0.6]      # one batch: 6 of 10 agree


def test_reconstruction_snapshots_keep_the_asked_epochs():
    from nnlab.data.synthetic import digits
    from nnlab.experiments.exp_mnist_autoencoder import ReconstructionSnapshots
    from nnlab.models import create_model

    x, _ = digits(64, 0)
    model = create_model("mnist_autoencoder").build(seed=0)
    model.compile(loss="mse", optimizer="adam")
    snaps = ReconstructionSnapshots(model, x[:3], [1, 3])
    model.fit(x, x, epochs=3, batch_size=32, callbacks=[snaps])
    assert sorted(snaps.snapshots) == [1, 3] and snaps.snapshots[3].shape == (3, 784)
    np.testing.assert_allclose(snaps.snapshots[3], model.predict(x[:3]))


@pytest.mark.slow
def test_batch_size_smoke_run_writes_its_figures_and_metrics(smoke_run):
    run_dir = smoke_run("batch-size")                  # the session's default smoke run
    metrics = _metrics(run_dir)
    assert metrics["status"] == "ok" and metrics["wall_s"] > 0
    assert {"final_test_accuracy", "test_accuracy_batch16", "test_accuracy_batch64", "grad_max_abs_diff_float32",
            "grad_max_abs_diff_float64", "peak_kib_full", "peak_kib_accumulated"} <= set(metrics)
    figures = {p.stem for p in (run_dir / "figures").iterdir()}
    assert {"curves-per-epoch", "curves-per-second", "step-memory"} <= figures
    history = (run_dir / "history-batch16.csv").read_text().splitlines()
    assert "time_s" in history[0] and len(history) == 3  # header + 2 epochs


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-6), ("float64", 1e-14)])
def test_micro_batches_of_two_give_the_whole_batch_gradient_and_step(dtype, tol):
    from nnlab.experiments.exp_batch_size import BatchSizeConfig, accumulated_gradient

    rng = np.random.default_rng(0)
    x, y = rng.random((64, 20)), rng.integers(0, 10, 64)
    cfg = BatchSizeConfig(hidden=[16])
    g_full, w_full = accumulated_gradient(cfg, x, y, dtype, accumulate_steps=1)
    g_acc, w_acc = accumulated_gradient(cfg, x, y, dtype, accumulate_steps=32)
    assert np.abs(g_full).max() > 1e-3  # a real gradient, not zeros
    assert np.abs(g_full - g_acc).max() < tol * np.abs(g_full).max()
    assert np.abs(w_full - w_acc).max() < tol
    # and a different batch split that is not a sum of the same terms would differ: the check has teeth
    g_half, _ = accumulated_gradient(cfg, x[:32], y[:32], dtype, accumulate_steps=1)
    assert np.abs(g_full - g_half).max() > 100 * tol


def test_accumulated_step_memory_stays_flat_as_the_batch_grows():
    from nnlab.experiments.exp_batch_size import BatchSizeConfig, step_peak_bytes

    rng = np.random.default_rng(0)
    x, y = rng.random((1024, 100)).astype(np.float32), rng.integers(0, 10, 1024)
    cfg = BatchSizeConfig(hidden=[64])
    full = [step_peak_bytes(cfg, x[:b], y[:b], 1) for b in (64, 1024)]
    acc = [step_peak_bytes(cfg, x[:b], y[:b], b // 2) for b in (64, 1024)]
    assert full[1] > 4 * full[0]  # the whole batch: memory grows with it
    # micro-batches of 2: only the loop's bookkeeping (a list of B/2 bounds) grows, not the arrays
    assert acc[1] - acc[0] < 0.1 * (full[1] - full[0]) and acc[1] < full[1]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist-autoencoder", "batch-size"])
def test_same_seed_same_metrics(tmp_path, name):
    keys = {"mnist-autoencoder": ["test_mse", "code_accuracy", "code_accuracy_frozen"],
            "batch-size": ["final_test_accuracy", "test_accuracy_batch16", "grad_max_abs_diff_float32"]}[name]
    a = _metrics(run_experiment(name, smoke=True, out=tmp_path / "a"))
    b = _metrics(run_experiment(name, smoke=True, out=tmp_path / "b"))
    assert [a[k] for k in keys] == [b[k] for k in keys]


@pytest.mark.slow
def test_the_autoencoder_also_trains_on_the_torch_engine(smoke_run):
    pytest.importorskip("torch")
    run_dir = smoke_run("mnist-autoencoder", engine="torch")   # NNLAB_DATA unset
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok" and 0 < metrics["test_mse"] < 0.25
    assert "engine: torch" in (run_dir / "config.yaml").read_text()
    assert (run_dir / "figures" / "reconstructions.png").is_file()
    assert (run_dir / "figures" / "autoencoder-iterations.png").is_file()    # the torch loop reports its steps too
    assert len((run_dir / "autoencoder-iterations.csv").read_text().splitlines()) == 1 + 16


@pytest.mark.slow
def test_dataset_runs_the_autoencoder_on_another_idx_set_with_its_class_names(tmp_path):
    """Fashion-MNIST has MNIST's files: ``dataset`` reads it from its own folder, and only there."""
    import json

    from nnlab.data.registry import FASHION_CLASSES
    from nnlab.errors import ConfigError
    from nnlab.experiments import run_experiment
    from tests.data.test_idx_cifar import write_mnist

    root = tmp_path / "data"
    write_mnist(root / "fashion-mnist", n=40)
    small = ["train.epochs=2", "train.batch_size=20", "classifier.epochs=1", "classifier.finetune_epochs=0",
             "snapshot_epochs=[1]", "shown=3", "samples=3", "test_batch_size=10"]
    out = run_experiment("mnist-autoencoder", overrides=["dataset=fashion-mnist", *small], data_dir=str(root),
                         out=tmp_path / "run")
    summary = json.loads((out / "summary.json").read_text())
    assert {d["name"] for d in summary["data"]} == {"fashion-mnist"}
    assert all(d["folder"].endswith("fashion-mnist") for d in summary["data"])
    report = (out / "report.md").read_text()
    assert "Trouser" in (out / "tables" / "per-class.csv").read_text() and FASHION_CLASSES[9] in report
    assert "training images per class" in report and "random training digits" not in report
    assert "reconstructions at epochs [1, 2]" in report            # the final epoch is always shown
    with pytest.raises(ConfigError, match="not a data set in MNIST's IDX layout"):
        run_experiment("mnist-autoencoder", overrides=["dataset=cifar10"], data_dir=str(root))
    from nnlab.data.errors import MissingDataError

    with pytest.raises(MissingDataError):                       # --data-dir holds no MNIST: no fall-through
        run_experiment("mnist-autoencoder", overrides=small, data_dir=str(root), out=tmp_path / "mnist")
