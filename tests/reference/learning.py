"""Slow float64 reference implementations of learning rules for a layered spiking network.

One sample, T steps, hidden spiking layers l = 1..L and a memoryless readout. Code is
0-based in time (row t of an array is step t+1) with an explicit zero initial state.

    s^0[t] = x[t]                      u^l[0] = 0, s^l[0] = 0
    I^l[t] = W_l @ s^{l-1}[t]
    u^l[t] = lam * (u^l[t-1] - theta * s^l[t-1]) + I^l[t]      (soft reset, OTTT form)
    s^l[t] = 1.0 if u^l[t] > theta else 0.0                     (strict >)
    o[t]   = Wo @ s^L[t]
    L[t]   = (1-gamma) * CE(o[t], y) + gamma * mean_k (o_k[t] - onehot(y)_k)^2
    L      = (1/T) * sum_t L[t]
    dL[t]/do[t] = (1-gamma) * (softmax(o[t]) - onehot(y)) + gamma * 2 * (o[t] - onehot(y)) / C
    sg(u)  = alpha * sig(alpha*(u-theta)) * (1 - sig(alpha*(u-theta)))   (replaces dH/du)

reset_grad="detached" treats s^l[t-1] in the reset term as a constant; "full" also
differentiates it (ds/du = sg(u)), adding -lam*theta*sg(u^l[t-1]) to du^l[t]/du^l[t-1].
Ws = [W1, ..., WL, Wo], W_l of shape (n_l, n_{l-1}), Wo of shape (C, n_L).
"""
import numpy as np


def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # logistic, overflow-free


def surrogate(u, theta, alpha):
    """sg(u) = alpha * sig(alpha*(u-theta)) * (1 - sig(alpha*(u-theta)))."""
    p = _sig(alpha * (np.asarray(u, dtype=float) - theta))
    return alpha * p * (1.0 - p)


def _onehot(y, C):
    z = np.zeros(C)
    z[y] = 1.0
    return z


def _softmax(o):
    e = np.exp(o - np.max(o))
    return e / e.sum()


def step_loss(o, y, gamma):
    """L[t] = (1-gamma) * CE(o, y) + gamma * MSE(o, onehot(y))."""
    log_softmax = o - np.max(o) - np.log(np.sum(np.exp(o - np.max(o))))
    ce = -log_softmax[y]
    mse = np.mean((o - _onehot(y, len(o))) ** 2)
    return (1.0 - gamma) * ce + gamma * mse


def step_loss_grad(o, y, gamma):
    """dL[t]/do[t] = (1-gamma) * (softmax(o) - onehot(y)) + gamma * 2 * (o - onehot(y)) / C."""
    z = _onehot(y, len(o))
    return (1.0 - gamma) * (_softmax(o) - z) + gamma * 2.0 * (o - z) / len(o)


def _check_reset_grad(reset_grad):
    if reset_grad not in ("detached", "full"):
        raise ValueError(f"reset_grad must be 'detached' or 'full', got {reset_grad!r}")


def forward(x, Ws, lam, theta):
    """Run the network; returns {"u": [(T, n_l)] per hidden layer, "s": same, "o": (T, C)}."""
    x = np.asarray(x, dtype=float)
    T = x.shape[0]
    hidden, Wo = [np.asarray(W, dtype=float) for W in Ws[:-1]], np.asarray(Ws[-1], dtype=float)
    us = [np.zeros((T, W.shape[0])) for W in hidden]
    ss = [np.zeros((T, W.shape[0])) for W in hidden]
    o = np.zeros((T, Wo.shape[0]))
    for t in range(T):
        below = x[t]
        for l, W in enumerate(hidden):
            u_prev = us[l][t - 1] if t > 0 else np.zeros(W.shape[0])
            s_prev = ss[l][t - 1] if t > 0 else np.zeros(W.shape[0])
            us[l][t] = lam * (u_prev - theta * s_prev) + W @ below
            ss[l][t] = (us[l][t] > theta).astype(float)
            below = ss[l][t]
        o[t] = Wo @ below
    return {"u": us, "s": ss, "o": o}


def loss(x, y, Ws, lam, theta, gamma):
    """Total loss L = (1/T) * sum_t L[t]."""
    o = forward(x, Ws, lam, theta)["o"]
    return float(np.mean([step_loss(o[t], y, gamma) for t in range(len(o))]))


