"""The ``nnlab`` command line. Logging and progress bars are set up here, once.

One concept, the command line: every subcommand's arguments and what it prints, so one module
of about 650 lines.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from nnlab import __version__
from nnlab.atomic_io import atomic_write_text
from nnlab.plotting import FIGURE_FORMATS

log = logging.getLogger("nnlab")


def setup_logging(verbosity: int, log_file: Path | None = None) -> None:
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)  # a run may lower nnlab's level to fill its run.log; the console keeps this one
    # records meant for log files only (a run's per-epoch record, which its progress bar shows compactly)
    console.addFilter(lambda record: getattr(record, "nnlab_console", True))
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file))
    # nnlab's own loggers at the chosen level; other libraries only say warnings and errors
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S", handlers=handlers, force=True)
    logging.getLogger("nnlab").setLevel(level)


def load_spec(path: str) -> dict[str, Any]:
    """Read a model spec from YAML or JSON, with errors that name the file."""
    import yaml

    p = Path(path)
    if not p.exists():
        raise CLIError(f"nnlab: spec file {p} not found")
    try:
        data = yaml.safe_load(p.read_text()) if p.suffix in (".yaml", ".yml") else json.loads(p.read_text())
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise CLIError(f"nnlab: cannot parse {p}: {exc}") from None
    if not isinstance(data, dict):
        raise CLIError(f"nnlab: {p} must hold a mapping (input_shape, layers, ...), not {type(data).__name__}")
    return data


def _build(spec_path: str, seed: int):
    from nnlab.engine import ConfigError, ShapeError, model_from_spec
    from nnlab.models import MODELS, create_model

    if not Path(spec_path).exists() and spec_path in MODELS:
        return create_model(spec_path).build(seed=seed)
    if not Path(spec_path).exists() and not Path(spec_path).suffix:
        raise CLIError(f"nnlab: {spec_path} is neither a spec file nor a model ({', '.join(MODELS)})")
    try:
        return model_from_spec(load_spec(spec_path), seed=seed)
    except (ConfigError, ShapeError) as exc:
        raise CLIError(f"nnlab: {spec_path}: {exc}") from None


def cmd_summary(args: argparse.Namespace) -> int:
    plot = Path(args.plot) if args.plot else None
    if plot is not None and plot.suffix.lower() not in FIGURE_FORMATS:
        raise CLIError(f"nnlab summary: cannot draw into {plot}: the file must end in {', '.join(FIGURE_FORMATS)}")
    model = _build(args.spec, args.seed)
    if args.json:
        print(json.dumps({"rows": model.summary_rows(), "total_params": model.num_parameters()}, indent=2))
    else:
        print(model.summary())
    if plot is not None:
        from nnlab.reporting.network_plot import network_figure

        _write_figure(network_figure(model), plot, "nnlab summary", dpi=150 if plot.suffix.lower() == ".png" else None)
        print(f"wrote the drawing of {model.name} to {plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _write_figure(fig: Any, path: Path, command: str, dpi: float | None = None) -> None:
    """Write ``fig`` into ``path`` (PNG, SVG or PDF by its suffix), all or nothing; a folder that
    cannot be written is one line."""
    from nnlab.plotting import save_figure

    try:
        save_figure(fig, path, dpi=dpi)
    except OSError as exc:
        raise CLIError(f"{command}: cannot write {path}: {exc.strerror or exc}") from None


def cmd_list(args: argparse.Namespace) -> int:
    from nnlab.experiments import load_all

    experiments = load_all()
    width = max((len(n) for n in experiments), default=0)
    for name in sorted(experiments):
        e = experiments[name]
        presets = f" [presets: {', '.join(e.presets)}]" if e.presets else ""
        print(f"{name.ljust(width)}  {'/'.join(e.engines):<11}  {e.summary}{presets}")
    return 0


class CLIError(SystemExit):
    """An nnlab error a user can fix (a bad setting, a missing or malformed file): ``main`` prints
    its one message on stderr and the process exits with status 2, without a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Stopped(KeyboardInterrupt):
    """SIGTERM (a scheduler's kill, ``timeout``), unwound like Ctrl-C: the run records ``interrupted``."""


