"""Chapter 000: homework 1 (University of Tehran): a NumPy network for UTKFace, then convolution
and backpropagation through a convolution by hand."""

from __future__ import annotations

from nnlab.reporting.book.context import BookContext, Chapter, Question

EXP = "utkface-mlp"


def q_data(b: BookContext) -> list[str]:
    return [
        "UTKFace holds 23,708 aligned faces aged 1 to 116 with their age, gender and one of five ethnicity"
        " labels in the file name. nnlab reads the 64x64 copy in the lab's data folder (the seed used the"
        " 200x200 originals) and holds out 20% of the faces as the test split; pixel-identical duplicate"
        " images are kept on one side of the split (`image_holdout_split`), and 10% of the training side"
        f" is the validation part that early stopping watches. This run read {b.value(EXP, 'n_images', 'count')}"
        f" faces: {b.value(EXP, 'n_train', 'count')} to train, {b.value(EXP, 'n_val', 'count')} to validate and"
        f" {b.value(EXP, 'n_test', 'count')} to test.\n"]


def q_preprocessing(b: BookContext) -> list[str]:
    return [
        "As in the seed: RGB to greyscale, pixel values divided by 255, then PCA fitted on the training part"
        " only (scikit-learn) down to 128 components under the seed preset. The default pools 2x2 first (32x32)"
        " and keeps 256 components, standardised. Variance kept by PCA: "
        f"{b.value(EXP, 'pca_variance_kept', 'fraction', preset='seed')} (seed preset),"
        f" {b.value(EXP, 'pca_variance_kept', 'fraction')} (default).\n",
        b.figure(EXP, "preprocessing", preset="seed"),
    ]


def q_network(b: BookContext) -> list[str]:
    return [
        "The seed's `get_network_info` is the engine's `summary()`: layers, output shapes, activations,"
        " initialisation and parameter counts. The seed's age network, as nnlab builds it under `--preset seed`:\n",
        b.note(EXP, "age network", preset="seed"),
        "The engine offers the seed's initialisations (zeros; random N(0, s^2) with s = 1e-3 'tiny', 1e-2"
        " 'small', 1e-1 'large') and Xavier and He besides; a fixed learning rate or the seed's automatic one"
        " `lr = a / epoch**n + b`; L2, softmax + cross-entropy and binary cross-entropy losses.\n",
    ]


def q_weights(b: BookContext) -> list[str]:
    return [
        "The same age network trained from each initialisation (the seed preset's network, the same epochs):\n",
        b.figure(EXP, "study-init-scale", preset="seed"),
        "Best validation loss per initialisation: "
        + ", ".join(f"{k} {b.value(EXP, f'init_{k}_val_loss', preset='seed')}"
                    for k in ("zeros", "tiny", "small", "large", "he_normal")) + ".\n",
    ]


def q_lr(b: BookContext) -> list[str]:
    return [
        "The automatic rate decays as `lr = a / epoch**n + b`; the seed's figure 1 starts near 0.0035 and flattens"
        " towards 0.0005, which is a = 0.003, n = 1, b = 0.0005. The rate actually used per epoch is the `lr`"
        " panel of this figure (the constant-rate run beside it):\n",
        b.figure(EXP, "study-lr", preset="seed"),
    ]


def q_age(b: BookContext) -> list[str]:
    return [
        b.compare(["000.age_rmse", "000.age_rmse_train", "000.age_rmse_sklearn"]),
        "RMSE in years on the training part and on the test split, per epoch (the seed's figure 3; the test"
        " split is only watched, early stopping reads the validation part):\n",
        b.figure(EXP, "age-rmse-curves", preset="seed"),
        b.figure(EXP, "age-rmse-curves"),
        b.run_table(EXP, "mlp-vs-baseline", preset="seed"),
        b.run_table(EXP, "mlp-vs-baseline"),
        b.figure(EXP, "age-scatter"),
        "What improves on the seed (the default): 32x32 inputs, 256 standardised PCA components, mirrored"
        " training faces (and test-time averaging over the face and its mirror), a wider ReLU network with"
        " dropout, and Adam. The seed preset keeps every setting of the homework.\n",
    ]


def q_zero(b: BookContext) -> list[str]:
    return [
        "With every weight zero, every hidden unit computes 0 for every face, so the gradient of every hidden"
        " weight is multiplied by an outgoing weight of 0, and the gradient of the output weights by a hidden"
        " activation of 0: nothing but the output bias moves, and the network predicts one constant age. The"
        " seed's explanation (the derivative of w1 x1 + ... with respect to x1 is w1 = 0) is the first half of"
        " this. Measured on the seed's network:"
        f" largest hidden weight after training {b.value(EXP, 'zero_init_weight_abs_max', preset='seed')},"
        f" distinct hidden units {b.value(EXP, 'zero_init_units_distinct', 'count', preset='seed')},"
        f" final training loss {b.value(EXP, 'zero_init_final_loss', preset='seed')}.\n",
        b.figure(EXP, "study-zero-init", preset="seed"),
    ]


def q_constant_lr(b: BookContext) -> list[str]:
    return [
        "The seed says a constant rate leaves the loss noisy late in training, where the decaying rate settles."
        " Best validation loss with the constant rate"
        f" {b.value(EXP, 'lr_constant_val_loss', preset='seed')}, with the decaying rate"
        f" {b.value(EXP, 'lr_decaying_val_loss', preset='seed')} (same network, same epochs; figure above in"
        " question 1.4).\n"]


