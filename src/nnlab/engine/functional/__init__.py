"""Kernels of the convolution family, twice: ``reference`` (plain loops, readable, used by the
tests and the exercises) and ``vectorized`` (im2col/col2im and strided views with BLAS, used
by the layers). Both modules implement exactly the functions below, with the same signatures,
and agree to floating-point rounding. NumPy only.

Conventions (PyTorch's): images are NCHW, sequences NCL; conv weights are (C_out, C_in/groups,
kH, kW) (groups is always 1 here); transposed-conv weights are (C_in, C_out, kH, kW); all
spatial arguments are ``(int, int)`` pairs already normalised by the caller (padding is
symmetric: ``padding=(ph, pw)`` pads ph rows at the top and ph at the bottom); ``dilation=1``
means no dilation; inputs are never modified.

Output sizes (per spatial axis, input size n, kernel k, stride s, padding p, dilation d):

* convolution:          out = floor((n + 2p - d(k-1) - 1) / s) + 1
* transposed conv:      out = (n - 1)s - 2p + d(k-1) + output_padding + 1
* max / average pool:   out = floor((n + 2p - k) / s) + 1   (padding adds -inf / 0)
* upsample (factor f):  out = n * f

Functions (``Pair = tuple[int, int]``):

``conv2d_forward(x, w, b, stride, padding, dilation) -> y``
    x (N, C, H, W), w (O, C, kH, kW), b (O,) or None -> y (N, O, Ho, Wo).
``conv2d_backward(dy, x, w, stride, padding, dilation, need_dx=True) -> (dx | None, dw, db)``
    Gradients of sum(y * dy); db is dy summed over N, Ho, Wo.
``conv_transpose2d_forward(x, w, b, stride, padding, output_padding, dilation) -> y``
    x (N, C, H, W), w (C, O, kH, kW) -> y (N, O, Ho, Wo); the adjoint (gradient with respect
    to the input) of conv2d with the same w, stride, padding and dilation.
``conv_transpose2d_backward(dy, x, w, stride, padding, output_padding, dilation, need_dx=True) -> (dx | None, dw, db)``
``maxpool2d_forward(x, kernel, stride, padding) -> (y, argmax)``
    argmax (N, C, Ho, Wo) int64: the flat index into the *unpadded* H*W plane of each max
    (the first maximum in row-major window order when there are ties, as PyTorch).
``maxpool2d_backward(dy, argmax, x_shape) -> dx``
``avgpool2d_forward(x, kernel, stride, padding, count_include_pad=True) -> y``
``avgpool2d_backward(dy, x_shape, kernel, stride, padding, count_include_pad=True) -> dx``
``upsample_nearest2d_forward(x, scale) -> y`` / ``upsample_nearest2d_backward(dy, scale) -> dx``
    scale (int, int); y[..., i, j] = x[..., i // sh, j // sw].
``upsample_bilinear2d_forward(x, scale) -> y`` / ``upsample_bilinear2d_backward(dy, x_shape, scale) -> dx``
    align_corners=False, as ``torch.nn.functional.interpolate(mode="bilinear")``: source
    coordinate (i + 0.5) / s - 0.5 clamped at 0, neighbours clamped at the border.

The 1-D layers (Conv1d, MaxPool1d, AvgPool1d) call these with H = 1 (kernel (1, k)).
Import a module explicitly: ``from nnlab.engine.functional import reference``.
"""

KERNELS = ("reference", "vectorized")

#: the contract: every kernel module defines exactly these functions
FUNCTIONS = (
    "conv2d_forward", "conv2d_backward", "conv_transpose2d_forward", "conv_transpose2d_backward",
    "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",
    "upsample_nearest2d_forward", "upsample_nearest2d_backward",
    "upsample_bilinear2d_forward", "upsample_bilinear2d_backward",
)
