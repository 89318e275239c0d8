"""The worked exercises of the seeds, as library functions (MISSION.md part B).

Every exercise has a module of its own: the convolution family (seeds 000 Q2/Q3, 003 Q1/Q3/Q4)
``conv_pool``, ``conv_backprop``, ``conv1d_network``, ``dilation``, ``equivariance`` and
``transposed_conv``, each computing its numbers twice, by hand (the seeds' sums and loops) and
with the NumPy engine on its readable loop kernels, checked against each other and, for gradients,
against finite differences (what they share is in ``numbers``); and the theory questions ``why_conv``
(001 Q1), ``batchnorm`` (001 Q2), ``residual`` (001 Q3), ``deconv`` (003 Q2) and
``receptive_field`` (003 Q4.1).

Each exercise is a function returning an :class:`ExerciseResult` (``name``, ``title``, ``text``,
``values``, ``checks``, ``figure()``); :data:`EXERCISES` maps the CLI names to them and
:func:`run` computes one and saves its figure.

>>> from nnlab.exercises import run
>>> result = run("conv-pool")
>>> result.values["pooled"][0].tolist()  # the identity filter's pooled map
[[6.0, 5.0], [6.0, 5.0]]
>>> all(result.checks.values())
True
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnlab.errors import ConfigError
from nnlab.exercises.base import ExerciseResult
from nnlab.exercises.batchnorm import batchnorm
from nnlab.exercises.conv1d_network import conv1d_network
from nnlab.exercises.conv_backprop import conv_backprop
from nnlab.exercises.conv_pool import conv_pool
from nnlab.exercises.dilation import dilation
from nnlab.exercises.equivariance import equivariance
from nnlab.exercises.transposed_conv import transposed_conv
from nnlab.exercises.deconv import deconv_projection
from nnlab.exercises.receptive_field import receptive_field, receptive_field_exercise
from nnlab.exercises.residual import residual_gradients
from nnlab.exercises.why_conv import why_conv

log = logging.getLogger(__name__)

#: CLI name -> exercise function (its docstring's first line is the one-line description)
EXERCISES: dict[str, Callable[..., ExerciseResult]] = {
    "conv-pool": conv_pool,
    "conv-backprop": conv_backprop,
    "conv1d-network": conv1d_network,
    "dilation": dilation,
    "equivariance": equivariance,
    "transposed-conv": transposed_conv,
    "why-conv": why_conv,
    "batchnorm": batchnorm,
    "residual-gradients": residual_gradients,
    "receptive-field": receptive_field_exercise,
    "deconv-projection": deconv_projection,
}


def run(name: str, out_dir: str | Path | None = None, **kwargs: Any) -> ExerciseResult:
    """Compute the exercise ``name`` (keyword arguments go to its function); with ``out_dir``,
    save its figure as ``out_dir/NAME.png`` (creating the folder) and set ``figure_path``."""
    fn = EXERCISES.get(name)
    if fn is None:
        raise ConfigError(f"unknown exercise {name!r}; known: {', '.join(EXERCISES)}")
    result = fn(**kwargs)
    failed = [claim for claim, ok in result.checks.items() if not ok]
    if failed:
        log.warning("exercise %s: %d check(s) failed: %s", name, len(failed), "; ".join(failed))
    if out_dir is not None:
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        fig = result.figure()
        fig.savefig(path)
        result.figure_path = path
        log.info("exercise %s: figure written to %s", name, path)
    return result


__all__ = [
    "EXERCISES",
    "ExerciseResult",
    "batchnorm",
    "conv1d_network",
    "conv_backprop",
    "conv_pool",
    "deconv_projection",
    "dilation",
    "equivariance",
    "receptive_field",
    "receptive_field_exercise",
    "residual_gradients",
    "run",
    "transposed_conv",
    "why_conv",
]
