"""Experiments: registry entries plus typed configs, run by one shared pipeline.

``nnlab list`` shows them; ``nnlab run NAME`` runs one into its own folder (see
:mod:`nnlab.experiments.runner`); ``nnlab sweep`` runs a grid of them. Each experiment lives in
a module ``exp_*.py`` here that registers itself with :func:`experiment`.
"""

from nnlab.experiments.registry import EXPERIMENTS, Experiment, experiment, get, load_all
from nnlab.experiments.runner import RunContext, resolve_config, run_experiment

__all__ = ["EXPERIMENTS", "Experiment", "experiment", "get", "load_all", "RunContext", "resolve_config",
           "run_experiment"]
