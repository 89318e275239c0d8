"""Chapter 001: homework 2: why CNNs, batch normalisation, residual learning; then colourization
of CIFAR-10 horses with a base CNN, a U-Net and residual blocks (the CSC321 assignment)."""

from __future__ import annotations

from nnlab import seeds
from nnlab.reporting.book.context import BookContext, Chapter, Question
from nnlab.reporting.render import format_value, table

EXP = "colourization"
NAMES = {"base": "base model", "unet": "U-Net", "residual": "residual network"}
#: the settings of the sweeps ``benchmarks/colourization_sweeps.py`` runs, besides the network
SWEEP_SETTINGS = ["palette=csc321"]


def q_why_cnn(b: BookContext) -> list[str]:
    _, text = b.exercise("why-conv")
    return [
        "The seed answers that CNNs cut the number of parameters without losing quality and find edges. The"
        " number behind the first claim: a convolution's weights are shared by every position of the image,"
        " so its parameter count depends on the filter size and the channels, not on the image size, where a"
        " dense layer producing the same output needs a weight for every input-output pair. Sharing also makes"
        " the layer translation equivariant (a shifted image gives a shifted feature map; `nnlab exercise"
        " equivariance`), which is the right prior for images, where a horse is a horse wherever it stands."
        " The seed's 'reducing the dimension' is the pooling's work, not the convolution's.\n",
        text]


def q_batchnorm(b: BookContext) -> list[str]:
    _, text = b.exercise("batchnorm", data_dir=b.data_dir) if b.data_dir else b.exercise("batchnorm")
    return [
        "For every channel, batch normalisation subtracts the batch's mean and divides by its standard deviation"
        " (plus a small epsilon), then scales by a learned gamma and shifts by a learned beta. During training it"
        " keeps running averages of the mean and the variance (an exponential moving average: new = (1 -"
        " momentum) * old + momentum * batch, momentum 0.1 in PyTorch's meaning), and at evaluation it"
        " normalises with those instead of the batch's. The seed's 'trains gamma and beta with the EMA' mixes"
        " the two: gamma and beta are learned by gradient descent; the EMA only tracks the statistics. Shown"
        " on a real batch:\n",
        text,
        "What it buys: each layer's input keeps a stable scale while the layers below it change, so higher"
        " learning rates train without diverging, and the network is less sensitive to its initialisation"
        " (Ioffe and Szegedy, 2015; Santurkar et al., 2018 show it smooths the loss landscape).\n"]


def q_residual(b: BookContext) -> list[str]:
    _, text = b.exercise("residual-gradients")
    return [
        "A residual block outputs x + f(x), so its Jacobian is I + f'(x): the gradient reaching a block is the"
        " gradient of the block above plus that gradient passed through f. Through a stack of plain layers the"
        " gradient is a product of Jacobians, which shrinks (or grows) geometrically with depth; with residual"
        " connections there is always the identity path, so the first layers receive a gradient of the same"
        " order as the last. Measured on the same deep network with and without the additions:\n",
        text,
        "The seed also quotes Veit et al. (2016): a ResNet behaves like an ensemble of many shallow paths, and"
        " most of its gradient flows through the short ones. That is the same identity path seen from the"
        " other side, not a contradiction: the residual connections do keep the gradient from vanishing, by"
        " giving it short routes.\n"]


def _model_table(b: BookContext, keys: list[str]) -> str:
    return b.compare([f"001.{k}_{m}" for k in keys for m in ("accuracy", "val_loss", "train_loss")])