def _config_error(exc: Exception) -> CLIError:
    return CLIError(f"nnlab: {exc}")


def _show_value(value: object) -> str:
    return value if isinstance(value, str) and value else json.dumps(value)


def _print_config(name: str, cfg: object, preset: str | None) -> None:
    """Every setting of ``cfg``: key, value (and the default where it differs), type and comment."""
    from nnlab.experiments.config import describe

    rows = describe(cfg)
    values = [_show_value(r["value"]) + ("" if r["value"] == r["default"] else f" (default {_show_value(r['default'])})")
              for r in rows]
    kw, vw = max(len(r["key"]) for r in rows), min(40, max(len(v) for v in values))
    tw = max(len(r["type"]) for r in rows)
    print(f"{name}: {len(rows)} settings{f' under --preset {preset}' if preset else ''}; change one with"
          " --set KEY=VALUE (* differs from the default)")
    for r, v in zip(rows, values):
        mark = " " if r["value"] == r["default"] else "*"
        print(f"{mark} {r['key']:<{kw}}  {v:<{vw}}  {r['type']:<{tw}}  {r['comment']}".rstrip())


def cmd_config(args: argparse.Namespace) -> int:
    from nnlab.errors import ConfigError
    from nnlab.experiments.registry import get
    from nnlab.experiments.runner import resolve_config

    try:
        cfg = resolve_config(get(args.name), preset=args.preset, config_file=args.config,
                             overrides=args.set or [], smoke=args.smoke)
    except ConfigError as exc:
        raise _config_error(exc) from None
    _print_config(args.name, cfg, args.preset)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from nnlab.errors import ConfigError, DataError
    from nnlab.experiments import run_experiment

    if args.resume:
        _resume_args(args)
    elif args.name is None:
        raise CLIError("nnlab run: give an experiment NAME (`nnlab list` shows them), or --resume RUN_DIR")
    if args.dry_run:
        return cmd_config(args)
    from tqdm.contrib.logging import logging_redirect_tqdm

    try:
        # log lines above the progress line, not through it; with -q there is no bar, and the console
        # handler keeps its level (tqdm's stand-in handler would not)
        with logging_redirect_tqdm() if not args.quiet else contextlib.nullcontext():
            run_dir = run_experiment(args.name, preset=args.preset, config_file=args.config,
                                     overrides=args.set or [], smoke=args.smoke, engine=args.engine, out=args.out,
                                     data_dir=args.data_dir, progress=not args.quiet, force=args.force,
                                     threads=args.threads, device=args.device, tensorboard=args.tensorboard)
    except (ConfigError, DataError, FileNotFoundError) as exc:
        from nnlab.data.errors import MissingDataError

        hint = (f"\n(without the data, `nnlab run {args.name} --smoke` runs the whole pipeline on tiny synthetic"
                " data in seconds)" if isinstance(exc, MissingDataError) and not args.smoke else "")
        raise CLIError(f"nnlab: {exc}{hint}") from None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # under torchrun: leave the process group together
        import gc

        from nnlab.torchlib.distributed import shutdown

        gc.collect()  # the run's DDP wrappers first (see shutdown)
        shutdown()
    if os.environ.get("RANK", "0") != "0":  # under torchrun, the main process says what the run gave
        return 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    print("  ".join(f"{k}={v:.4g}" for k, v in shown.items()))
    print(f"run folder: {run_dir}  (report: {run_dir / 'report.html'})")
    return 0


def _resume_args(args: argparse.Namespace) -> None:
    """``--resume RUN_DIR``: the run's own experiment and settings, from its config.yaml, into it."""
    from nnlab.errors import ConfigError
    from nnlab.experiments.run_folder import saved_run

    changed = [flag for flag, given in (("--preset", args.preset), ("--set", args.set), ("--config", args.config),
                                        ("--smoke", args.smoke), ("--engine", args.engine), ("--out", args.out),
                                        ("--force", args.force)) if given]
    if changed:
        raise CLIError(f"nnlab run: --resume continues {args.resume} with its own settings; {', '.join(changed)}"
                       " cannot be given with it")
    try:
        meta = saved_run(Path(args.resume))["run"]
    except ConfigError as exc:
        raise CLIError(f"nnlab: {exc}") from None
    if args.name is not None and args.name != meta.get("experiment"):
        raise CLIError(f"nnlab run: {args.resume} is a run of {meta.get('experiment')}, not {args.name}")
    args.name, args.preset, args.set = meta.get("experiment"), meta.get("preset"), list(meta.get("overrides") or [])
    args.config, args.smoke, args.engine = meta.get("config_file"), bool(meta.get("smoke")), meta.get("engine")
    args.out = args.resume
    args.data_dir = args.data_dir or meta.get("data_dir")
    args.threads = args.threads if args.threads is not None else meta.get("threads")
    if args.device == "auto" and meta.get("device"):
        args.device = meta["device"]
    args.tensorboard = args.tensorboard or bool(meta.get("tensorboard"))


