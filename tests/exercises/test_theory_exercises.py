"""The theory exercises of seeds 001 and 003 (why-conv, batchnorm, residual-gradients,
receptive-field, deconv-projection) and the command-line array reader: key numbers by hand, and
checks that fail when the engine breaks. (conv1d-network's closed forms are tested in
test_exercises.py, which computes that exercise once for all its tests.)"""

import importlib
import json

import numpy as np
import pytest

from nnlab.engine import BatchNorm2d, ConfigError, ShapeError
from nnlab.exercises import EXERCISES
from nnlab.exercises.deconv import synthetic_image, unpool
from nnlab.exercises.inputs import as_filters, exercise_inputs, read_array
from nnlab.exercises.receptive_field import measured_field, receptive_field
from nnlab.exercises.why_conv import conv_params, dense_params, local_params

# the package exports the exercise function batchnorm, which hides the module of the same name
bn_module = importlib.import_module("nnlab.exercises.batchnorm")


@pytest.fixture(scope="module")
def results():
    names = ["why-conv", "batchnorm", "residual-gradients", "receptive-field", "deconv-projection"]
    return {name: EXERCISES[name]() for name in names}


# -- receptive-field ----------------------------------------------------------------------------
@pytest.mark.parametrize("K", [3, 5, 7])
@pytest.mark.parametrize("n", [1, 2, 4, 6])
def test_receptive_field_of_stacked_convolutions(K, n):
    assert receptive_field([(K, 1, 1)] * n) == 1 + n * (K - 1)


def test_receptive_field_with_strides_pooling_and_dilation():
    assert receptive_field([(3,)]) == 3  # seed 003 Q4.1: one K x K layer sees K
    assert receptive_field([(3, 1, 1), (3, 2, 1), (3, 1, 1)]) == 9  # 3, then 5, then 5 + 2 * 2
    assert receptive_field([(3, 1, 2 ** i) for i in range(4)]) == 31  # 2^(n+1) - 1
    assert receptive_field([(3, 1, 2)]) == 5  # D (K - 1) + 1
    assert receptive_field([(7, 2), (3, 2)]) == 11
    with pytest.raises(ConfigError):
        receptive_field([(3, 0, 1)])


def test_measured_field_matches_the_recurrence_and_shows_holes():
    m = measured_field([("conv", (3, 1, 2))])
    assert m["extent"] == m["extent_rows"] == 5 and m["taps"] == 3  # a dilated kernel alone has holes
    m = measured_field([("conv", (3, 1, 1)), ("pool", (2, 2, 1)), ("conv", (3, 1, 1))])
    assert m["extent"] == m["formula"] == 1 + 2 + 1 + 2 * 2


def test_receptive_field_exercise_table(results):
    r = results["receptive-field"]
    assert len(r.values["table"]) == 18
    for row in r.values["table"]:
        assert row["engine"] == row["engine_rows"] == 1 + row["depth"] * (row["K"] - 1)
    assert "1 + n (K - 1)" in r.text


# -- why-conv -----------------------------------------------------------------------------------
def test_why_conv_counts(results):
    rows = results["why-conv"].values["rows"]
    cifar = rows[0]
    assert cifar["input"] == (1, 32, 32) and cifar["output"] == (32, 32, 32)
    assert cifar["conv"] == cifar["conv_engine"] == 32 * 9 + 32 == 320
    assert cifar["dense"] == cifar["dense_engine"] == 1024 * 32768 + 32768 == 33_587_200
    assert cifar["local"] == 1024 * 32 * 9 + 32768
    vgg = rows[-1]
    assert vgg["dense_engine"] is None and vgg["dense"] == 49152 * 262144 + 262144  # formula only: 12.9 G
    assert conv_params(3, 64, 3) == 1792 and dense_params(3, 32, 32, 64) == 3072 * 65536 + 65536
    assert local_params(1, 2, 2, 1, 3) == 4 * 9 + 4
    assert "33.6 M" in results["why-conv"].text


def test_why_conv_matrix_is_sparse_and_tied(results):
    v = results["why-conv"].values
    M = v["conv_matrix"]
    assert M.shape == (72, 36)
    assert v["conv_matrix_distinct"] == 18 and set(np.unique(M[M != 0])) == set(v["conv_matrix_weight"].ravel())
    assert v["equivariance_conv"] == 0 and v["equivariance_local"] > 0.1


