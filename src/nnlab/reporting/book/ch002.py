"""Chapter 002: homework 2 (Amirkabir University): multilayer perceptrons: can BCE reach zero, the
batch size, ReLU networks as piecewise-linear functions, symmetry, and super-resolution."""

from __future__ import annotations

from nnlab.reporting.book.context import BookContext, Chapter, Question


def q_bce(b: BookContext) -> list[str]:
    e = "blobs-bce"
    return [
        b.note(e, "Can the loss be exactly zero?"),
        f"Measured (default run): the smallest loss reached {b.value(e, 'min_loss')}; the softmax head's"
        f" output scaled up reaches exactly 0.0 at a scale of {b.value(e, 'scale_to_zero_softmax')}.\n",
        b.run_table(e, "four-points"),
        b.run_table(e, "heads"),
        b.figure(e, "boundary"), b.figure(e, "loss"), b.figure(e, "scale-sweep"),
        "The seed's network (two softmax outputs, 200 epochs of Adam) under `--preset seed`:\n",
        b.figure(e, "loss", preset="seed"),
    ]


def q_batch(b: BookContext) -> list[str]:
    e = "batch-size"
    return [
        "The batch size trades the noise of the gradient estimate against the cost of a step: a small batch"
        " makes many noisy steps per epoch, a large one few precise ones that use the hardware better."
        " Per epoch, small batches progress faster; per second, larger ones can. With memory for only 2"
        " samples, gradient accumulation processes a large batch as micro-batches of 2, summing their"
        " gradients before one optimiser step: the same update as the large batch, in the memory of 2 samples.\n",
        b.figure(e, "curves-per-epoch"), b.figure(e, "curves-per-second"),
        b.run_table(e, "batch-sizes"),
        "Gradient accumulation gives the same gradient as the whole batch, to rounding:\n",
        b.run_table(e, "gradient-accumulation"),
        b.figure(e, "step-memory"),
        "The seed cites Smith et al. (2017): instead of decaying the learning rate, increase the batch size by"
        " the same factor at the same epochs; the noise scale of SGD falls the same way, with fewer and larger"
        " steps. nnlab's engine has a batch-size schedule (`BatchSizeScheduler`); the comparison:\n",
        b.note(e, "Decay the learning rate, or increase the batch size"),
        b.figure(e, "schedules"),
        b.run_table(e, "schedules"),
    ]


def q_pwl(b: BookContext) -> list[str]:
    e = "relu-pwl"
    return [
        b.note(e, "What this shows"),
        b.figure(e, "hat"), b.figure(e, "interpolant"),
        b.run_table(e, "networks"),
        "The general argument, for any depth and for PReLU as well as ReLU (checked on random networks):\n",
        b.note(e, "Any ReLU or PReLU network is piecewise linear"),
        b.figure(e, "random-networks"), b.figure(e, "piece-residuals"),
        b.run_table(e, "random-networks"),
        "PReLU (a ReLU whose negative slope is learned, He et al. 2015) is a layer of nnlab's engine"
        " (`nnlab.engine.PReLU`), checked against finite differences and `torch.nn.PReLU`.\n",
    ]


def q_symmetry(b: BookContext) -> list[str]:
    e = "symmetry"
    return [
        "Symmetry here is the one that matters for training: hidden units that start with the same weights"
        " compute the same function, receive the same gradient and stay copies of each other, so a layer of"
        " n units is worth one. It must be broken, and the seed lists three ways: dropout, batch"
        " normalisation and data augmentation. nnlab measures each from a constant initialisation:\n",
        b.note(e, "What this shows"),
        b.run_table(e, "inits", preset="seed"),
        b.figure(e, "unit-spread", preset="seed"), b.figure(e, "unit-weights", preset="seed"),
        b.figure(e, "boundaries", preset="seed"),
    ]


def q_sr_data(b: BookContext) -> list[str]:
    e = "super-resolution"
    return [
        "The seed's protocol: ten 32x32 colour images (CIFAR-10), their resolution halved; for every"
        " high-resolution pixel, its low-resolution pixel and that pixel's 8 neighbours in R, G and B are 27"
        " features and the pixel's own RGB the 3 targets.\n",
        b.figure(e, "seed-images", preset="seed"),
        b.compare(["002.sr_samples", "002.sr_train_samples", "002.sr_test_samples", "002.sr_val_samples"]),
    ]