def cmd_runs(args: argparse.Namespace) -> int:
    import shutil

    from nnlab.reporting.runs import find_runs

    runs = sorted(find_runs(args.root), key=lambda r: r.started)
    if not runs:
        print(f"no runs under {args.root}")
        return 0
    width = max(len(r.experiment) for r in runs)
    for r in runs:
        kind = ", ".join(k for k in (f"preset {r.preset}" if r.preset else "", "smoke" if r.smoke else "",
                                     "--set " + " ".join(r.overrides) if r.overrides else "") if k)
        wall = r.metrics.get("wall_s")
        took = f"{wall:8.0f} s" if isinstance(wall, (int, float)) else " " * 10
        print(f"{r.started:19s}  {r.experiment:{width}s}  {r.status:11s} {took}  {r.path}{f'  ({kind})' if kind else ''}")
    if args.clean:
        gone = [r for r in runs if r.status in ("failed", "interrupted", "incomplete")]
        for r in gone:
            shutil.rmtree(r.path)
        print(f"removed {len(gone)} failed, interrupted or incomplete run folder(s)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from nnlab.reporting.report import compare_runs, write_report

    try:
        if len(args.runs) == 1:
            html_path, _ = write_report(args.runs[0])
            print(f"report: {html_path}")
        else:
            out = compare_runs(args.runs, args.out)
            print(f"comparison: {out / 'compare.html'}")
    except (FileNotFoundError, ValueError) as exc:
        raise _config_error(exc) from None
    return 0


BOOK_RESULTS = "benchmarks/results"


def cmd_book(args: argparse.Namespace) -> int:
    from nnlab.reporting.book import EXPERIMENTS, build_book
    from nnlab.reporting.runs import find_runs, find_sweeps, newest_runs, read_run

    out = Path(args.out or ("runs/book-smoke" if args.smoke else "runs/book"))
    if args.smoke:
        from nnlab.experiments.many import run_many

        jobs = [(name, preset) for name, presets in EXPERIMENTS.items() for preset in presets]
        print(f"running {len(jobs)} smoke runs ({args.jobs} at a time) into {out / 'smoke-runs'} ...", flush=True)
        try:
            folders = run_many(jobs, out / "smoke-runs", smoke=True, data_dir=args.data_dir, workers=args.jobs)
        except KeyboardInterrupt:
            print("nnlab: book --smoke interrupted; no book was written", file=sys.stderr)
            return 130
        runs = {key: r for key, path in folders.items() if (r := read_run(path)) is not None}
        failed = [f"{n} ({p or 'default'})" for n, p in jobs if (n, p) not in runs]
        if failed:
            raise CLIError(f"nnlab: smoke runs failed: {', '.join(failed)} (their run.log says why)")
        sweeps = []
    else:
        runs = newest_runs(find_runs(args.runs_dir))
        sweeps = find_sweeps(args.runs_dir)
        for folder in args.runs:
            record = read_run(folder)
            if record is None:
                raise CLIError(f"nnlab: {folder} is not a run folder (no config.yaml with a run: section)")
            if record.status != "ok":
                raise CLIError(f"nnlab: {folder}: the run did not finish (status {record.status})")
            runs[record.key] = record
    results = None if args.smoke else Path(args.results)
    if results is not None and not results.is_dir():
        if args.results != BOOK_RESULTS:
            raise CLIError(f"nnlab: {results}: no such folder (--results)")
        results = None
    html_path, md_path = build_book(runs, out, smoke=args.smoke, data_dir=args.data_dir, sweeps=sweeps,
                                    results=results)
    print(f"lab book: {html_path} (Markdown: {md_path}); built from {len(runs)} runs")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from nnlab.errors import ConfigError, DataError
    from nnlab.experiments.sweep import run_sweep
    from nnlab.experiments.sweep_grid import parse_grid
    from nnlab.reporting.sweep_report import read_results

    try:
        sweep_dir = run_sweep(args.name, parse_grid(args.grid), workers=args.workers, storage=args.storage,
                              out=args.out, preset=args.preset, overrides=args.set or [], smoke=args.smoke,
                              data_dir=args.data_dir, metric=args.metric, study=args.study, threads=args.threads,
                              device=args.device)
    except (ConfigError, DataError, FileNotFoundError) as exc:
        raise _config_error(exc) from None
    except KeyboardInterrupt:
        print("nnlab: sweep interrupted; the same command with its --out continues it", file=sys.stderr)
        return 130
    rows = read_results(sweep_dir)
    best = rows[0] if rows and rows[0]["state"] == "COMPLETE" else None
    done = sum(r["state"] == "COMPLETE" for r in rows)
    if best is not None:
        shown = {k: v for k, v in best.items() if k not in ("state", "trial", "run", "error")}
        print("best: " + "  ".join(f"{k}={v}" for k, v in shown.items()) + f"  ({sweep_dir / best['run']})")
    print(f"{done}/{len(rows)} grid points complete; sweep folder: {sweep_dir}  (report: {sweep_dir / 'report.html'})")
    return 0 if done == len(rows) else 1


def cmd_models(args: argparse.Namespace) -> int:
    from nnlab.models import MODELS, create_model, list_models

    descriptions = list_models()
    width = max(map(len, MODELS))
    for name in MODELS:
        spec = create_model(name)
        shape = "x".join(map(str, spec.input_shape))
        print(f"{name.ljust(width)}  {spec.num_parameters():>12,}  {shape:>10}  {descriptions[name]}")
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    import numpy as np

    from nnlab.engine import gradcheck

    model = _build(args.spec, args.seed)
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.batch, *model.input_shape))
    if model.loss is not None:
        out_shape = model.output_shape()
        if model.loss.target_kind == "labels":
            y = rng.integers(0, out_shape[0], args.batch)
        else:
            y = rng.uniform(0.05, 0.95, (args.batch, *out_shape))
        result = gradcheck(model, x, y, loss=model.loss, seed=args.seed)
    else:
        result = gradcheck(model, x, seed=args.seed)
    print(f"gradient check of {args.spec} (float64, central differences, batch {args.batch})")
    print(result)
    print("all gradients agree" if result.ok else "MISMATCH: analytic and numerical gradients differ")
    return 0 if result.ok else 1