def _sweep(b: BookContext, model: str, key: str) -> list[str]:
    """The seed's sweep table beside nnlab's sweep of the seed preset, where one was run."""
    seed_points = dict(seeds.SWEEPS.get(model, {}).get(key, []))
    sweep = b.sweep(EXP, key, "seed", [f"models=[{model}]", *SWEEP_SETTINGS])
    ours: dict[float, float] = {}
    recorded = (b.benchmark("colourization_sweeps") or {}).get(f"{model}.{key}") if sweep is None else None
    if sweep is not None:
        for row in sweep.rows:
            value = row.get(f"{model}_accuracy")
            if row.get("state") == "COMPLETE" and value not in (None, ""):
                ours[float(row[key])] = float(value)
    elif recorded:
        for point in recorded.get("points", []):
            if point.get("state") == "COMPLETE" and point.get(f"{model}_accuracy") is not None:
                ours[float(point[key])] = float(point[f"{model}_accuracy"])
    values = sorted(set(seed_points) | set(ours), key=float)
    rows = [{key: format_value(v, ""), "seed": format_value(seed_points.get(v), "fraction")
             if v in seed_points else "-", "nnlab (seed preset)": format_value(ours.get(float(v)), "fraction")
             if float(v) in ours else "not run"} for v in values]
    command = (f"nnlab sweep colourization --preset seed --set 'models=[{model}]' --set palette=csc321 --grid {key}="
               + ",".join(format_value(v, "") for v in values))
    if sweep is not None:
        where = f"from the sweep in `{sweep.path}`"
    elif recorded:
        where = f"as recorded in `benchmarks/results/colourization_sweeps.json` from `{recorded['sweep']}`"
        if not recorded.get("complete"):
            where += f"; the points not run yet continue with `python benchmarks/colourization_sweeps.py {model}.{key}`"
    else:
        where = f"no sweep found: `{command}` runs it"
    gap = [ours[float(v)] - seed_points[v] for v in seed_points if float(v) in ours]
    summary = (f"Where both exist, nnlab's seed preset is {format_value(sum(gap) / len(gap) * 100, '')} points"
               f" {'above' if sum(gap) >= 0 else 'below'} the seed on average.\n" if gap else "")
    if not seed_points:
        summary += "The seed gives no table for this sweep, only that a kernel of 3 was best.\n"
    return [f"**{NAMES[model]}, {key}** ({where}):\n", table(rows) if rows else "", summary]


def q_base(b: BookContext) -> list[str]:
    out = [
        "The seed's base model (an encoder-decoder CNN without skips), trained 30 epochs. nnlab's seed preset"
        " keeps the seed's network, optimiser and budget; the default trains the same network longer-lived"
        " (wider, a cosine schedule, mirrored and shifted images):\n",
        _model_table(b, ["base"]),
        b.figure(EXP, "base-curves", preset="seed"),
        "The seed prints its base model's whole log; nnlab's base runs beside it, epoch by epoch:\n",
        _seed_base_figure(b),
        "The seed's sweeps of the base model (validation accuracy), beside nnlab's:\n"]
    for key in ("num_filters", "lr", "kernel_size"):
        out += _sweep(b, "base", key)
    return out


def q_feature_maps(b: BookContext) -> list[str]:
    return ["The seed draws the feature maps of one layer for one image. nnlab hooks the layer's output (a"
            " forward hook on the torch module) and draws its first channels.\n",
            b.figure(EXP, "feature-maps", preset="seed"), b.figure(EXP, "feature-maps")]


def q_unet(b: BookContext) -> list[str]:
    out = [
        "The U-Net concatenates each encoder stage's output into the decoder stage of the same resolution.",
        _model_table(b, ["unet"]),
        b.figure(EXP, "unet-curves", preset="seed"),
        "The seed's U-Net sweeps (its tables) beside nnlab's sweeps of the seed preset:\n"]
    for key in ("num_filters", "lr", "kernel_size"):
        out += _sweep(b, "unet", key)
    out += ["The skip connections carry the full-resolution grey image to the decoder, which is what per-pixel"
            " colour needs: the gap between the base model and the U-Net is that information.\n",
            b.figure(EXP, "curves-overlay", preset="seed")]
    return out


def _histories(b: BookContext, key: str) -> dict:
    """Network ``key``'s per-epoch history in the seed-preset and default runs that exist."""
    from nnlab.training.history import History

    out = {}
    for preset, label in (("seed", "seed preset"), (None, "default")):
        run = b.run(EXP, preset)
        if run is not None and (run.path / f"{key}.csv").is_file():
            out[f"nnlab {label}"] = History.from_csv(run.path / f"{key}.csv")
    return out