def q_sr_mlp(b: BookContext) -> list[str]:
    e = "super-resolution"
    return [
        "The seed's MLP 27-64-128-3 with ReLU, MSE and Adam for 50 epochs:\n",
        b.figure(e, "seed-architecture", preset="seed"),
        b.figure(e, "seed_mlp-curves", preset="seed"),
        "Every high-resolution pixel of one low-resolution pixel has the same 27 features, so this network"
        " can only paint each 2x2 block in one colour: it cannot beat bicubic interpolation. nnlab's default"
        " keeps the 27 inputs but predicts the whole 2x2 block as a residual over bicubic (the block MLP), and"
        " adds a small convolutional network.\n",
    ]


def q_sr_eval(b: BookContext) -> list[str]:
    e = "super-resolution"
    return [
        f"Test MSE of the seed MLP: {b.value(e, 'seed_test_mse', preset='seed')} (seed preset). PSNR and SSIM on"
        " the seed's own ten images, beside bicubic:\n",
        b.run_table(e, "seed-images-x2", preset="seed"),
        b.figure(e, "seed-reconstructions", preset="seed"),
        "And on the standard benchmarks Set5 and Set14 (PSNR on the luminance, border shaved, as published):\n",
        b.compare(["sr.set5_x2_bicubic", "sr.set5_x2_mlp", "sr.set5_x2_cnn", "sr.set14_x2_cnn"]),
        b.run_table(e, "psnr-x2"),
        b.figure(e, "reconstructions-x2"),
    ]


def q_sr_x4(b: BookContext) -> list[str]:
    e = "super-resolution"
    return [
        "Applying the x2 network twice against a network trained for x4 directly, for the seed's MLP, the"
        " block MLP and the CNN (Set5):\n",
        b.compare(["sr.set5_x4_cnn"]),
        b.run_table(e, "x4-direct-vs-twice"),
        b.figure(e, "seed_mlp_x4-curves", preset="seed"),
        b.run_table(e, "psnr-x4"),
        b.figure(e, "reconstructions-x4"),
    ]


CHAPTER = Chapter(
    id="002",
    title="multilayer perceptrons: zero loss, batch size, piecewise-linear networks, symmetry, super-resolution",
    intro="Homework 2 of a neural-networks course (Amirkabir University, 2024). Q1 asks whether binary"
          " cross-entropy can reach exactly zero on separable data; Q2 what the batch size depends on and how to"
          " train when only 2 samples fit in memory; Q3 to show that a ReLU or PReLU network is piecewise"
          " linear; Q4 what symmetry in a network means and how it is broken; Q5 builds a per-pixel MLP for"
          " super-resolution. nnlab's experiments are `blobs-bce`, `batch-size`, `relu-pwl`, `symmetry` and"
          " `super-resolution`.",
    experiments=("blobs-bce", "batch-size", "relu-pwl", "symmetry", "super-resolution"),
    questions=[
        Question("Q1", "Can binary cross-entropy reach exactly zero?", "A linearly separable two-class data set,"
                 " an MLP with two softmax outputs trained with binary cross-entropy: can the loss be exactly"
                 " zero? If not, prove it; if so, give four points and a perceptron that reach it.", q_bce),
        Question("Q2", "The batch size", "What does the choice of batch size depend on and how does it affect"
                 " training? If more than 2 samples do not fit in memory, how can the network be trained"
                 " without new hardware? Implement it.", q_batch),
        Question("Q3", "ReLU and PReLU networks are piecewise linear", "Show that an MLP using only ReLU or PReLU"
                 " activations builds a continuous piecewise-linear function.", q_pwl, theory=True),
        Question("Q4", "Symmetry", "What does symmetry in a neural network mean? Must it be broken? Design a case"
                 " and name ways to break it.", q_symmetry, theory=True),
        Question("Q5.1", "Super-resolution: the data", "Ten images, resolution halved; for each pixel of the"
                 " original, its low-resolution pixel and 8 neighbours (27 features) and its RGB (3 targets);"
                 " combine, shuffle, split into training, test and validation.", q_sr_data),
        Question("Q5.2", "Super-resolution: the MLP", "Design and train an MLP from the 27 features to the pixel's"
                 " colour; draw the architecture; which loss?", q_sr_mlp),
        Question("Q5.3", "Super-resolution: test loss, PSNR and SSIM", "Report the test loss, produce the"
                 " high-resolution images, compare them with the originals by eye and by PSNR and SSIM.",
                 q_sr_eval),
        Question("Q5.4", "x2 twice or x4 directly?", "Using the x2 network twice gives x4: better or worse than a"
                 " network that does x4 directly? Show it by experiment.", q_sr_x4),
    ],
)
