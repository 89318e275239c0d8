"""The engine's threads: work split over the batch gives the same numbers as one thread."""

import logging
import threading

import numpy as np
import pytest

from nnlab.engine import BatchNorm2d, Dense, Sequential, optim, threads
from nnlab.engine.functional import vectorized


@pytest.fixture
def split_everything(monkeypatch):
    """Split even the tiny arrays of these tests, over 3 threads."""
    monkeypatch.setattr(threads, "MIN_PARALLEL", 1)
    previous = threads.set_threads(3)
    yield
    threads.set_threads(previous)


def test_ranges_cover_the_batch_in_order():
    assert threads.ranges(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert threads.ranges(2, 4) == [(0, 1), (1, 2)]
    assert threads.ranges(5, 1) == [(0, 5)]


def test_split_runs_the_pieces_on_several_threads_and_keeps_their_order(split_everything):
    seen = {}
    out = threads.split(lambda lo, hi: seen.setdefault(lo, threading.current_thread().name) and (lo, hi), 9, work=9)
    assert out == [(0, 3), (3, 6), (6, 9)]
    assert seen[0] == threading.current_thread().name                  # the caller takes the first piece
    assert seen[3].startswith("nnlab-engine") and seen[6].startswith("nnlab-engine")


def test_small_work_stays_on_the_calling_thread(monkeypatch):
    previous = threads.set_threads(2)
    try:
        names = threads.split(lambda lo, hi: threading.current_thread().name, 100, work=threads.MIN_PARALLEL - 1)
        assert names == [threading.current_thread().name]
    finally:
        threads.set_threads(previous)


def test_an_error_in_a_piece_is_raised_after_every_piece_ended(split_everything):
    done = []

    def piece(lo, hi):
        if lo == 3:
            raise ValueError("bad piece")
        done.append(lo)

    with pytest.raises(ValueError, match="bad piece"):
        threads.split(piece, 9, work=9)
    assert sorted(done) == [0, 6]


def test_bad_thread_counts_are_refused():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match=">= 1"):
            threads.set_threads(bad)


def test_default_follows_the_environment(monkeypatch, caplog):
    previous = threads.set_threads(None)
    try:
        monkeypatch.setenv("NNLAB_ENGINE_THREADS", "3")
        assert threads.num_threads() == 3
        monkeypatch.delenv("NNLAB_ENGINE_THREADS")
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert threads.num_threads() == 1
        monkeypatch.setenv("NNLAB_ENGINE_THREADS", "two")             # a typo: said, then the next setting
        with caplog.at_level(logging.WARNING, logger="nnlab.engine.threads"):
            assert threads.num_threads() == 1
        assert "NNLAB_ENGINE_THREADS='two' is not a whole number" in caplog.text
    finally:
        threads.set_threads(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_is_bit_identical_on_one_thread_and_three(rng, monkeypatch, dtype, training):
    monkeypatch.setattr(threads, "MIN_PARALLEL", 1)
    x = (rng.standard_normal((11, 4, 5, 6)) * 3 + 2).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    results = []
    for n in (1, 3):
        threads.set_threads(n)
        bn = BatchNorm2d(4)
        bn.build(x.shape[1:], np.random.default_rng(0), np.dtype(dtype))
        bn._params["weight"].data[:] = np.linspace(0.5, 2, 4)
        bn._params["bias"].data[:] = np.linspace(-1, 1, 4)
        bn._buffers["running_mean"][:] = 0.3
        bn.train(training)
        y = bn.forward(x)
        dx = bn.backward(g)
        results.append((y, dx, bn._params["weight"].grad.copy(), bn._params["bias"].grad.copy(),
                        bn._buffers["running_var"].copy()))
    threads.set_threads(None)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_adam_and_max_pooling_are_bit_identical_on_one_thread_and_three(rng, monkeypatch):
    monkeypatch.setattr(threads, "MIN_PARALLEL", 1)
    monkeypatch.setattr(optim, "CHUNK", 7)                 # many chunks, so that the threads share them
    x = rng.standard_normal((12, 5)).astype(np.float32)
    y = rng.standard_normal((12, 3)).astype(np.float32)
    images = rng.standard_normal((9, 3, 6, 8)).astype(np.float32)
    results = []
    for n in (1, 3):
        threads.set_threads(n)
        model = Sequential([Dense(6, "relu"), Dense(3)], input_shape=(5,), seed=1, dtype="float32")
        model.compile("mse", {"name": "adam", "lr": 1e-2, "weight_decay": 1e-3})
        model.fit(x, y, epochs=3, batch_size=4)
        pooled, argmax = vectorized.maxpool2d_forward(images, (3, 2), (2, 2), (1, 0))
        results.append((model._flat_data.copy(), pooled, argmax))
    threads.set_threads(None)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