def cmd_lr_find(args: argparse.Namespace) -> int:
    from nnlab.errors import ConfigError, DataError
    from nnlab.experiments.lr_find import lr_find_experiment

    out = Path(args.out) if args.out else None
    if out is not None and out.suffix not in FIGURE_FORMATS:
        raise CLIError(f"nnlab lr-find: --out {out}: the figure must be .png, .svg or .pdf")
    try:
        found = lr_find_experiment(args.name, phase=args.phase, preset=args.preset, overrides=args.set or [],
                                   config_file=args.config, smoke=args.smoke, engine=args.engine,
                                   device=args.device, data_dir=args.data_dir, threads=args.threads,
                                   steps=args.steps, start_lr=args.start_lr, end_lr=args.end_lr)
    except (ConfigError, DataError, FileNotFoundError) as exc:
        raise CLIError(f"nnlab: {exc}") from None
    r = found.result
    out = out or Path(f"lr-find-{found.experiment}-{found.phase}.png")
    title = (f"{found.experiment} / {found.phase} ({found.engine} engine): {len(r.lrs)} steps of batch"
             f" {r.batch_size}{', stopped when the loss exploded' if r.diverged else ''}")
    _write_figure(r.figure(title), out, "nnlab lr-find")
    numbers = {"experiment": found.experiment, "phase": found.phase, "engine": found.engine,
               "configured_lr": found.configured_lr, **r.to_dict()}
    atomic_write_text(out.with_suffix(".json"), json.dumps(numbers, indent=1) + "\n")
    configured = f"; the phase is configured with {found.configured_lr:.3g}" if found.configured_lr else ""
    print(f"{found.experiment} / {found.phase}: suggested learning rate {r.suggestion:.3g} (the steepest fall of the"
          f" loss); the loss was lowest at {r.min_loss_lr:.3g}, so stay below {r.upper:.3g}{configured}")
    print(f"figure: {out}  (numbers: {out.with_suffix('.json')})")
    return 0


