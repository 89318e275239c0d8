import json
import zipfile

import numpy as np
import pytest

from nnlab.engine import (
    ConfigError,
    Dense,
    Sequential,
    WeightsMismatchError,
    load_checkpoint,
    load_model,
    model_from_spec,
    save_model,
)
from nnlab.training import ModelCheckpoint


def trained(rng, seed=0):
    model = Sequential([Dense(6, {"name": "leaky_relu", "negative_slope": 0.2}, init="small"), Dense(2, "sigmoid")],
                       input_shape=(4,), seed=seed, name="tiny")
    model.compile("mse", {"name": "adam", "lr": 1e-2})
    model.fit(rng.standard_normal((20, 4)), rng.uniform(0, 1, (20, 2)), epochs=2, batch_size=5)
    return model


def test_round_trip(tmp_path, rng):
    model = trained(rng)
    json_path, npz_path = save_model(model, tmp_path / "model")
    assert json_path.name == "model.json" and npz_path.name == "model.npz"
    spec = json.loads(json_path.read_text())
    assert spec["input_shape"] == [4] and spec["layers"][0]["activation"] == {"name": "leaky_relu", "negative_slope": 0.2}
    loaded = load_model(tmp_path / "model.json")
    x = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.summary_rows() == model.summary_rows()
    assert not any(f.name.endswith(".tmp") for f in tmp_path.iterdir())


def test_weights_are_plain_npz_without_pickle(tmp_path, rng):
    save_model(trained(rng), tmp_path / "m")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["0.bias", "0.weight", "1.bias", "1.weight"]


def test_mismatched_weights_give_a_clear_error(tmp_path, rng):
    save_model(trained(rng), tmp_path / "m")
    spec = json.loads((tmp_path / "m.json").read_text())
    spec["layers"][1]["out_features"] = 3
    (tmp_path / "m.json").write_text(json.dumps(spec))
    with pytest.raises(WeightsMismatchError, match=r"1.weight: expected \(3, 6\), found \(2, 6\)"):
        load_model(tmp_path / "m")


def test_missing_and_unexpected_arrays(tmp_path, rng):
    model = trained(rng)
    state = model.state_dict()
    del state["1.bias"]
    state["2.weight"] = np.zeros(3)
    with pytest.raises(WeightsMismatchError, match=r"missing \['1.bias'\].*unexpected \['2.weight'\]"):
        model.load_state_dict(state)


def test_corrupt_and_missing_files(tmp_path, rng):
    save_model(trained(rng), tmp_path / "m")
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "m.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsMismatchError, match="m.npz"):
        load_model(tmp_path / "m")
    (tmp_path / "m.npz").unlink()
    with pytest.raises(FileNotFoundError, match="m.npz"):
        load_model(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="nothere.json"):
        load_model(tmp_path / "nothere")


def test_pickled_npz_is_refused(tmp_path):
    np.savez(tmp_path / "evil.npz", **{"0.weight": np.array([object()], dtype=object)})
    (tmp_path / "evil.json").write_text(json.dumps(
        {"input_shape": [1], "layers": [{"type": "Linear", "in_features": 1, "out_features": 1, "bias": False}]}))
    with pytest.raises(WeightsMismatchError, match="not a plain .npz"):
        load_model(tmp_path / "evil")


def test_refuses_to_save_nan_weights(tmp_path, rng):
    model = trained(rng)
    model.parameters()[0].data[0, 0] = np.nan
    with pytest.raises(WeightsMismatchError, match="non-finite"):
        save_model(model, tmp_path / "m")
    assert not (tmp_path / "m.npz").exists()


def test_spec_errors():
    with pytest.raises(ConfigError, match="input_shape"):
        model_from_spec({"layers": [{"type": "Linear", "out_features": 2}]})
    with pytest.raises(ConfigError, match="unknown layer type 'Conv9d'"):
        model_from_spec({"input_shape": [3], "layers": [{"type": "Conv9d"}]})
    with pytest.raises(ConfigError, match="unknown key"):
        model_from_spec({"input_shape": [3], "layers": [{"type": "Linear", "out_features": 2}], "lyrs": []})
    with pytest.raises(ConfigError, match="Linear"):
        model_from_spec({"input_shape": [3], "layers": [{"type": "Linear", "out_features": 2, "units": 3}]})


def test_checkpoint_resume_equals_uninterrupted_run(tmp_path, rng):
    x, y = rng.standard_normal((30, 4)), rng.uniform(0, 1, (30, 2))

    def fresh():
        m = Sequential([Dense(6, "tanh"), Dense(2, "sigmoid")], input_shape=(4,), seed=3, dtype="float64")
        return m.compile("mse", {"name": "adam", "lr": 1e-2})

    full = fresh()
    h_full = full.fit(x, y, epochs=6, batch_size=7)

    first = fresh()
    first.fit(x, y, epochs=3, batch_size=7, callbacks=[ModelCheckpoint(tmp_path / "ckpt-{epoch}.npz")])
    resumed = fresh()  # a new process would start here
    meta = load_checkpoint(tmp_path / "ckpt-3.npz", resumed)
    assert meta["epoch"] == 3 and len(meta["history"]) == 3
    h = resumed.fit(x, y, epochs=6, batch_size=7, initial_epoch=meta["epoch"], history=meta["history"])
    np.testing.assert_array_equal(resumed._flat_data, full._flat_data)
    assert h["loss"] == h_full["loss"] and h.epochs == list(range(1, 7))


def test_checkpoint_is_an_npz_without_pickle(tmp_path, rng):
    model = trained(rng)
    from nnlab.engine import save_checkpoint

    path = save_checkpoint(tmp_path / "c", model, epoch=2)
    assert path.suffix == ".npz"
    with zipfile.ZipFile(path) as z:
        assert "meta.npy" in z.namelist()
    with np.load(path, allow_pickle=False) as z:
        assert "optim/exp_avg/0" in z.files
