"""The ReLU network that a TTFS network maps exactly (Stanojevic et al., Nature Communications
2024), and its baseline training: mini-batch Adam on softmax cross-entropy, in numpy. The
TTFS fine-tuning (`neurochip.rules.ttfs`) runs the same loop, batches and optimizer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm


def relu_forward(weights, biases, x, pools=None, pooled: bool = True):
    """The ReLU network y = W_L relu(... relu(W_1 x + b_1)) + b_L, max-pooled after hidden
    layer n where pools[n] holds groups (n_pool, k) (-1 pads): (activations per stage, input
    first, pooled stages included when `pooled`; logits)."""
    a = np.asarray(x, dtype=np.float64)
    acts = [a]
    for n, w in enumerate(weights[:-1]):
        a = np.maximum(a @ np.asarray(w).T + biases[n], 0.0)
        acts.append(a)
        if pools and pools[n] is not None:
            g = np.asarray(pools[n])
            a = np.where(g[None] >= 0, a[:, np.maximum(g, 0)], -np.inf).max(axis=2)
            if pooled:
                acts.append(a)
    return acts, a @ np.asarray(weights[-1]).T + biases[-1]


def init_params(sizes, seed: int = 0):
    """He-normal weights (n_out, n_in), zero biases."""
    rng = np.random.default_rng(seed)
    W = [rng.normal(0.0, np.sqrt(2.0 / a), (b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    return W, [np.zeros(b) for b in sizes[1:]]


def softmax_ce(z, y):
    """Mean cross-entropy of logits z (B, C) and labels y; returns (loss, dL/dz)."""
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(-np.log(p[rows, y] + 1e-300).mean())
    g = p.copy()
    g[rows, y] -= 1.0
    return loss, g / len(y)


@dataclass(frozen=True)
class Training:
    """Mini-batch Adam on the mean softmax cross-entropy of logits z:

        m <- beta1 m + (1 - beta1) g, v <- beta2 v + (1 - beta2) g^2,
        p <- p - lr (m / (1 - beta1^k)) / (sqrt(v / (1 - beta2^k)) + eps)
    plus act_l1 x the mean activation of each hidden layer (an L1 activity penalty: fewer
    active ReLUs = fewer TTFS spikes). Batches of `batch` samples, reshuffled each epoch from
    `seed`.
    """

    epochs: int = 40
    lr: float = 2e-3
    batch: int = 32
    seed: int = 0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    act_l1: float = 0.0

    def __post_init__(self):
        if self.epochs < 0 or self.batch < 1 or not self.lr > 0:
            raise ValueError(f"{type(self).__name__}: need epochs >= 0, batch >= 1, lr > 0; got {self}")


@dataclass(frozen=True)
class ReLUTraining(Training):
    """`Training` of a ReLU MLP: a_0 = x, a_n = ReLU(W_n a_{n-1} + b_n) (n < L), z = W_L a_{L-1} + b_L."""

    sizes: tuple = (64, 128, 64, 10)


def relu_grads(W, b, x, y, act_l1=0.0):
    """(loss, dL/dW list, dL/db list) of the ReLU MLP on a batch (see ReLUTraining)."""
    acts, z = relu_forward(W, b, x)
    loss, g = softmax_ce(z, y)
    loss += act_l1 * sum(float(a.mean()) for a in acts[1:])
    gW, gb = [None] * len(W), [None] * len(W)
    for n in range(len(W) - 1, -1, -1):
        gW[n] = g.T @ acts[n]
        gb[n] = g.sum(axis=0)
        if n:
            g = (g @ W[n] + act_l1 / acts[n].size) * (acts[n] > 0)
    return loss, gW, gb


class Adam:
    """Adam over a list of arrays, updated in place (equations in `Training`)."""

    def __init__(self, params, cfg):
        self.cfg = cfg
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.steps = 0

    def step(self, params, grads):
        c = self.cfg
        self.steps += 1
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m[...] = c.beta1 * m + (1 - c.beta1) * g
            v[...] = c.beta2 * v + (1 - c.beta2) * g * g
            p -= c.lr * (m / (1 - c.beta1 ** self.steps)) / (np.sqrt(v / (1 - c.beta2 ** self.steps)) + c.eps)


def fit(cfg, W, b, x, y, grad_fn, progress=False):
    """Mini-batch Adam for `cfg.epochs` epochs (ReLU and TTFS training share it): (W, b,
    per-epoch loss, per-step loss)."""
    W = [w.copy() for w in W]
    b = [v.copy() for v in b]
    opt = Adam(W + b, cfg)
    rng = np.random.default_rng(cfg.seed)
    epoch_loss, step_loss = [], []
    for _ in tqdm(range(cfg.epochs), desc=type(cfg).__name__, disable=not progress):
        order = rng.permutation(len(x))
        losses = []
        for s in range(0, len(x), cfg.batch):
            idx = order[s:s + cfg.batch]
            loss, gW, gb = grad_fn(W, b, x[idx], y[idx])
            opt.step(W + b, gW + gb)
            losses.append(loss * len(idx))
            step_loss.append(loss)
        epoch_loss.append(float(sum(losses) / len(x)))
    return W, b, epoch_loss, step_loss


def train_relu(cfg: ReLUTraining, x, y, W=None, b=None, progress=False):
    """Train (from `W, b` or a seeded He init): (W, b, history with per-epoch and per-step loss)."""
    if W is None:
        W, b = init_params(cfg.sizes, cfg.seed)
    W, b, ep, st = fit(cfg, W, b, x, y, lambda *a: relu_grads(*a, act_l1=cfg.act_l1), progress)
    return W, b, {"loss": ep, "step_loss": st}