def _seed_base_figure(b: BookContext) -> str:
    """The seed's 30-epoch base log beside nnlab's base runs: loss and accuracy per epoch, accuracy against loss."""
    from matplotlib.figure import Figure

    ours = _histories(b, "base")
    if not ours:
        return ""
    log = seeds.CURVES["001.base"]
    epochs = [e for e, *_ in log]
    fig = Figure(figsize=(11, 3.6), dpi=100, layout="constrained")
    ax_loss, ax_acc, ax_xy = fig.subplots(1, 3)
    ax_loss.plot(epochs, [r[2] for r in log], "k-", label="seed: validation")
    ax_loss.plot(epochs, [r[1] for r in log], "k:", label="seed: training")
    ax_acc.plot(epochs, [100 * r[3] for r in log], "k-", label="seed")
    ax_xy.plot([r[2] for r in log], [100 * r[3] for r in log], "k.-", label="seed")
    for i, (label, h) in enumerate(ours.items()):
        e = list(range(1, len(h["val_loss"]) + 1))
        ax_loss.plot(e, h["val_loss"], f"C{i}-", label=f"{label}: validation")
        ax_loss.plot(e, h["loss"], f"C{i}:", label=f"{label}: training")
        ax_acc.plot(e, [100 * a for a in h["val_accuracy"]], f"C{i}-", label=label)
        ax_xy.plot(h["val_loss"], [100 * a for a in h["val_accuracy"]], f"C{i}.-", label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy per pixel (nats)", title="loss per epoch")
    ax_acc.set(xlabel="epoch", ylabel="validation pixel accuracy (%)", title="accuracy per epoch")
    ax_xy.set(xlabel="validation cross-entropy (nats)", ylabel="validation pixel accuracy (%)",
              title="accuracy against loss")
    for ax in (ax_loss, ax_acc, ax_xy):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return b.drawn_figure(fig, "seed-base-log", "the seed's base model, epoch by epoch (its printed log), beside"
                          " nnlab's base runs on the same palette; in the right panel, each point is one epoch")


def _at_seed_losses(b: BookContext) -> str:
    """The seed's three results beside the epochs of nnlab's runs nearest to them in validation loss."""
    from nnlab.metrics.curves import at_reference_losses

    histories = {f"{key} ({label.removeprefix('nnlab ')})": h for key in NAMES for label, h in _histories(b, key).items()}
    numbers = seeds.by_metric(EXP)
    references = {NAMES[k]: (numbers[f"{k}_val_loss"].value, numbers[f"{k}_accuracy"].value) for k in NAMES}
    rows = at_reference_losses(histories, references)
    if not rows:
        return ""
    shown = [{"seed's network": r["reference"], "seed's loss": format_value(r["reference val_loss"], ""),
              "seed's accuracy": format_value(r["reference val_accuracy"], "fraction"),
              "nnlab epoch nearest in loss": f"{r['nearest']}, epoch {r['epoch']}",
              "its loss": format_value(r["val_loss"], ""), "its accuracy": format_value(r["val_accuracy"], "fraction"),
              "seed - nnlab": f"{100 * r['difference']:+.1f} points"} for r in rows]
    return ("Every epoch of nnlab's runs on the seed's palette gives a (validation loss, accuracy) pair. For"
            " each of the seed's three results, the epoch nearest to it in loss, and that epoch's accuracy:\n\n"
            + table(shown))


def _gap(b: BookContext) -> list[str]:
    """What ``benchmarks/colourization_gap.py`` measured about the distance to the seed."""
    gap = b.benchmark("colourization_gap")
    if not gap:
        return ["*The gap probes (`python benchmarks/colourization_gap.py`) have not been recorded in this"
                " checkout's `benchmarks/results/`.*\n"]
    out = ["**Where the distance to the seed comes from** (`benchmarks/results/colourization_gap.json`, from"
           f" the seed-preset run `{gap.get('run')}`):\n"]
    items = []
    if (log := gap.get("base_log")) and log.get("epochs"):
        last = log["epochs"][-1]
        items.append(f"The seed's base model trains faster on the same settings: it reaches nnlab's final"
                     f" validation loss ({last['val_loss']:.3f}) at its epoch {log['seed_epoch_reaching_our_final_loss']}"
                     f" and ends at a training loss of {last['seed_train_loss']:.3f} against nnlab's"
                     f" {last['train_loss']:.3f}.")
        if log.get("mean_accuracy_gap_at_equal_loss") is not None:
            items.append(f"At an equal validation loss the seed's accuracy is still"
                         f" {100 * log['mean_accuracy_gap_at_equal_loss']:+.1f} points above nnlab's (mean over"
                         f" {log['equal_loss_points']} of the seed's epochs).")
    if (m := gap.get("measurement")) and "base_bn_train" in m and "base_bn_eval" in m:
        items.append(f"Measuring with batch normalisation in training mode instead of evaluation mode gives"
                     f" {format_value(m['base_bn_train']['accuracy'], 'fraction')} against"
                     f" {format_value(m['base_bn_eval']['accuracy'], 'fraction')} (base model): not the cause.")
    if r := gap.get("batch50"):
        items.append(f"Twice the updates per epoch (batch 50) gives the base model"
                     f" {format_value(r['accuracy'], 'fraction')}: part of the training speed, not the whole gap.")
    if (t := gap.get("seed_tables")) and t.get("base.num_filters"):
        items.append(f"The seed's base filter table is {'at or above' if t['all_at_or_above'] else 'not always above'}"
                     f" the last epoch the seed printed for each of its runs, by {100 * t['mean_difference']:.1f}"
                     f" points on average ({100 * t['max_difference']:.1f} at most): the table seems to give each"
                     f" run's best epoch, or other runs; nnlab's sweeps record the final epoch.")
    if c := gap.get("residual_cost"):
        items.append(f"The seed's residual network took {c['seed_residual_over_unet']}x its U-Net's time per"
                     f" epoch; the literal reading (`colour_residual_seed`) takes {c['nnlab_residual_over_unet']}x"
                     f" at the same width, so the seed's residual network did several times more work than the"
                     f" literal reading, as it says (\"with more parameters\").")
        for key, r in sorted(c.items()):
            if key.startswith("residual_nf"):
                items.append(f"The literal residual network at {key.removeprefix('residual_nf')} filters"
                             f" ({r['params']:,} parameters, the seed's budget of 25 epochs) reaches"
                             f" {format_value(r['accuracy'], 'fraction')} at a validation loss of"
                             f" {r['val_loss']:.3f} (`{r['run']}`).")
    out.append("".join(f"- {i}\n" for i in items))
    return out


def q_residual_net(b: BookContext) -> list[str]:
    return [
        "Residual blocks add each block's input to its output along the base/U-Net path (the seed: 25 epochs)."
        " The seed gives no layer list. The seed preset's `colour_residual_seed` takes the description"
        " literally: the seed's U-Net with a shortcut around each of its five stages (a 1x1 convolution where the"
        " shape changes). The default's `colour_residual` is nnlab's residual U-Net (ResNet basic blocks at"
        " full resolution at both ends, about four times the parameters of the seed's U-Net): the seed's residual"
        " net took 7.5 times its U-Net's time per epoch, so it was not the small literal reading either.",
        _model_table(b, ["residual"]),
        b.figure(EXP, "residual-curves", preset="seed"),
        "**The seed's numbers against nnlab's curves.** On one palette, two networks measured the same way"
        " reach about the same accuracy at the same validation loss. The table below finds, for each of the"
        " seed's three results, the epoch of nnlab's runs nearest to it in loss; the seed's base-model log"
        " (under P1) shows the same comparison epoch by epoch. Where the seed's accuracy is higher than"
        " nnlab's at an equal loss for all three networks, the difference lies in what the seed's pipeline fed"
        " or measured, common to its networks, not in the residual design; what is left beyond that common"
        " difference is the residual network's own.\n",
        _at_seed_losses(b),
        *_gap(b),
        b.figure(EXP, "loss-vs-accuracy"),
        b.figure(EXP, "curves-overlay"),
        b.figure(EXP, "colourized"),
        b.run_table(EXP, "seed-comparison", preset="seed"),
        f"Reference: a lookup table from a pixel's grey level alone to a colour class scores"
        f" {b.value(EXP, 'lookup_accuracy', 'fraction')} of the validation pixels (default run): a network has"
        " to beat it to have learnt anything about context.\n" if b.run(EXP) else "",
    ]


CHAPTER = Chapter(
    id="001",
    title="CNNs, batch normalisation, residual learning; colourization",
    intro="Homework 2 of a deep-learning course: three theory questions (why CNNs for images, what batch"
          " normalisation does, why residual learning prevents vanishing gradients), then the CSC321"
          " colourization assignment: a greyscale 32x32 CIFAR-10 horse in, one of 24 colours per pixel out,"
          " with a base CNN, a U-Net and residual blocks, and sweeps of the number of filters, the learning"
          " rate and the kernel size. nnlab's experiment is `colourization`; the theory answers are `nnlab"
          " exercise why-conv`, `batchnorm` and `residual-gradients`.",
    experiments=(EXP,),
    questions=[
        Question("Q1", "Why CNNs for images", "What are the advantages of CNNs in image processing?", q_why_cnn,
                 theory=True),
        Question("Q2", "Batch normalisation", "Explain briefly what happens in batch normalisation and its"
                 " benefits in deep networks.", q_batchnorm, theory=True),
        Question("Q3", "Residual learning and vanishing gradients", "Explain why residual learning prevents"
                 " vanishing gradients.", q_residual, theory=True),
        Question("P1", "The base model and its sweeps", "Train the base model with kernel 3 and different numbers"
                 " of filters, learning rates and kernel sizes; the base model after 30 epochs: validation loss"
                 " 1.5197, accuracy 44.7%.", q_base),
        Question("P2", "Feature maps", "Compute and show the feature maps of a layer.", q_feature_maps),
        Question("P3", "The U-Net", "The U-Net with the same sweeps; after 30 epochs: validation loss 1.2101,"
                 " accuracy 56.4%; compare with the base model.", q_unet),
        Question("P4", "Residual blocks", "Each layer's input added to its output; after 25 epochs: training loss"
                 " 0.9064, validation loss 0.8474, accuracy 70.5%.", q_residual_net),
    ],
)