# -- batchnorm ----------------------------------------------------------------------------------
def test_batchnorm_normalises_each_channel(results):
    v = results["batchnorm"].values
    np.testing.assert_allclose(v["z_hat_mean"], 0, atol=1e-12)
    np.testing.assert_allclose(v["z_hat_var"], 1, atol=1e-2)
    np.testing.assert_allclose(v["z_hat_var"], v["var"] / (v["var"] + 1e-5), rtol=1e-10)
    np.testing.assert_allclose(v["y_mean"], v["beta"], atol=1e-9)
    np.testing.assert_allclose(v["y_std"], v["gamma"], rtol=1e-2)
    # the running statistics: an exponential moving average from (0, 1), momentum 0.1
    assert v["running_mean"].shape == (v["batches"] + 1, len(v["gamma"]))
    np.testing.assert_array_equal(v["running_mean"][0], 0)
    np.testing.assert_array_equal(v["running_var"][0], 1)
    np.testing.assert_allclose(v["engine_running_mean"], v["running_mean"], atol=1e-12)
    assert v["eval_train_max_diff"] > 0 and v["train_batch_dependence"] > 1e-6
    assert "synthetic" in v["source"]


def test_batchnorm_on_given_images():
    images = np.random.default_rng(3).uniform(0, 1, (40, 2, 8, 8))
    r = EXERCISES["batchnorm"](images=images, batch_size=8, source="forty random images")
    assert r.ok, r.text
    assert r.values["batches"] == 5 and r.values["z"].shape == (8, 6, 8, 8)
    assert "forty random images" in r.text
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        EXERCISES["batchnorm"](images=images * 255)
    with pytest.raises(ConfigError, match="at least 2 batches"):
        EXERCISES["batchnorm"](images=images[:10], batch_size=8)
    with pytest.raises(ShapeError):
        EXERCISES["batchnorm"](images=images[:, 0])


def test_batchnorm_detects_a_broken_layer(monkeypatch):
    class Off(BatchNorm2d):
        def forward(self, x):
            return super().forward(x) + 1e-3

    monkeypatch.setattr(bn_module, "BatchNorm2d", Off)
    r = EXERCISES["batchnorm"](batches=4)
    assert r.checks["engine BatchNorm2d (training) == (z - mean) / sqrt(var + eps) * gamma + beta"] is False
    assert not r.ok


def test_batchnorm_on_cifar_horses(data_dir):
    images, source = bn_module.cifar_horses(data_dir, n=64)
    assert images.shape == (64, 3, 32, 32) and 0 <= images.min() and images.max() <= 1
    r = EXERCISES["batchnorm"](images=images, source=source, batches=4)
    assert r.ok and "CIFAR-10 training horses" in r.text
    r = EXERCISES["batchnorm"](data_dir=data_dir, batches=4)  # what the lab book calls
    assert r.ok and r.values["source"].startswith("64 CIFAR-10 training horses")


# -- residual-gradients -------------------------------------------------------------------------
def test_residual_keeps_the_gradient_the_plain_net_loses(results):
    v = results["residual-gradients"].values
    plain, res = v["plain"], v["residual"]
    assert len(plain["weight_grad"]) == len(res["weight_grad"]) == 24
    assert v["plain_signal_ratio"] < 1e-6  # sigmoid: vanished over 24 layers
    assert v["residual_signal_ratio"] > 0.5  # the identity path keeps it
    assert res["weight_grad"][0] > 1e3 * plain["weight_grad"][0]  # as measured: about 2e15 times
    assert v["identity_max_diff"] < 1e-12 and v["paths_max_diff"] < 1e-10
    assert v["path_counts"][2] == 276 and v["short_paths_90"] < 6  # mostly short paths (Veit et al.)
    assert "Veit" in results["residual-gradients"].text


def test_residual_other_activations_and_errors():
    r = EXERCISES["residual-gradients"](activation="tanh", depth=8, width=8, batch=8)
    assert r.ok, r.text
    assert len(r.values["plain"]["weight_grad"]) == 8
    with pytest.raises(ConfigError):
        EXERCISES["residual-gradients"](activation="softplus")


