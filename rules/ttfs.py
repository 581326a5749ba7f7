"""Training for TTFS networks (Stanojevic et al., Nature Communications 2024), in numpy.

1. `ReLUTraining`: a ReLU MLP on digits (softmax cross-entropy, Adam), the network that
   `neurochip.ttfs.TTFSNetwork.from_relu` maps exactly onto time-to-first-spike neurons.
2. `TTFSFineTune`: gradient descent on the spike times themselves, with the exact gradient of
   the closed form of the spike time (no surrogate), and per-layer window adaptation.
   slope "B1" (the paper's model) follows the ReLU training trajectory exactly; slope "weights"
   (the potential keeps its input slope after t_min) shows why B1 is needed: its gradients
   vanish or explode with depth.

Data: sklearn digits, pixels / 16, the fixed stratified split (test_size 0.25, random_state 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurochip.mapping.ttfs import TTFSNetwork


def digits_data():
    """(x_train, y_train, x_test, y_test): pixels / 16 in [0, 1], the project's fixed split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    return x_tr, y_tr, x_te, y_te


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
    B = len(y)
    loss = float(-np.log(p[np.arange(B), y] + 1e-300).mean())
    g = p.copy()
    g[np.arange(B), y] -= 1.0
    return loss, g / B


# --------------------------------------------------------------------------- ReLU reference
@dataclass(frozen=True)
class ReLUTraining:
    """Adam on the mean softmax cross-entropy of a ReLU MLP.

        a_0 = x, a_n = ReLU(W_n a_{n-1} + b_n) (n < L), z = W_L a_{L-1} + b_L
        m <- beta1 m + (1 - beta1) g, v <- beta2 v + (1 - beta2) g^2,
        p <- p - lr (m / (1 - beta1^k)) / (sqrt(v / (1 - beta2^k)) + eps)
    Loss: mean CE + act_l1 * sum_n mean_{samples, units}(a_n) over the hidden layers (an L1
    activity penalty: fewer active ReLUs = fewer TTFS spikes).
    Mini-batches of `batch` samples, reshuffled each epoch from `seed`.
    """

    sizes: tuple = (64, 128, 64, 10)
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
            raise ValueError(f"ReLUTraining: need epochs >= 0, batch >= 1, lr > 0; got {self}")


def relu_grads(W, b, x, y, act_l1=0.0):
    """(loss, dL/dW list, dL/db list) of the ReLU MLP on a batch (see ReLUTraining)."""
    acts = [x]
    for n in range(len(W) - 1):
        acts.append(np.maximum(acts[-1] @ W[n].T + b[n], 0.0))
    z = acts[-1] @ W[-1].T + b[-1]
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
    def __init__(self, params, cfg):
        self.cfg = cfg
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.k = 0

    def step(self, params, grads):
        c = self.cfg
        self.k += 1
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= c.beta1
            m += (1 - c.beta1) * g
            v *= c.beta2
            v += (1 - c.beta2) * g * g
            p -= c.lr * (m / (1 - c.beta1 ** self.k)) / (np.sqrt(v / (1 - c.beta2 ** self.k)) + c.eps)


def _fit(cfg, W, b, x, y, grad_fn, epochs, progress=False, after_step=None):
    """Shared mini-batch loop: the same batches and optimizer for ReLU and TTFS training."""
    W = [w.copy() for w in W]
    b = [v.copy() for v in b]
    opt = Adam(W + b, cfg)
    rng = np.random.default_rng(cfg.seed)
    epoch_loss, step_loss = [], []
    it = range(epochs)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=type(cfg).__name__)
    for _ in it:
        order = rng.permutation(len(x))
        losses = []
        for s in range(0, len(x), cfg.batch):
            idx = order[s:s + cfg.batch]
            loss, gW, gb = grad_fn(W, b, x[idx], y[idx])
            opt.step(W + b, gW + gb)
            losses.append(loss * len(idx))
            step_loss.append(loss)
            if after_step is not None:
                after_step(W, b, gW, gb)
        epoch_loss.append(float(sum(losses) / len(x)))
    return W, b, epoch_loss, step_loss


def train_relu(cfg: ReLUTraining, x, y, W=None, b=None, progress=False):
    """Train (from `W, b` or a seeded He init): (W, b, history with per-epoch and per-step loss)."""
    if W is None:
        W, b = init_params(cfg.sizes, cfg.seed)
    W, b, ep, st = _fit(cfg, W, b, x, y, lambda *a: relu_grads(*a, act_l1=cfg.act_l1), cfg.epochs, progress)
    return W, b, {"loss": ep, "step_loss": st}


def relu_accuracy(W, b, x, y) -> float:
    a = x
    for n in range(len(W) - 1):
        a = np.maximum(a @ W[n].T + b[n], 0.0)
    return float(np.mean(np.argmax(a @ W[-1].T + b[-1], axis=1) == y))