def cmd_data_list(args: argparse.Namespace) -> int:
    from nnlab.data import REGISTRY, MissingDataError, locate

    for name, e in REGISTRY.items():
        try:
            folder, _ = locate(e.files, args.data_dir, name=name)
            where = str(folder)
        except MissingDataError:
            where = "missing (nnlab data show %s says what to put where)" % name
        print(f"{name:14s} {e.description}\n{'':14s} splits: {', '.join(e.splits)}; {where}")
    return 0


def cmd_data_show(args: argparse.Namespace) -> int:
    from nnlab.data import MissingDataError, load
    from nnlab.reporting.figures import class_counts_bar, sample_grid, save

    try:
        data = load(args.name, args.split, data_dir=args.data_dir)
    except MissingDataError as exc:
        raise CLIError(f"nnlab: {exc}") from None
    if getattr(data, "ndim", 0) == 2:  # a colour palette: (K, 3) RGB in [0, 1]
        print(f"{args.name}/{args.split or data.shape[0]}: {len(data)} colours (row i is colour class i; RGB in [0, 1])")
        for i, rgb in enumerate(data):
            hexcode = "".join(f"{min(255, int(v * 256)):02x}" for v in rgb)
            print(f"  {i:3d}  {rgb[0]:.4f} {rgb[1]:.4f} {rgb[2]:.4f}  #{hexcode}")
        return 0
    if not hasattr(data, "images"):  # a list of (name, image) of varied sizes
        print(f"{args.name}/{args.split}: {len(data)} images: " + ", ".join(f"{n} {a.shape}" for n, a in data))
        return 0
    out = Path(args.out or f"runs/data/{args.name}")
    grid = save(sample_grid(data, per_class=args.per_class, seed=args.seed), out / f"{data.split}-samples.png")
    bars = save(class_counts_bar(data), out / f"{data.split}-class-counts.png")
    print(repr(data))
    for cls, n in data.class_counts().items():
        print(f"  {cls:12s} {n:7,d}")
    if data.skipped:
        print(f"  skipped {len(data.skipped)} file(s): " + "; ".join(f"{f} ({why})" for f, why in data.skipped[:5]))
    print(f"wrote {grid}\nwrote {bars}")
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from nnlab.data import MissingDataError, entry, locate

    e = entry(args.name)
    bar = None

    def progress(done: int, total: int | None) -> None:
        nonlocal bar
        if bar is None or bar.total != total:
            if bar is not None:
                bar.close()
            bar = tqdm(total=total, unit="B", unit_scale=True, desc=args.name)
        bar.update(done - bar.n)

    try:
        folder, files = locate(e.files, args.data_dir, download=True, progress=progress, name=args.name)
    except MissingDataError as exc:
        raise CLIError(f"nnlab: {exc}") from None
    finally:
        if bar is not None:
            bar.close()
    print(f"{args.name}: {len(files)} file(s) ready in {folder}")
    return 0


