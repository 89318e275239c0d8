"""The closed-form gradients of seed 003 Q3.2, computed from the forward values of one sample.

The network (input 785, zero padding 1, Conv1d kernel 2 + ReLU, average pooling 2, Dense 20 +
ReLU, Dense 1 + sigmoid, binary cross-entropy) in the seed's notation, 1-based, with
x_0 = x_786 = 0 the padding:

    c_i = ReLU(W^C_1 x_(i-1) + W^C_2 x_i + b^C)       i = 1..786
    a_j = (c_(2j-1) + c_(2j)) / 2                      j = 1..393
    f_i = ReLU(sum_j W^A_ij a_j + b^M_i)               i = 1..20
    z   = sigmoid(sum_i W^F_i f_i + b^F)
    Cost = -Y log z - (1 - Y) log(1 - z)

and the gradients, each a product of the factors the chain rule picks up on the way down:

    dCost/dW^F_i  = (z - Y) f_i                        dCost/db^F = z - Y
    dCost/dW^A_ij = (z - Y) W^F_i 1(f_i > 0) a_j       dCost/db^M_i = (z - Y) W^F_i 1(f_i > 0)
    dCost/da_j    = sum_i (z - Y) W^F_i 1(f_i > 0) W^A_ij
    dCost/dc_i    = (1/2) dCost/da_ceil(i/2)           (average pooling: each c_i counts 1/2 in one a_j)
    dCost/dW^C_1  = sum_i dCost/dc_i 1(c_i > 0) x_(i-1)
    dCost/dW^C_2  = sum_i dCost/dc_i 1(c_i > 0) x_i    dCost/db^C = sum_i dCost/dc_i 1(c_i > 0)
"""

from __future__ import annotations

import numpy as np

#: where the seed's printed formulas differ from the network it describes
SEED_TYPOS = (
    "pooling: the seed prints a_j = (x_(2j-1) + c_(2j)) / 2; average pooling of the conv output is"
    " a_j = (c_(2j-1) + c_(2j)) / 2.",
    "dCost/dW^C_1: the seed's final formula sums (z - Y) W^F_j 1(f_j > 0) W^A_ji over j with i in {2j-1, 2j},"
    " mixing the dense index (20 units) with the pooled index (393 positions) and reversing W^A's indices;"
    " it also drops the 1/2 of the average pooling. Correct: sum over i = 1..786 of"
    " (1/2) [sum_k (z - Y) W^F_k 1(f_k > 0) W^A_(k, ceil(i/2))] 1(c_i > 0) x_(i-1).",
    "its last line repeats dCost/dW^A with the indices swapped (W^A_ji on the left, W^F_i ... a_j on the"
    " right); it is dCost/dW^A_ij = (z - Y) W^F_i 1(f_i > 0) a_j.",
    "Q3.1: the pooled length is written (785 + 2*0 - 2)/2 + 1 = 393, which is 392.5; the conv output is"
    " 785 + 2*1 - 2 + 1 = 786 long and pooling by 2 gives 393 (the total of 7,904 parameters is right).",
)


def closed_form_gradients(weights: dict[str, np.ndarray], x: np.ndarray, Y: float) -> dict[str, np.ndarray]:
    """The seed's closed-form gradients for one sample ``x`` (785,) with target ``Y``.

    ``weights`` holds the engine's tensors ``0.weight`` (1, 1, 2), ``0.bias`` (1,), ``4.weight``
    (20, 393) = W^A, ``4.bias`` (20,) = b^M, ``5.weight`` (1, 20) = W^F and ``5.bias`` (1,) = b^F.
    Returns every gradient under the engine's names, and the forward values (``c``, ``a``,
    ``f``, ``z``, ``cost``).
    """
    W1, W2 = weights["0.weight"].reshape(2)
    bC = float(weights["0.bias"][0])
    WA, bM = weights["4.weight"], weights["4.bias"]
    WF, bF = weights["5.weight"].reshape(-1), float(weights["5.bias"][0])

    # -- forward, in the seed's 1-based notation: xp[i] = x_i, with x_0 = x_786 = 0 -----------------
    xp = np.concatenate([[0.0], x, [0.0]])  # (787,)
    i = np.arange(1, 787)
    pre = W1 * xp[i - 1] + W2 * xp[i] + bC  # (786,) c_i before the ReLU
    c = np.maximum(pre, 0.0)
    a = (c[0::2] + c[1::2]) / 2  # (393,) a_j = (c_(2j-1) + c_(2j)) / 2
    g = WA @ a + bM  # (20,)
    f = np.maximum(g, 0.0)
    z = 1.0 / (1.0 + np.exp(-(WF @ f + bF)))
    cost = -Y * np.log(z) - (1 - Y) * np.log(1 - z)

    # -- backward, the closed forms -----------------------------------------------------------------
    e = z - Y  # dCost/d(pre-sigmoid): the sigmoid's z (1 - z) cancels the log's 1/z, 1/(1 - z)
    dWF = e * f
    dbF = e
    delta = e * WF * (f > 0)  # (20,) dCost/dg_i = (z - Y) W^F_i 1(f_i > 0)
    dWA = np.outer(delta, a)  # (20, 393)
    dbM = delta
    da = WA.T @ delta  # (393,) dCost/da_j = sum_i delta_i W^A_ij
    dc = np.repeat(da, 2) / 2  # (786,) each c_i feeds one a_j with weight 1/2
    dpre = dc * (c > 0)  # the conv ReLU
    dW1 = float(np.sum(dpre * xp[i - 1]))
    dW2 = float(np.sum(dpre * xp[i]))
    dbC = float(np.sum(dpre))
    return {"0.weight": np.array([dW1, dW2]).reshape(1, 1, 2), "0.bias": np.array([dbC]),
            "4.weight": dWA, "4.bias": dbM, "5.weight": dWF.reshape(1, 20), "5.bias": np.array([dbF]),
            "c": c, "a": a, "f": f, "z": float(z), "cost": float(cost)}


