import math

import numpy as np
import pytest

from nnlab.engine import ConfigError, Dense, Sequential, init


@pytest.mark.parametrize("name, std", [("tiny", 1e-3), ("small", 1e-2), ("large", 1e-1)])
def test_seed_scales(name, std):
    w = init.initialize(name, (400, 300), np.random.default_rng(0))
    assert w.dtype == np.float32
    assert abs(w.std() - std) / std < 0.02
    assert abs(w.mean()) < std * 0.02


def test_zeros_and_constant():
    assert not init.initialize("zeros", (3, 4), np.random.default_rng(0)).any()
    c = init.initialize({"name": "constant", "value": 0.25}, (3, 4), np.random.default_rng(0), np.float64)
    assert c.dtype == np.float64 and np.all(c == 0.25)


def test_fan_based_scales():
    rng = np.random.default_rng(0)
    fan_in, fan_out = 500, 200
    shape = (fan_out, fan_in)
    assert abs(init.initialize("he_normal", shape, rng).std() - math.sqrt(2 / fan_in)) < 2e-3
    a = math.sqrt(6 / (fan_in + fan_out))
    w = init.initialize("xavier_uniform", shape, rng)
    assert w.max() <= a and w.min() >= -a and w.max() > 0.98 * a
    assert abs(init.initialize("xavier_normal", shape, rng).std() - math.sqrt(2 / (fan_in + fan_out))) < 2e-3
    b = math.sqrt(6 / fan_in)
    w = init.initialize("he_uniform", shape, rng)
    assert w.max() <= b and w.max() > 0.98 * b
    w = init.initialize("torch_default", shape, rng)
    assert w.max() <= 1 / math.sqrt(fan_in) and w.max() > 0.98 / math.sqrt(fan_in)


def test_conv_fans_follow_torch():
    assert init.fans((32, 16, 3, 3)) == (16 * 9, 32 * 9)


def test_same_generator_state_gives_same_weights_and_no_global_state():
    np.random.seed(0)
    a = Sequential([Dense(5), Dense(2)], input_shape=(3,), seed=7).state_dict()
    np.random.seed(99)  # global state must not matter
    b = Sequential([Dense(5), Dense(2)], input_shape=(3,), seed=7).state_dict()
    c = Sequential([Dense(5), Dense(2)], input_shape=(3,), seed=8).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["0.weight"], c["0.weight"])


def test_auto_init_depends_on_activation():
    assert Dense(3, "relu").init["name"] == "he_normal"
    assert Dense(3, "tanh").init["name"] == "xavier_uniform"


@pytest.mark.parametrize("spec", ["nope", {"name": "normal", "sd": 1}, {"std": 1}, 3, {"name": "small", "std": 2}])
def test_bad_init_specs_name_the_problem(spec):
    with pytest.raises(ConfigError):
        init.normalize(spec)


def test_describe():
    assert init.describe("small") == "small N(0,0.01^2)"
    assert init.describe({"name": "normal", "std": 0.05}) == "normal(std=0.05)"