def cmd_exercise(args: argparse.Namespace) -> int:
    from nnlab.errors import ConfigError, DataError, ShapeError
    from nnlab.exercises import EXERCISES, run
    from nnlab.exercises.inputs import exercise_inputs

    if not args.name:
        print("worked exercises (nnlab exercise NAME):")
        width = max(map(len, EXERCISES))
        for name, fn in EXERCISES.items():
            doc = (fn.__doc__ or "").strip().splitlines()
            print(f"  {name:{width}s} {doc[0] if doc else ''}")
        return 0
    if args.name not in EXERCISES:
        raise CLIError(f"nnlab: unknown exercise {args.name!r}; known: {', '.join(EXERCISES)}")
    try:  # a bad --filters/--image (missing file, wrong shape) is one line and exit code 2
        kwargs = exercise_inputs(args.name, filters=args.filters, image=args.image, data_dir=args.data_dir)
        result = run(args.name, out_dir=Path(args.out), **kwargs)
    except (ConfigError, ShapeError, DataError) as exc:
        print(f"nnlab exercise {args.name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(result.text)  # ends with the exercise's checks
    if result.figure_path:
        print(f"wrote {result.figure_path}")
    return 0 if result.ok else 1


def _run_options(p: argparse.ArgumentParser, scope: str, out_help: str) -> None:
    """The options ``run`` and ``sweep`` share; ``scope`` says what they apply to."""
    p.add_argument("--preset", help=f"a named set of settings for {scope}, e.g. 'seed' (the homework's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help=f"override one setting for {scope} (repeatable)")
    p.add_argument("--smoke", action="store_true", help=f"tiny synthetic data for {scope}: checks the pipeline in seconds")
    p.add_argument("--out", help=out_help)
    p.add_argument("--data-dir", help="where the data sets are (only there; default: NNLAB_DATA, then the cache)")
    p.add_argument("--threads", type=int, help=f"CPU threads (BLAS and torch) for {scope} (default: all cores)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help=f"where a torch-engine experiment trains for {scope} (default auto: CUDA when available)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnlab",
        description="A neural-network lab: NumPy engine, real data, and every curve a report needs.",
    )
    parser.add_argument("--version", action="version", version=f"nnlab {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("summary", help="print the summary of a network given as a YAML/JSON spec or a model name",
                       description="Build the network described by SPEC and print each layer, its output"
                                   " shape, activation, initialisation and parameter count.")
    p.add_argument("spec", help="YAML or JSON file with input_shape and layers (see examples/), or a model"
                                " name from `nnlab models`")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--plot", metavar="FILE", help="also draw the network (boxes, shapes, parameters, skip"
                                                  " connections) into FILE: .png, .svg or .pdf")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("list", help="list the experiments, one line each",
                       description="Every registered experiment: name, engines, what it does, its presets.")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run an experiment into its own folder (config, history, metrics, figures, report)",
                       description="Run experiment NAME: defaults, then --preset, then --config YAML, then --set"
                                   " KEY=VALUE. Writes runs/NAME/TIMESTAMP/ (or --out) with the resolved config,"
                                   " history.csv, metrics.json, the model, run.log, figures and report.html/.md.")
    p.add_argument("name", nargs="?", help="the experiment (`nnlab list`); optional with --resume")
    _run_options(p, "the run", "the run folder (default runs/NAME/TIMESTAMP); an unfinished run there is"
                               " continued from its checkpoints when the settings are the same")
    p.add_argument("--config", help="YAML file of settings")
    p.add_argument("--engine", choices=["numpy", "torch"])
    p.add_argument("--force", action="store_true", help="start over in --out, even over a finished run")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted or killed run with its own settings, from the last checkpoint of"
                        " the training phase it was in")
    p.add_argument("--dry-run", action="store_true",
                   help="resolve and check every setting, print them, and stop (no data read, no run folder)")
    p.add_argument("--tensorboard", action="store_true",
                   help="also log for TensorBoard into RUN/tensorboard/ (curves, weight and gradient histograms,"
                        " settings, figures): `tensorboard --logdir runs`; needs pip install -e \".[tensorboard]\"")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("lr-find", help="sweep the learning rate on an experiment's network and plot the loss",
                       description="The learning-rate finder (Smith 2015; fastai's lr_find): the experiment runs up"
                                   " to its first training phase (or --phase), then a copy of that phase's model"
                                   " trains for --steps steps while the learning rate grows exponentially from"
                                   " --start-lr to --end-lr; the loss of each step is plotted with the suggested"
                                   " rate. Nothing is trained for real and no run folder is written.")
    p.add_argument("name", help="the experiment (`nnlab list`)")
    _run_options(p, "the sweep", "the figure to write (.png, .svg or .pdf; default lr-find-NAME-PHASE.png), with"
                                 " its numbers in a .json beside it")
    p.add_argument("--config", help="YAML file of settings")
    p.add_argument("--engine", choices=["numpy", "torch"])
    p.add_argument("--phase", help="the training phase to sweep (default: the first); earlier phases train as usual")
    p.add_argument("--steps", type=int, default=100, help="steps of the sweep (default 100)")
    p.add_argument("--start-lr", type=float, default=1e-7, help="the first learning rate (default 1e-7)")
    p.add_argument("--end-lr", type=float, default=10.0, help="the last learning rate (default 10)")
    p.set_defaults(func=cmd_lr_find)

    p = sub.add_parser("config", help="list an experiment's settings: key, value, type and what it does",
                       description="Print every setting of experiment NAME with its value (after --preset,"
                                   " --config and --set), its default where it differs, its type and its comment.")
    p.add_argument("name")
    p.add_argument("--preset", help="show the settings under this preset, e.g. 'seed'")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one setting (repeatable)")
    p.add_argument("--config", help="YAML file of settings")
    p.add_argument("--smoke", action="store_true", help="show the smoke settings")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("runs", help="list past runs with their status, start time and wall time",
                       description="List every run folder under ROOT (default runs/), oldest first: when it"
                                   " started, the experiment, its status (ok, failed, interrupted, running, incomplete: killed),"
                                   " its wall time and folder. --clean removes the failed, interrupted and incomplete (killed) ones.")
    p.add_argument("root", nargs="?", default="runs")
    p.add_argument("--clean", action="store_true", help="delete the folders of failed, interrupted and killed runs")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("report", help="rebuild a run's report, or compare several runs",
                       description="With one RUN_DIR, rebuild its report.html and report.md. With several, write"
                                   " a comparison (metrics side by side, curves overlaid) into --out.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", help="folder of the comparison (default runs/compare/TIMESTAMP)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("sweep", help="run an experiment over a grid of settings (Optuna), with one report",
                       description="Run experiment NAME once per point of the --grid (every combination), each"
                                   " into SWEEP/trials/KEY=VALUE,.../, and write SWEEP/report.html, report.md and"
                                   " results.csv (best first). SWEEP is runs/sweeps/NAME/TIMESTAMP or --out; the"
                                   " same command with the same --out continues a stopped sweep.")
    p.add_argument("name")
    p.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2,...",
                   help="a setting and its values, read like --set (repeatable; lists as [8, 8],[16])")
    p.add_argument("--workers", type=int, default=1, help="local worker processes sharing the study (default 1)")
    p.add_argument("--storage", help="Optuna database URL shared by workers on many machines (default: SQLite"
                                     " file SWEEP/study.db)")
    p.add_argument("--study", help="the study's name in the storage (default NAME-FOLDER; with --storage, NAME and"
                                   " a digest of the grid and settings, the same on every machine)")
    p.add_argument("--metric", help="NAME:min or NAME:max to optimise (default: the experiment's objective)")
    _run_options(p, "every point", "the sweep folder (default runs/sweeps/NAME/TIMESTAMP)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("book", help="the lab book: every seed homework answered from the newest runs",
                       description="Write one self-contained HTML lab book (and its Markdown twin) with a chapter"
                                   " per seed homework (000-004) and one beyond them. Each question is answered"
                                   " from the newest finished run of its experiment under --runs-dir (or the"
                                   " RUN_DIRs named), with the seed's number beside nnlab's seed-preset and"
                                   " default numbers. --smoke first runs every experiment on tiny synthetic"
                                   " data and builds the book from those runs.")
    p.add_argument("runs", nargs="*", metavar="RUN_DIR", help="use these runs (newest of each experiment/preset"
                                                              " otherwise)")
    p.add_argument("--out", help="folder of the book (default runs/book, or runs/book-smoke with --smoke)")
    p.add_argument("--runs-dir", default="runs", help="where to look for runs and sweeps (default runs)")
    p.add_argument("--smoke", action="store_true", help="run every experiment with --smoke first (about a minute)")
    p.add_argument("--jobs", type=int, default=2, help="smoke runs side by side (default 2)")
    p.add_argument("--data-dir", help="where the data sets are (the batch-normalisation answer reads CIFAR-10)")
    p.add_argument("--results", default=BOOK_RESULTS,
                   help=f"the benchmarks' results folder, for sweeps and probes no run folder holds (default"
                        f" {BOOK_RESULTS}, when it exists; not read with --smoke)")
    p.set_defaults(func=cmd_book)

    p = sub.add_parser("models", help="list the model definitions with their parameter counts",
                       description="Every network of nnlab.models at its default size: name, parameters,"
                                   " input shape and what it is.")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("gradcheck", help="check a spec network's gradients against finite differences",
                       description="Compare the engine's backward pass with central differences in"
                                   " float64 for every parameter and the input.")
    p.add_argument("spec")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=4)
    p.set_defaults(func=cmd_gradcheck)

    p = sub.add_parser("exercise", help="the worked exercises of the seeds: numbers and a figure",
                       description="Compute a worked exercise (convolution, backprop, dilation, ...), print"
                                   " every number and the checks, and write its figure. Without NAME: the list.")
    p.add_argument("name", nargs="?")
    p.add_argument("--out", default="runs/exercises", help="folder for the figure (default runs/exercises)")
    p.add_argument("--filters", metavar="FILE|VALUES",
                   help="conv-pool's filters: .npy, .txt/.csv (filters stacked), .yaml/.json (a nested list),"
                        " or the nested list inline, e.g. '[[0,1,0],[1,-4,1],[0,1,0]]'")
    p.add_argument("--image", metavar="FILE|VALUES",
                   help="the 2-D image of conv-pool or deconv-projection, in the same forms as --filters")
    p.add_argument("--data-dir", help="where CIFAR-10 is, for batchnorm and deconv-projection (default: NNLAB_DATA,"
                                      " then the cache; without it they use synthetic images)")
    p.set_defaults(func=cmd_exercise)

    data = sub.add_parser("data", help="list, look at and fetch the data sets",
                          description="Data sets are looked for in --data-dir, then $NNLAB_DATA, then the"
                                      " user's cache folder.")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="folder holding the data sets (before $NNLAB_DATA)")
    p = data_sub.add_parser("list", parents=[common], help="every known data set and where it was found")
    p.set_defaults(func=cmd_data_list)
    p = data_sub.add_parser("show", parents=[common], help="a PNG grid of samples per class and a class-count chart")
    p.add_argument("name")
    p.add_argument("--split", default=None, help="default: the data set's first split")
    p.add_argument("--per-class", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default runs/data/NAME)")
    p.set_defaults(func=cmd_data_show)
    p = data_sub.add_parser("fetch", parents=[common], help="download a public data set into the cache (checksummed)")
    p.add_argument("name")
    p.set_defaults(func=cmd_data_fetch)
    return parser