def bptt_grad(x, y, Ws, lam, theta, alpha, gamma, reset_grad):
    """Exact dL/dW of the surrogate model by backpropagation through time.

    Going backwards (t = T..1, l = L..1), with d_u^l[T+1] = 0:
        d_s^L[t] = Wo.T @ e[t],  e[t] = dL[t]/do[t] / T
        d_s^l[t] = W_{l+1}.T @ d_u^{l+1}[t]                          (l < L)
        d_s^l[t] += -lam * theta * d_u^l[t+1]                         (only "full")
        d_u^l[t] = d_s^l[t] * sg(u^l[t]) + lam * d_u^l[t+1]
        dL/dW_l += outer(d_u^l[t], s^{l-1}[t]),   dL/dWo += outer(e[t], s^L[t])
    """
    _check_reset_grad(reset_grad)
    x = np.asarray(x, dtype=float)
    T, L = x.shape[0], len(Ws) - 1
    Ws = [np.asarray(W, dtype=float) for W in Ws]
    fw = forward(x, Ws, lam, theta)
    grads = [np.zeros_like(W) for W in Ws]
    d_u_next = [np.zeros(W.shape[0]) for W in Ws[:-1]]  # dL/du^l[t+1]
    for t in reversed(range(T)):
        e = step_loss_grad(fw["o"][t], y, gamma) / T
        grads[L] += np.outer(e, fw["s"][L - 1][t])
        d_s = Ws[L].T @ e
        for l in reversed(range(L)):  # 0-based hidden layer index
            if reset_grad == "full":
                d_s = d_s - lam * theta * d_u_next[l]
            d_u = d_s * surrogate(fw["u"][l][t], theta, alpha) + lam * d_u_next[l]
            below = x[t] if l == 0 else fw["s"][l - 1][t]
            grads[l] += np.outer(d_u, below)
            d_s = Ws[l].T @ d_u
            d_u_next[l] = d_u
    return grads


def rtrl_grad(x, y, Ws, lam, theta, alpha, gamma, reset_grad):
    """The same gradient in forward mode (real-time recurrent learning).

    P[l][m][t] = du^l[t]/dW_m, shape (n_l,) + W_m.shape, for m <= l, P[.][.][0] = 0:
        Q[l][m][t] = sg(u^l[t]) * P[l][m][t]                      (= ds^l[t]/dW_m)
        P[l][m][t] = lam * P[l][m][t-1]
                     - lam * theta * Q[l][m][t-1]                 (only "full")
                     + W_l @ Q[l-1][m][t]                         (m < l)
                     + D[k, i, j] = delta_ki s^{l-1}_j[t]         (m = l)
        dL/dW_m += sum_k e_k[t] * (Wo @ Q[L][m][t])_k,  dL/dWo += outer(e[t], s^L[t])
    """
    _check_reset_grad(reset_grad)
    x = np.asarray(x, dtype=float)
    T, L = x.shape[0], len(Ws) - 1
    Ws = [np.asarray(W, dtype=float) for W in Ws]
    fw = forward(x, Ws, lam, theta)
    grads = [np.zeros_like(W) for W in Ws]
    P = [[np.zeros((Ws[l].shape[0],) + Ws[m].shape) for m in range(l + 1)] for l in range(L)]
    Q_prev = [[np.zeros_like(P[l][m]) for m in range(l + 1)] for l in range(L)]
    for t in range(T):
        Q = [[None] * (l + 1) for l in range(L)]
        for l in range(L):
            n_l = Ws[l].shape[0]
            below = x[t] if l == 0 else fw["s"][l - 1][t]
            sg_now = surrogate(fw["u"][l][t], theta, alpha)
            for m in range(l + 1):
                new = lam * P[l][m]
                if reset_grad == "full":
                    new = new - lam * theta * Q_prev[l][m]
                if m < l:
                    new = new + np.tensordot(Ws[l], Q[l - 1][m], axes=1)
                else:
                    direct = np.zeros_like(new)
                    for k in range(n_l):
                        direct[k, k, :] = below
                    new = new + direct
                P[l][m] = new
                Q[l][m] = sg_now.reshape((n_l,) + (1,) * (new.ndim - 1)) * new
        e = step_loss_grad(fw["o"][t], y, gamma) / T
        grads[L] += np.outer(e, fw["s"][L - 1][t])
        back = Ws[L].T @ e  # sum_k e_k * Wo[k, :]
        for m in range(L):
            grads[m] += np.tensordot(back, Q[L - 1][m], axes=1)
        Q_prev = Q
    return grads