__all__ = ["SEED_TYPOS", "closed_form_gradients"]


def _row(values: np.ndarray, decimals: int = 6) -> str:
    rounded = np.round(np.asarray(values, dtype=np.float64).ravel(), decimals) + 0.0  # + 0.0: no "-0.000"
    return "[" + " ".join(f"{v: .{decimals}f}" for v in rounded) + "]"


def closed_form_text(closed: dict, engine: dict[str, np.ndarray], Y: float) -> tuple[list[str], dict[str, float]]:
    """The report's section: the closed forms with their numbers beside the engine's backprop;
    returns the lines and the max |closed - engine| per tensor (engine names)."""
    diff = {k: float(np.max(np.abs(np.asarray(closed[k]) - engine[k]))) for k in engine}
    e = closed["z"] - Y
    delta = np.asarray(closed["4.bias"])
    live = int(np.sum(closed["f"] > 0))
    top = int(np.argmax(np.abs(delta)))
    cols = np.argsort(-np.abs(closed["4.weight"][top]))[:5]
    L = ["Closed-form gradients for one training sample (seed 003 Q3.2), from its forward values, beside the"
         " engine's backprop (sample 0, batch of 1, float64):"]
    L.append(f"  z = {closed['z']:.8f}, Y = {Y:g}, Cost = -Y log z - (1 - Y) log(1 - z) = {closed['cost']:.8f};"
             f" {live} of 20 hidden units are active (f_i > 0); {int(np.sum(closed['c'] > 0))} of 786 conv outputs.")
    L.append(f"  dCost/db^F = z - Y = {e:.8f}   engine {engine['5.bias'][0]:.8f}")
    L.append("  dCost/dW^F_i = (z - Y) f_i, i = 1..20:")
    L.append("    closed " + _row(closed["5.weight"], 5))
    L.append("    engine " + _row(engine["5.weight"], 5))
    L.append("  dCost/db^M_i = (z - Y) W^F_i 1(f_i > 0):")
    L.append("    closed " + _row(closed["4.bias"], 5))
    L.append("    engine " + _row(engine["4.bias"], 5))
    L.append(f"  dCost/dW^A_ij = (z - Y) W^F_i 1(f_i > 0) a_j (20 x 393); row i = {top + 1}, its five largest,"
             f" j = {', '.join(str(j + 1) for j in cols)}:")
    L.append("    closed " + _row(closed["4.weight"][top, cols], 8))
    L.append("    engine " + _row(engine["4.weight"][top, cols], 8))
    L.append("  Through the average pooling: dCost/dc_i = (1/2) dCost/da_ceil(i/2), then the conv ReLU 1(c_i > 0):")
    for k, name in enumerate(("W^C_1 = sum_i dCost/dc_i 1(c_i > 0) x_(i-1)", "W^C_2 = sum_i dCost/dc_i 1(c_i > 0) x_i")):
        L.append(f"    dCost/d{name:<44} closed {closed['0.weight'].ravel()[k]: .10f}"
                 f"   engine {engine['0.weight'].ravel()[k]: .10f}")
    L.append(f"    dCost/d{'b^C = sum_i dCost/dc_i 1(c_i > 0)':<44} closed {closed['0.bias'][0]: .10f}"
             f"   engine {engine['0.bias'][0]: .10f}")
    L.append("  max |closed - engine| per tensor: " + ", ".join(f"{k} {v:.1e}" for k, v in diff.items()))
    L.append("Where the seed's printed formulas need correcting:")
    L += [f"  - {t}" for t in SEED_TYPOS]
    return L, diff
