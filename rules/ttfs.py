"""Training a TTFS network (Stanojevic et al., Nature Communications 2024) through its exact
spike times, in float time, and the one closed form of the B1 forward pass that this
fine-tuning and `neurochip.mapping.ttfs.TTFSNetwork.run` (float time) share.

`TTFSFineTune`: gradient descent on the spike times themselves, with the exact gradient of
the closed form of the spike time (no surrogate), and per-layer window adaptation. Slope
"B1" (the paper's model) follows the ReLU training trajectory exactly; slope "weights" (the
potential keeps its input slope after t_min) shows why B1 is needed: its gradients vanish
or explode with depth.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurochip.rules.relu import Training, fit, softmax_ce


@dataclass(frozen=True)
class TTFSFineTune(Training):
    """Gradient descent through exact spike times (float time, no surrogate).

    Layer n (window [t_min, t_max], width w = t_max - t_min, theta_i = w - b_i), spiking
    inputs j with times t_j <= t_min, D_j = t_min - t_j:
        V_i = sum_j W_ij D_j                                   (potential at t_min)
        slope "B1":      t_i = t_min + (theta_i - V_i)
            dt_i/dW_ij = -D_j,  dt_i/dt_j = W_ij,  dt_i/db_i = -1
        slope "weights": s_i = sum_j W_ij over spiking j,  t_i = t_min + (theta_i - V_i) / s_i
            (fires only if s_i > 0)
            dt_i/dW_ij = -D_j / s_i - (theta_i - V_i) / s_i^2,  dt_i/dt_j = W_ij / s_i,
            dt_i/db_i = -1 / s_i
    A neuron fires if t_min < t_i < t_max (else it is silent, or saturated at t_min when
    V_i > theta_i: both pass no gradient). Readout z_k = sum_j W_kj (t_min(L) - t_j) + b_k,
    dz_k/dt_j = -W_kj. dL/dt_j = sum_i dL/dt_i dt_i/dt_j, back through the layers.

    Window adaptation before every step: if a hidden layer's largest unclipped activation
    (t_max - t_i, or V_i + b_i at saturation) on the batch exceeds `edge` x its width, the width
    becomes `margin` x that activation and the later windows shift (B1: the thresholds follow,
    theta = w - b, so the network function is unchanged and no neuron saturates).
    Loss and Adam as in `Training` (act_l1 penalises x_i = t_max - t_i of every spike:
    dR/dt_i = -act_l1 / (samples x units)).
    """

    slope: str = "B1"
    epochs: int = 10
    margin: float = 1.05
    edge: float = 0.95

    def __post_init__(self):
        super().__post_init__()
        if self.slope not in ("B1", "weights"):
            raise ValueError(f"TTFSFineTune.slope must be 'B1' or 'weights', got {self.slope!r}")
        if not (0 < self.edge <= 1 and self.margin >= 1):
            raise ValueError(f"TTFSFineTune: need 0 < edge <= 1 and margin >= 1, got edge {self.edge}, "
                             f"margin {self.margin}")


def ttfs_forward(W, b, windows, x, slope="B1", pools=None):
    """The closed form in float time (see TTFSFineTune; `neurochip.mapping.ttfs` for the
    windows): spike times per stage (input first, inf = silent; after hidden layer n the
    min-pooled stage when pools[n] holds groups (n_pool, k), -1 padding), the caches of each
    layer (`saturated`: V_i > theta_i, fired at t_min with a clipped activation), logits."""
    t = np.where(x > 0, windows[0][1] - x, np.inf)
    times, caches = [t], []
    for n in range(len(W)):
        t_read = windows[n + 1][0] if n < len(W) - 1 else windows[-1][1]
        spk = np.isfinite(t)
        D = np.where(spk, t_read - t, 0.0)
        V = D @ W[n].T
        if n == len(W) - 1:
            caches.append(dict(D=D, spk=spk))
            return times, caches, V + b[n]
        t_min, t_max = windows[n + 1]
        width = t_max - t_min
        theta = width - b[n]
        s = np.ones_like(V) if slope == "B1" else spk.astype(np.float64) @ W[n].T
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(s > 0, (theta - V) / s, np.inf)
        sat = V >= theta
        live = (u > 0) & (u < width) & ~sat          # spikes strictly inside: gradient flows
        t = np.where(sat, t_min, np.where(live, t_min + u, np.inf))
        unclipped = np.where(sat & (slope == "B1"), V + b[n], np.where(np.isfinite(u), width - u, 0.0))
        caches.append(dict(D=D, spk=spk, s=s, u=u, live=live, unclipped=unclipped, saturated=V > theta))
        times.append(t)
        if pools is not None and pools[n] is not None:
            t = np.where(pools[n][None] >= 0, t[:, np.maximum(pools[n], 0)], np.inf).min(axis=2)
            times.append(t)


def ttfs_grads(W, b, windows, x, y, slope="B1", act_l1=0.0):
    """(loss, dL/dW, dL/db, dL/dt norms per hidden stage) by exact spike-time backprop."""
    times, caches, z = ttfs_forward(W, b, windows, x, slope)
    loss, g = softmax_ce(z, y)
    for n, t in enumerate(times[1:]):
        loss += act_l1 * float(np.where(np.isfinite(t), windows[n + 1][1] - t, 0.0).mean())
    L = len(W)
    gW, gb = [None] * L, [None] * L
    c = caches[-1]
    gW[-1] = g.T @ c["D"]
    gb[-1] = g.sum(axis=0)
    g_t = -(g @ W[-1]) * c["spk"]           # dL/dt of the last hidden layer's spikes
    gt_norms = [None] * (L - 1)
    for n in range(L - 2, -1, -1):
        c = caches[n]
        if act_l1:
            g_t = g_t - act_l1 / g_t.size * np.isfinite(times[n + 1])
        gt_norms[n] = float(np.linalg.norm(g_t))
        gl = g_t * c["live"]
        s = np.where(c["live"], c["s"], 1.0)   # B1: s = 1, dt/dV = -1, dt/db = -1
        gV = -gl / s
        gW[n] = gV.T @ c["D"]
        if slope != "B1":
            gW[n] = gW[n] + (-gl * np.where(c["live"], c["u"], 0.0) / s).T @ c["spk"].astype(np.float64)
        gb[n] = gV.sum(axis=0)
        g_t = -(gV @ W[n]) * c["spk"]  # dt_i/dt_j = -dt_i/dV_i W_ij
    return loss, gW, gb, gt_norms


def adapt_windows(W, b, windows, x, slope="B1", margin=1.05, edge=0.95, max_rounds=None):
    """Re-widen (never narrow) hidden windows whose largest unclipped activation on x exceeds
    `edge` x the width; later windows shift. Returns the new windows list."""
    for _ in range(max_rounds or 2 * len(W) + 2):
        _, caches, _ = ttfs_forward(W, b, windows, x, slope)
        changed = False
        new = [tuple(windows[0])]
        for (t_min, t_max), cache in zip(windows[1:], caches):
            width = t_max - t_min
            top = float(cache["unclipped"].max())
            if top > edge * width:
                width = margin * top
                changed = True
            new.append((new[-1][1], new[-1][1] + width))
        windows = new
        if not changed:
            break
    return windows


def finetune(weights, biases, windows, x, y, cfg: TTFSFineTune, progress=False):
    """Train a TTFS network (float time, no pooling) by exact spike-time gradients.
    Returns (weights, biases, history: per-epoch loss, per-step loss, per-step weight-gradient
    norm per layer, per-step dL/dt norm per hidden layer, final windows)."""
    state = {"windows": list(windows)}
    gnorms, tnorms = [], []

    def grad_fn(W, b, xb, yb):
        state["windows"] = adapt_windows(W, b, state["windows"], xb, cfg.slope, cfg.margin, cfg.edge,
                                         max_rounds=None if cfg.slope == "B1" else 3)
        loss, gW, gb, gt = ttfs_grads(W, b, state["windows"], xb, yb, cfg.slope, cfg.act_l1)
        gnorms.append([float(np.sqrt(np.sum(a * a) + np.sum(c * c))) for a, c in zip(gW, gb)])
        tnorms.append(gt)
        return loss, gW, gb

    W, b, ep, st = fit(cfg, weights, biases, x, y, grad_fn, progress)
    return W, b, {"loss": ep, "step_loss": st, "grad_norms": gnorms, "dt_norms": tnorms,
                  "windows": state["windows"]}