def _ottt_step(below_s, traces, us, Ws, e, theta, alpha):
    """Instantaneous OTTT backward pass at one step; returns that step's gradient list.

    below_s[l] = s^{l}[t] (index 0 = input), traces[l] = a^{l}[t], us[l] = u^{l+1}[t].
        readout += outer(e, s^L[t]);  g_s^L = Wo.T @ e
        for l = L..1: g_u^l = g_s^l * sg(u^l[t]); W_l += outer(g_u^l, a^{l-1}[t]); g_s^{l-1} = W_l.T @ g_u^l
    """
    L = len(Ws) - 1
    g = [np.zeros_like(W) for W in Ws]
    g[L] = np.outer(e, below_s[L])
    g_s = Ws[L].T @ e
    for l in reversed(range(L)):
        g_u = g_s * surrogate(us[l], theta, alpha)
        g[l] = np.outer(g_u, traces[l])
        g_s = Ws[l].T @ g_u
    return g


def _ottt_run(x, y, Ws, lam, theta, alpha, gamma, eta):
    """OTTT over one sample. eta=None: fixed weights, return accumulated gradient (OTTT_A).
    Otherwise: W -= eta * step gradient at the end of every step; return new weights (OTTT_O)."""
    x = np.asarray(x, dtype=float)
    T, L = x.shape[0], len(Ws) - 1
    Ws = [np.array(W, dtype=float) for W in Ws]  # copies
    grads = [np.zeros_like(W) for W in Ws]
    u = [np.zeros(W.shape[0]) for W in Ws[:-1]]
    s = [np.zeros(W.shape[0]) for W in Ws[:-1]]
    traces = [np.zeros(x.shape[1])] + [np.zeros(W.shape[0]) for W in Ws[:-1]]  # a^0..a^L
    for t in range(T):
        below_s = [x[t]]
        for l in range(L):  # forward with the current weights
            u[l] = lam * (u[l] - theta * s[l]) + Ws[l] @ below_s[l]
            s[l] = (u[l] > theta).astype(float)
            below_s.append(s[l])
        traces = [lam * a + s_ for a, s_ in zip(traces, below_s)]
        o = Ws[L] @ below_s[L]
        e = step_loss_grad(o, y, gamma) / T
        g = _ottt_step(below_s, traces, u, Ws, e, theta, alpha)
        for i in range(len(Ws)):
            if eta is None:
                grads[i] += g[i]
            else:
                Ws[i] -= eta * g[i]
    return grads if eta is None else Ws


def ottt_grad(x, y, Ws, lam, theta, alpha, gamma):
    """OTTT_A: sum over t of the instantaneous gradients with presynaptic traces
    a^{l-1}[t] = lam * a^{l-1}[t-1] + s^{l-1}[t] (a[0] = 0, s^0 = x), weights fixed."""
    return _ottt_run(x, y, Ws, lam, theta, alpha, gamma, eta=None)


def ottt_online(x, y, Ws, lam, theta, alpha, gamma, eta):
    """OTTT_O: per step t, forward with current weights, update traces, backward with the
    same weights, then W -= eta * (step-t gradient incl. 1/T). Returns new weight copies."""
    return _ottt_run(x, y, Ws, lam, theta, alpha, gamma, eta=float(eta))


def random_problem(rng, sizes, T, C=None):
    """sizes = [n0, n1, ..., nL, C]. Returns (x, y, Ws): x = (rng.random((T, n0)) < 0.5) as float,
    then Ws[i] ~ rng.normal(0, 1.5/sqrt(fan_in)), then y = rng.integers(C).
    C defaults to sizes[-1]; if given it must equal sizes[-1]."""
    if C is None:
        C = sizes[-1]
    if C != sizes[-1]:
        raise ValueError(f"C={C} differs from the readout size sizes[-1]={sizes[-1]}")
    x = (rng.random((T, sizes[0])) < 0.5).astype(float)
    Ws = [rng.normal(0.0, 1.5 / np.sqrt(n_in), size=(n_out, n_in))
          for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    y = int(rng.integers(C))
    return x, y, Ws
