"""Layer arguments are checked as PyTorch checks them, and parameters that cannot fit are refused
before anything is allocated."""

import numpy as np
import pytest

from nnlab.engine import ConfigError, Conv2d, Linear, MaxPool2d, Sequential, checks


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
    monkeypatch.setattr(checks, "available_memory", lambda: 1 << 20)            # 1 MiB free
    with pytest.raises(ConfigError, match=r"shape \(100000, 4\) needs .* GiB, more than the 0.0 GiB"):
        Sequential([Linear(4, 100_000)], input_shape=(4,))
    Sequential([Linear(4, 10)], input_shape=(4,))                             # a small one still builds


def test_padding_by_name_as_pytorch_names_it():
    from nnlab.engine import ShapeError, Upsample

    x = np.ones((1, 1, 5, 5), np.float32)
    valid = Sequential([Conv2d(1, 2, 3, padding="valid")], input_shape=(1, 5, 5), seed=0)
    same = Sequential([Conv2d(1, 2, 3, padding="same")], input_shape=(1, 5, 5), seed=0)
    assert valid.forward(x).shape == (1, 2, 3, 3) and same.forward(x).shape == (1, 2, 5, 5)
    with pytest.raises(ConfigError, match="padding must be an integer, a pair, 'same' or 'valid'"):
        Conv2d(1, 2, 3, padding="full")
    with pytest.raises(ConfigError, match="scale_factor must be an integer"):
        Upsample(scale_factor=1.5)
    with pytest.raises(ShapeError, match="gives an empty output"):           # a window larger than its input
        Sequential([MaxPool2d(7)], input_shape=(1, 5, 5))


@pytest.mark.parametrize("kernels", ["vectorized", "reference"])
def test_nan_inputs_propagate_as_in_pytorch(kernels):
    x = np.ones((1, 1, 4, 4), np.float32)
    x[0, 0, 0, 0] = np.nan
    pooled = Sequential([MaxPool2d(2, kernels=kernels)], input_shape=(1, 4, 4)).forward(x)[0, 0]
    assert np.isnan(pooled[0, 0]) and not np.isnan(pooled[1:, :]).any() and not np.isnan(pooled[0, 1])
    conv = Sequential([Conv2d(1, 1, 2, kernels=kernels)], input_shape=(1, 4, 4), seed=0).forward(x)[0, 0]
    assert np.isnan(conv[0, 0]) and np.isnan(conv).sum() == 1                 # only the windows that see it
