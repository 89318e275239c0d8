"""A small, real training run for the kill-and-resume and torchrun tests (run as a script).

    python train_script.py OUT.npz [--checkpoint PATH] [--epochs N] [--slow SECONDS]

Trains a float64 MLP with dropout on seeded synthetic data and writes the final weights.
Under torchrun every process trains its share; the main process writes the weights.
"""

import argparse
import gc
import time

import numpy as np
import torch

from nnlab.engine import Dense, Dropout, Sequential
from nnlab.torchlib import Trainer
from nnlab.torchlib.distributed import shutdown
from nnlab.training.callbacks import Callback


class Slow(Callback):
    """Sleep after every batch so that a test can kill the process mid-epoch."""

    def __init__(self, seconds):
        self.seconds = seconds

    def on_batch_end(self, trainer, step, logs):
        time.sleep(self.seconds)


def data(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.1 * rng.normal(size=n) > 0).astype(np.int64)
    return x, y


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--checkpoint")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--slow", type=float, default=0.0)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--accumulate", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(1)
    x, y = data()
    layers = [Dense(16, "relu"), Dense(8, "tanh"), Dense(2)]
    if a.dropout:
        layers.insert(1, Dropout(a.dropout))
    model = Sequential(layers, input_shape=(6,), dtype="float64", seed=0)
    trainer = Trainer(model, loss="cross_entropy", optimizer={"name": "adam", "lr": 0.01}, metrics=["accuracy"],
                      seed=0, accumulate_steps=a.accumulate)
    callbacks = [Slow(a.slow)] if a.slow else []
    trainer.fit(x, y, epochs=a.epochs, batch_size=a.batch_size, validation_data=data(40, seed=1),
                callbacks=callbacks, checkpoint=a.checkpoint)
    if trainer.dist.is_main:
        np.savez(a.out, **trainer.get_weights(), __loss__=np.array(trainer.history["loss"]))
    del trainer, model  # the DDP wrapper goes before the process group it uses
    gc.collect()
    shutdown()


if __name__ == "__main__":
    main()
