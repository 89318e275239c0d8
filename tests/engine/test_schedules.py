import math

import pytest

from nnlab.engine import (
    ConfigError,
    Constant,
    CosineWarmup,
    ExponentialDecay,
    ReduceOnPlateau,
    StepDecay,
    TimeDecay,
    make_schedule,
)


def test_constant():
    assert [Constant(0.1)(e) for e in (1, 5, 100)] == [0.1, 0.1, 0.1]


def test_time_decay_is_the_seed_formula():
    s = TimeDecay(a=0.003, n=0.5, b=1e-4)  # lr = a / epoch**n + b
    assert s(1) == pytest.approx(0.0031)
    assert s(4) == pytest.approx(0.003 / 2 + 1e-4)
    assert s(100) == pytest.approx(0.0003 + 1e-4)
    assert make_schedule({"name": "auto", "a": 0.003, "n": 0.5, "b": 1e-4})(4) == s(4)


def test_step_and_exponential():
    s = StepDecay(0.1, step_size=3, gamma=0.5)
    assert [s(e) for e in range(1, 8)] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])
    e = ExponentialDecay(0.2, gamma=0.9)
    assert [e(k) for k in (1, 2, 3)] == pytest.approx([0.2, 0.18, 0.162])


def test_cosine_with_warmup_by_hand():
    s = CosineWarmup(lr=1.0, total_epochs=7, warmup_epochs=2, min_lr=0.0)
    # warm-up: 1/2, 2/2; then cosine over epochs 3..7 at t = 0, 1/4, 1/2, 3/4, 1
    expected = [0.5, 1.0, 1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2, 0.0]
    assert [s(e) for e in range(1, 8)] == pytest.approx(expected)


def test_reduce_on_plateau_by_hand():
    s = ReduceOnPlateau(lr=1.0, factor=0.5, patience=1, min_delta=0.0)
    lrs = []
    for value in [5.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0]:
        lrs.append(s(len(lrs) + 1))
        s.update(value)
    # 4 -> no improvement twice (bad=2 > patience=1) -> halve; same after 3
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    assert s(8) == 0.25


def test_epochs_start_at_one_and_bad_specs():
    with pytest.raises(ValueError, match="from 1"):
        Constant(0.1)(0)
    with pytest.raises(ConfigError, match="unknown schedule"):
        make_schedule("warp")
    with pytest.raises(ConfigError):
        make_schedule({"name": "step", "lr": 0.1})  # step_size missing
    with pytest.raises(ConfigError):
        CosineWarmup(1.0, total_epochs=3, warmup_epochs=3)