def q_ethnicity(b: BookContext) -> list[str]:
    return [
        b.compare(["000.ethnicity_accuracy", "000.ethnicity_accuracy_train"]),
        "Softmax + cross-entropy, LeakyReLU hidden layers and a constant rate of 0.002 under the seed preset."
        " Training and test accuracy per epoch (the seed's figures 5 and 6):\n",
        b.figure(EXP, "ethnicity-accuracy-curves", preset="seed"),
        b.figure(EXP, "ethnicity-accuracy-curves"),
        b.figure(EXP, "ethnicity-confusion"),
    ]


def q_gender(b: BookContext) -> list[str]:
    return [
        b.compare(["000.gender_accuracy", "000.gender_accuracy_train"]),
        "The seed trains gender with the L2 (MSE) loss on one-hot targets and the decaying rate; the seed preset"
        " does the same and scores the arg-max of the two outputs. The default uses cross-entropy.\n",
        b.figure(EXP, "gender-accuracy-curves", preset="seed"),
        b.figure(EXP, "gender-accuracy-curves"),
        b.figure(EXP, "gender-confusion"),
    ]


def q_study(b: BookContext) -> list[str]:
    return [
        "The seed's abstract promises a look at activation functions and losses and their effect on accuracy;"
        " its report never shows it. Here it is, on the ethnicity task with the seed's network shape, every"
        " combination trained for the same epochs:\n",
        b.run_table(EXP, "activation-loss-study", preset="seed"),
        b.figure(EXP, "activation-loss-study", preset="seed"),
    ]


def q_conv(b: BookContext) -> list[str]:
    _, text = b.exercise("conv-pool")
    return ["Computed by hand (explicit sums) and by the engine's `Conv2d` and `MaxPool2d`, which agree. Any"
            " other filters can be given: `nnlab exercise conv-pool --filters FILE`.\n", text]


def q_backprop(b: BookContext) -> list[str]:
    _, text = b.exercise("conv-backprop")
    return ["Every weight's gradient by the chain rule, as the seed derives it, beside the engine's backward"
            " pass and finite differences:\n", text]


CHAPTER = Chapter(
    id="000",
    title="a NumPy network for UTKFace; convolution and backpropagation by hand",
    intro="Homework 1 of a deep-learning course (University of Tehran, 2021). Question 1 builds a fully"
          " connected network with NumPy alone and predicts age, ethnicity and gender from UTKFace faces;"
          " question 2 convolves a 4x4 image with three filters and max-pools it; question 3 backpropagates"
          " through a convolution by hand. nnlab's experiment is `utkface-mlp`; the exercises are `nnlab"
          " exercise conv-pool` and `conv-backprop`.",
    experiments=(EXP,),
    questions=[
        Question("Q1.1", "The data set", "UTKFace: about 24,000 faces aged 1 to 116 of 5 ethnicities; a"
                 " training and a test set.", q_data),
        Question("Q1.2", "Preprocessing (the seed's figure 0)", "Read the images, convert RGB to greyscale,"
                 " divide by 255, reduce with PCA (40,000 -> 128) using scikit-learn; show a face before and"
                 " after.", q_preprocessing),
        Question("Q1.3", "The network and get_network_info", "A NumPy network whose neurons, layers,"
                 " activations, loss, learning rate, momentum and initial weights are configurable, and a"
                 " function that shows the network's information.", q_network),
        Question("Q1.4", "Initial weights", "Four ways to initialise: zeros, very small (~1e-3), small (~1e-2)"
                 " and fairly large (~1e-1) random numbers; their effect.", q_weights),
        Question("Q1.5", "The learning rate", "A constant rate or an automatic one that decays with the epoch:"
                 " lr = a / epoch^n + b (the seed's figure 1).", q_lr),
        Question("Q1.6", "Part 1: age", "A three-layer network (35-6-1 LeakyReLU, small random weights,"
                 " momentum 0.99, L2 loss, early stopping) predicts age; RMSE converges to 10 (train) and 13"
                 " (test); scikit-learn's logistic regressor: 15.72.", q_age),
        Question("Q1.7", "Zero initial weights", "Why does a network whose weights start at zero not learn?",
                 q_zero, theory=True),
        Question("Q1.8", "Constant against decaying learning rate", "Two networks, one with a constant rate and"
                 " one with the decaying rate, otherwise the same: the loss curves.", q_constant_lr),
        Question("Q1.9", "Part 2: ethnicity", "Softmax + cross-entropy, LeakyReLU, constant rate 0.002:"
                 " accuracy converges to 68 (train) and 65 (test).", q_ethnicity),
        Question("Q1.10", "Part 3: gender", "MSE loss, decaying rate, LeakyReLU: accuracy converges to 88"
                 " (train) and 86 (test).", q_gender),
        Question("Q1.11", "Activation functions and losses (the seed's abstract)", "The effect of the"
                 " activation function and the loss on accuracy and error.", q_study),
        Question("Q2", "Convolution and pooling", "The 4x4 image [[2,1,3,3],[1,6,2,5],[1,4,5,2],[6,6,5,3]],"
                 " three 3x3 filters with padding 1 (4x4x3), then max pooling with stride 2 (2x2x3).", q_conv),
        Question("Q3", "Backpropagation through a convolution", "A 4x4 input, a 2x2 kernel with stride 2, a"
                 " 2x2 output feeding a linear unit, squared error: every weight's gradient.", q_backprop,
                 theory=True),
    ],
)
