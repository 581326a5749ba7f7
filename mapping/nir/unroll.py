"""Convolutions and pooling unrolled into sparse connectivity matrices, PyTorch semantics.

Every function returns (M, out_shape) with M a scipy.sparse CSR matrix of shape
(prod(out_shape), prod(in_shape)) acting on C-order flattened tensors (channel first), so
that `M @ x.ravel() == op(x).ravel()`.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _pair(x, n=2):
    a = np.atleast_1d(np.asarray(x, dtype=np.int64)).ravel()
    return tuple(int(v) for v in (np.repeat(a, n) if a.size == 1 else a))


def conv_padding(padding, kernel, dilation, stride) -> tuple[tuple[int, int], ...]:
    """(left, right) padding per spatial dim; 'same' pads dilation*(k-1) split with the extra
    element on the right (PyTorch), and needs stride 1; 'valid' pads nothing."""
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in kernel)
        if padding != "same":
            raise ValueError(f"padding must be 'same', 'valid' or integers, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' needs stride 1 (as in PyTorch)")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in total)
    return tuple((p, p) for p in _pair(padding, len(kernel)))


def conv(weight, in_shape, stride=1, padding=0, dilation=1, groups=1):
    """Conv1d/Conv2d (any spatial rank): weight (C_out, C_in/groups, *k), in_shape (C_in, *n)."""
    weight = np.asarray(weight, dtype=np.float64)
    c_out, c_in_g = weight.shape[:2]
    kernel = weight.shape[2:]
    rank = len(kernel)
    in_shape = tuple(int(s) for s in in_shape)
    if len(in_shape) != rank + 1:
        raise ValueError(f"input shape {in_shape} does not match a {rank}-d kernel (expected (C, {'x'.join('n' * rank)}))")
    c_in, spatial = in_shape[0], in_shape[1:]
    groups = int(groups)
    if c_in != c_in_g * groups or c_out % groups:
        raise ValueError(f"channels do not fit groups={groups}: C_in {c_in}, weight {weight.shape}")
    stride, dilation = _pair(stride, rank), _pair(dilation, rank)
    pads = conv_padding(padding, kernel, dilation, stride)
    out_sp = tuple((n + pl + pr - d * (k - 1) - 1) // s + 1
                   for n, (pl, pr), d, k, s in zip(spatial, pads, dilation, kernel, stride))
    if any(o <= 0 for o in out_sp):
        raise ValueError(f"convolution output would be empty: input {spatial}, kernel {kernel}")
    per_out, per_in = int(np.prod(out_sp)), int(np.prod(spatial))
    out_grid = np.stack(np.meshgrid(*[np.arange(o) for o in out_sp], indexing="ij"), -1).reshape(-1, rank)
    out_flat = np.ravel_multi_index(out_grid.T, out_sp) if rank else np.zeros(1, np.int64)
    rows, cols, vals = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for kidx in np.ndindex(*kernel):  # each kernel tap: every (C_out, C_in) pair with a nonzero weight there
        pos = out_grid * np.array(stride) - np.array([p[0] for p in pads]) + np.array(kidx) * np.array(dilation)
        ok = np.all((pos >= 0) & (pos < np.array(spatial)), axis=1)
        co, ci_g = np.nonzero(weight[(Ellipsis,) + kidx])
        ci = co // (c_out // groups) * c_in_g + ci_g
        rows.append((co[:, None] * per_out + out_flat[ok]).ravel())
        cols.append((ci[:, None] * per_in + np.ravel_multi_index(pos[ok].T, spatial)).ravel())
        vals.append(np.repeat(weight[(co, ci_g) + kidx], np.count_nonzero(ok)))
    M = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(c_out * per_out, c_in * per_in))
    M.sum_duplicates()
    return M, (c_out,) + out_sp


def pool2d(in_shape, kernel_size, stride, padding, average: bool):
    """SumPool2d / AvgPool2d (count_include_pad=True, as PyTorch's default) per channel."""
    c = int(in_shape[0])
    k = _pair(kernel_size)
    w = np.zeros((c, 1) + k)
    w[:, 0] = 1.0 / (k[0] * k[1]) if average else 1.0
    return conv(w, in_shape, stride=_pair(stride), padding=_pair(padding), groups=c)


def bias_vector(bias, out_shape) -> np.ndarray:
    """A per-channel (C,) or full bias broadcast over the flattened output."""
    b = np.asarray(bias, dtype=np.float64)
    n = int(np.prod(out_shape))
    if b.size == n:
        return b.ravel()
    if b.size == out_shape[0]:
        return np.repeat(b, n // out_shape[0])
    raise ValueError(f"bias of shape {b.shape} does not fit output {tuple(out_shape)}")