def _stop_on_signal(signum: int, _frame: Any) -> None:
    """SIGTERM (a scheduler's kill, ``timeout``): unwind like Ctrl-C, so that a run still writes
    its metrics (status ``interrupted``, with the signal named), its report and its last checkpoint."""
    raise Stopped(f"stopped by {signal.Signals(signum).name}")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        signal.signal(signal.SIGTERM, _stop_on_signal)
    except ValueError:  # not the main thread (main() called from a thread): keep the default
        pass
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(-1 if args.quiet else args.verbose)
    from nnlab.process import tune_malloc

    tune_malloc()   # for the whole process, before any training allocates (NNLAB_MALLOC=default: off)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # e.g. `nnlab data list | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CLIError as exc:  # one line (or one listing of missing files), status 2
        _say(exc)
        raise
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: one line, 130 (143 for SIGTERM)
        _say(f"nnlab: {str(exc) or 'interrupted (Ctrl-C)'}")   # a bare Ctrl-C has no message of its own
        return 143 if isinstance(exc, Stopped) else 130
    except Exception as exc:
        from nnlab.errors import NNLabError

        if args.verbose:
            raise
        if isinstance(exc, NNLabError):  # a data, config, shape or weights error that names its file or key
            _say(f"nnlab: {exc}")
            return 2
        _say(f"nnlab: {type(exc).__name__}: {' '.join(str(exc).split())} (run with -v for the traceback)")
        return 1


def _say(message: Any) -> None:
    """An error line on stderr; under ``torchrun`` from the main process only (every process meets
    the same bad setting, and one line is enough; the others keep their exit status)."""
    if os.environ.get("RANK", "0") == "0":
        print(message, file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