# --------------------------------------------------------------------------- TTFS training
@dataclass(frozen=True)
class TTFSFineTune:
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
    Loss and Adam as in `ReLUTraining` (act_l1 penalises x_i = t_max - t_i of every spike:
    dR/dt_i = -act_l1 / (samples x units)).
    """

    slope: str = "B1"
    epochs: int = 10
    lr: float = 2e-3
    batch: int = 32
    seed: int = 0
    margin: float = 1.05
    edge: float = 0.95
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    act_l1: float = 0.0

    def __post_init__(self):
        if self.slope not in ("B1", "weights"):
            raise ValueError(f"TTFSFineTune.slope must be 'B1' or 'weights', got {self.slope!r}")
        if not (0 < self.edge <= 1 and self.margin >= 1):
            raise ValueError(f"TTFSFineTune: need 0 < edge <= 1 and margin >= 1, got edge {self.edge}, "
                             f"margin {self.margin}")


def ttfs_forward(W, b, windows, x, slope="B1"):
    """Spike times per stage (input first, inf = silent), the caches of each layer, logits."""
    t = np.where(x > 0, windows[0][1] - x, np.inf)
    times, caches = [t], []
    L = len(W)
    for n in range(L):
        t_read = windows[n + 1][0] if n < L - 1 else windows[-1][1]
        spk = np.isfinite(t)
        D = np.where(spk, t_read - np.where(spk, t, 0.0), 0.0)
        V = D @ W[n].T
        if n == L - 1:
            caches.append(dict(D=D, spk=spk))
            return times, caches, V + b[n]
        t_min, t_max = windows[n + 1]
        width = t_max - t_min
        theta = width - b[n]
        with np.errstate(divide="ignore", invalid="ignore"):
            if slope == "B1":
                s = np.ones_like(V)
                u = theta - V
            else:
                s = spk.astype(np.float64) @ W[n].T
                u = np.where(s > 0, (theta - V) / s, np.inf)
        sat = V >= theta
        live = (u > 0) & (u < width) & ~sat          # spikes strictly inside: gradient flows
        t_new = np.where(sat, t_min, np.where(live, t_min + u, np.inf))
        unclipped = np.where(sat & (slope == "B1"), V + b[n], np.where(np.isfinite(u), width - u, 0.0))
        caches.append(dict(D=D, spk=spk, s=s, u=u, live=live, unclipped=unclipped, width=width))
        times.append(t_new)
        t = t_new


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
        if slope == "B1":
            gV = -gl                          # dt/dV = -1, dt/db = -1
            gW[n] = gV.T @ c["D"]
            gb[n] = gV.sum(axis=0)
        else:
            s = np.where(c["live"], c["s"], 1.0)
            gV = -gl / s
            gW[n] = gV.T @ c["D"] + (-gl * np.where(c["live"], c["u"], 0.0) / s).T @ c["spk"].astype(np.float64)
            gb[n] = gV.sum(axis=0)
        g_t = -(gV @ W[n]) * caches[n]["spk"]  # dt_i/dt_j = -dt_i/dV_i W_ij
    return loss, gW, gb, gt_norms


def adapt_windows(W, b, windows, x, slope="B1", margin=1.05, edge=0.95, max_rounds=None):
    """Re-widen (never narrow) hidden windows whose largest unclipped activation on x exceeds
    `edge` x the width; later windows shift. Returns the new windows list."""
    windows = [tuple(w) for w in windows]
    rounds = max_rounds or (2 * len(W) + 2)
    for _ in range(rounds):
        _, caches, _ = ttfs_forward(W, b, windows, x, slope)
        changed = False
        new = [windows[0]]
        for n in range(1, len(windows)):
            width = windows[n][1] - windows[n][0]
            top = float(caches[n - 1]["unclipped"].max())
            if top > edge * width:
                width = margin * top
                changed = True
            new.append((new[-1][1], new[-1][1] + width))
        windows = new
        if not changed:
            break
    return windows


def finetune(net: TTFSNetwork, x, y, cfg: TTFSFineTune, progress=False):
    """Train a TTFSNetwork (float time, no pooling) by exact spike-time gradients.
    Returns (TTFSNetwork, history: per-epoch loss, per-step loss, per-step weight-gradient norm
    per layer, per-step dL/dt norm per hidden layer, final windows)."""
    if any(p is not None for p in net.pools):
        raise ValueError("finetune: pooling layers are not supported (train the MLP part)")
    state = {"windows": list(net.windows)}
    gnorms, tnorms = [], []

    def grad_fn(W, b, xb, yb):
        state["windows"] = adapt_windows(W, b, state["windows"], xb, cfg.slope, cfg.margin, cfg.edge,
                                         max_rounds=None if cfg.slope == "B1" else 3)
        loss, gW, gb, gt = ttfs_grads(W, b, state["windows"], xb, yb, cfg.slope, cfg.act_l1)
        gnorms.append([float(np.sqrt(np.sum(a * a) + np.sum(c * c))) for a, c in zip(gW, gb)])
        tnorms.append(gt)
        return loss, gW, gb

    W, b, ep, st = _fit(cfg, net.weights, net.biases, x, y, grad_fn, cfg.epochs, progress)
    out = TTFSNetwork(W, b, state["windows"], net.time_bits)
    return out, {"loss": ep, "step_loss": st, "grad_norms": gnorms, "dt_norms": tnorms,
                 "windows": state["windows"]}
