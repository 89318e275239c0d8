"""The shared pipeline: run folders, reports, comparisons (on the ``dummy-test`` experiment)."""

import json

import pytest

from nnlab.errors import ConfigError
from nnlab.experiments import experiment, run_experiment
from nnlab.reporting.report import compare_runs, write_report
from tests.experiments.dummy import DummyConfig  # importing it registers the dummy-test experiment


def test_a_run_folder_has_everything_a_report_needs(tmp_path):
    run_dir = run_experiment("dummy-test", out=tmp_path / "run")
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.yaml", "metrics.json", "history.csv", "run.log", "model.json", "model.npz", "figures",
            "tables", "manifest.json", "report.html", "report.md"} <= names
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok" and 0 <= metrics["test_accuracy"] <= 1 and metrics["wall_s"] > 0
    page = (run_dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # the curves and the confusion matrix, embedded
    assert "test_accuracy" in page and "weights" in page and "Some <strong>text</strong>." in page
    assert "![confusion](figures/confusion.png)" in (run_dir / "report.md").read_text()
    assert "epoch 3" in (run_dir / "run.log").read_text()


def test_same_seed_same_metrics_and_smoke_settings(tmp_path):
    a = json.loads((run_experiment("dummy-test", out=tmp_path / "a") / "metrics.json").read_text())
    b = json.loads((run_experiment("dummy-test", out=tmp_path / "b") / "metrics.json").read_text())
    assert a["test_accuracy"] == b["test_accuracy"]
    smoke = run_experiment("dummy-test", out=tmp_path / "s", smoke=True)
    assert "epochs: 1" in (smoke / "config.yaml").read_text()


def test_a_failed_run_keeps_its_metrics_and_report(tmp_path):
    with pytest.raises(RuntimeError, match="asked to fail"):
        run_experiment("dummy-test", out=tmp_path / "f", overrides=["fail=true"])
    metrics = json.loads((tmp_path / "f" / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "asked to fail" in metrics["error"]
    assert "asked to fail" in (tmp_path / "f" / "report.html").read_text()
    assert (tmp_path / "f" / "history.csv").is_file()


@pytest.mark.slow
def test_reports_rebuild_and_runs_compare(tmp_path):
    a = run_experiment("dummy-test", out=tmp_path / "a")
    b = run_experiment("dummy-test", out=tmp_path / "b", overrides=["optimizer.lr=0.2"])
    (a / "report.html").unlink()
    write_report(a)
    assert (a / "report.html").is_file()
    c = run_experiment("dummy-test", out=tmp_path / "c", smoke=True)
    out = compare_runs([a, b, c], tmp_path / "cmp")
    page = (out / "compare.html").read_text()
    assert "test_accuracy" in page and page.count("data:image/png;base64,") == 1
    text = (out / "compare.md").read_text()
    assert text.count("smoke run: its numbers mean nothing") == 1           # c, marked
    diff = text.split("## Settings that differ", 1)[1]
    assert "| optimizer.lr |" in diff and "| 0.2 |" in diff                 # b's own learning rate
    assert "| seed |" not in diff                                          # the same in all three: not listed
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        write_report(tmp_path)


def test_cli_list_run_and_report(tmp_path, capsys):
    from nnlab.cli import main

    assert main(["list"]) == 0
    assert "dummy-test" in capsys.readouterr().out
    assert main(["-q", "run", "dummy-test", "--out", str(tmp_path / "r"), "--set", "epochs=2"]) == 0
    assert "run folder:" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown key"):
        main(["-q", "run", "dummy-test", "--out", str(tmp_path / "x"), "--set", "epoch=2"])
    with pytest.raises(SystemExit, match="unknown experiment"):
        main(["-q", "run", "nope"])
    assert main(["report", str(tmp_path / "r")]) == 0


@experiment("data-reader-test", "reads the MNIST test split (framework test)", config=DummyConfig)
def run_data_reader(ctx):
    ctx.record(n_test=len(ctx.data("mnist", "test")))


def test_a_run_reads_only_the_data_dir_given_and_says_which_folder(tmp_path, monkeypatch):
    from nnlab.data.errors import MissingDataError
    from tests.data.test_idx_cifar import write_mnist

    write_mnist(tmp_path / "env" / "mnist", n=7)
    write_mnist(tmp_path / "given" / "mnist", n=5)
    monkeypatch.setenv("NNLAB_DATA", str(tmp_path / "env"))
    run = run_experiment("data-reader-test", data_dir=str(tmp_path / "given"), out=tmp_path / "run")
    assert json.loads((run / "metrics.json").read_text())["n_test"] == 5
    used = json.loads((run / "summary.json").read_text())["data"]
    assert used == [{"name": "mnist", "split": "test", "folder": str((tmp_path / "given" / "mnist").resolve())}]
    assert f"mnist/test from `{(tmp_path / 'given' / 'mnist').resolve()}`" in (run / "report.md").read_text()
    # a --data-dir without the files is an error, even though NNLAB_DATA has them
    with pytest.raises(MissingDataError, match="Only --data-dir was looked in"):
        run_experiment("data-reader-test", data_dir=str(tmp_path / "empty"), out=tmp_path / "run2")


def test_missing_data_leaves_no_run_folder_and_the_cli_says_it_once(tmp_path, monkeypatch, capsys):
    from nnlab.cli import main

    monkeypatch.delenv("NNLAB_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["run", "data-reader-test", "--data-dir", str(tmp_path / "nothing")])
    message = str(exc.value)
    assert exc.value.code == 2 and "--smoke" in message
    assert capsys.readouterr().err.count("data set 'mnist' not found") == 1     # printed once, not logged too
    assert not (tmp_path / "runs").exists()


def test_a_finished_run_is_not_overwritten_without_force(tmp_path):
    out = tmp_path / "run"
    run_experiment("dummy-test", smoke=True, out=out)
    with pytest.raises(ConfigError, match="holds a finished run; choose another --out, or --force"):
        run_experiment("dummy-test", smoke=True, out=out)
    assert run_experiment("dummy-test", smoke=True, out=out, force=True) == out


@experiment("threads-test", "records the BLAS threads it runs with (framework test)", config=DummyConfig)
def run_threads(ctx):
    from threadpoolctl import threadpool_info

    from nnlab.engine import threads

    ctx.record(blas_threads=max((p["num_threads"] for p in threadpool_info()), default=0), device=ctx.device,
               engine_threads=threads.num_threads())


def test_threads_and_device_are_applied_and_recorded(tmp_path):
    import yaml

    run = run_experiment("threads-test", out=tmp_path / "r", threads=1, device="cpu")
    recorded = json.loads((run / "metrics.json").read_text())
    assert recorded["blas_threads"] == 1 and recorded["engine_threads"] == 1   # the NumPy engine's own threads too
    meta = yaml.safe_load((run / "config.yaml").read_text())["run"]
    assert (meta["threads"], meta["device"]) == (1, "cpu")
    with pytest.raises(ConfigError, match="--device cuda needs --engine torch"):
        run_experiment("threads-test", out=tmp_path / "r2", device="cuda")
    with pytest.raises(ConfigError, match="--threads must be at least 1"):
        run_experiment("threads-test", out=tmp_path / "r3", threads=0)


def test_run_files_are_written_whole_with_the_usual_mode(tmp_path, monkeypatch):
    """Every file of a run folder is written through a temporary file (a crash leaves no half file)
    and ends with mode 0666 less the umask, models included (not mkstemp's 0600)."""
    import os
    import stat

    from nnlab.atomic_io import atomic_write_bytes

    old = os.umask(0o022)
    try:
        run = run_experiment("dummy-test", out=tmp_path / "r")
        atomic_write_bytes(tmp_path / "r" / "model.bin", b"weights")
    finally:
        os.umask(old)
    files = [p for p in run.rglob("*") if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in files), \
        {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert not [p for p in files if p.name.endswith(".tmp")]

    def fail(*args, **kwargs):                                  # the disk fills up mid-write
        raise OSError(28, "No space left on device")

    before = (run / "history.csv").read_bytes()
    monkeypatch.setattr(os, "replace", fail)
    from nnlab.training.history import History

    with pytest.raises(OSError, match="No space"):
        History.from_csv(run / "history.csv").to_csv(run / "history.csv")
    assert (run / "history.csv").read_bytes() == before         # the old file, whole
    assert not [p for p in run.rglob("*.tmp")]