# -- deconv-projection --------------------------------------------------------------------------
def test_deconv_projection_numbers(results):
    v = results["deconv-projection"].values
    (r0, r1), (c0, c1) = v["field_box"]
    assert v["receptive_field"] == 12 == r1 - r0 + 1 == c1 - c0 + 1
    inside = np.zeros_like(v["projection"], dtype=bool)
    inside[max(r0, 0) : r1 + 1, max(c0, 0) : c1 + 1] = True
    assert np.any(v["projection"][inside]) and not np.any(v["projection"][~inside])
    assert v["gradient_max_diff"] < 1e-12 and v["fraction_differing"] > 0  # they differ only in the ReLU rule
    assert v["activation"] > 0 and v["unit"][0] in (0, 1, 2)


def test_deconv_projection_on_a_given_image():
    img = np.zeros((16, 16))
    img[:, 8:] = 1.0  # one vertical edge, dark | bright
    r = EXERCISES["deconv-projection"](image=img)
    assert r.ok, r.text
    assert r.values["unit"][0] in (0, 2)  # a unit built from the vertical-edge channel fires
    with pytest.raises(ShapeError):
        EXERCISES["deconv-projection"](image=np.ones(5))
    with pytest.raises(ShapeError, match="no layer-2 unit"):
        EXERCISES["deconv-projection"](image=np.zeros((16, 16)))  # nothing to see


def test_unpool_puts_values_at_the_switches():
    signal = np.array([[[[5.0, 7.0]]]])
    switches = np.array([[[[3, 6]]]])  # flat indices into a 2 x 4 plane: (0, 3) and (1, 2)
    out = unpool(signal, switches, (1, 1, 2, 4))
    np.testing.assert_array_equal(out[0, 0], [[0, 0, 0, 5], [0, 0, 7, 0]])
    assert synthetic_image().shape == (32, 32)


# -- the command line's arrays ------------------------------------------------------------------
def test_read_array_from_every_format(tmp_path):
    filt = np.stack([np.eye(3), np.ones((3, 3))])
    np.save(tmp_path / "f.npy", filt)
    np.savetxt(tmp_path / "f.txt", filt.reshape(6, 3))
    np.savetxt(tmp_path / "f.csv", filt.reshape(6, 3), delimiter=",")
    (tmp_path / "f.yaml").write_text("- [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\n- [[1, 1, 1], [1, 1, 1], [1, 1, 1]]\n")
    (tmp_path / "f.json").write_text(json.dumps(filt.tolist()))
    for name in ("f.npy", "f.txt", "f.csv", "f.yaml", "f.json"):
        arr = read_array(str(tmp_path / name), "--filters")
        np.testing.assert_array_equal(as_filters(arr, name), filt)
    np.testing.assert_array_equal(read_array("[[1, 2], [3, 4]]", "--image"), [[1, 2], [3, 4]])
    assert as_filters(np.eye(3), "x").shape == (1, 3, 3)


def test_read_array_errors_name_the_option_and_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"--filters .*nope.npy: file not found"):
        read_array(str(tmp_path / "nope.npy"), "--filters")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(ConfigError, match="obj.npy: cannot read it"):
        read_array(str(tmp_path / "obj.npy"), "--filters")
    (tmp_path / "f.png").write_bytes(b"x")
    with pytest.raises(ConfigError, match="unknown file type '.png'"):
        read_array(str(tmp_path / "f.png"), "--image")
    with pytest.raises(ConfigError, match="not a rectangular array"):
        read_array("[[1, 2], [3]]", "--image")
    with pytest.raises(ConfigError, match=r"got shape \(3, 2\)"):
        as_filters(np.ones((3, 2)), "--filters x")
    with pytest.raises(ConfigError, match="--image applies to"):
        exercise_inputs("why-conv", image="[[1]]")


def test_batchnorm_data_dir_falls_back_to_the_synthetic_batch(tmp_path, monkeypatch):
    monkeypatch.delenv("NNLAB_DATA", raising=False)
    r = EXERCISES["batchnorm"](data_dir=tmp_path, batches=3)
    assert r.ok, r.text
    assert "CIFAR-10 was not found" in r.values["source"] and "synthetic colour images" in r.values["source"]
