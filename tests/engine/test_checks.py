"""Layer arguments are checked as PyTorch checks them, and parameters that cannot fit are refused
before anything is allocated."""

import numpy as np
import pytest

from nnlab.engine import ConfigError, Conv2d, Linear, MaxPool2d, Sequential
from nnlab.engine import errors


@pytest.mark.parametrize("make, message", [
    (lambda: Linear(4, 2.5), "Linear out_features must be an integer, got 2.5"),
    (lambda: Linear(4, "abc"), "Linear out_features must be an integer, got 'abc'"),
    (lambda: Linear(4, True), "must be an integer, got True"),
    (lambda: Linear(4, 0), "must be >= 1"),
    (lambda: Conv2d(1, 8, 2.5), "kernel_size must be an integer, got 2.5"),
    (lambda: Conv2d(1, 8.5, 3), "out_channels must be an integer"),
    (lambda: MaxPool2d("two"), "kernel_size must be an integer"),
])
def test_non_integer_sizes_are_refused_not_truncated(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_whole_numbers_of_any_kind_are_sizes():
    assert Linear(4, 2.0).out_features == 2 and Linear(4, np.int64(3)).out_features == 3


def test_a_parameter_that_cannot_fit_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(errors, "available_memory", lambda: 1 << 20)            # 1 MiB free
    with pytest.raises(ConfigError, match=r"shape \(100000, 4\) needs .* GiB, more than the 0.0 GiB"):
        Sequential([Linear(4, 100_000)], input_shape=(4,))
    Sequential([Linear(4, 10)], input_shape=(4,))                             # a small one still builds
