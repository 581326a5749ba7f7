"""How snnTorch/Norse-style frameworks run a NIR graph: forward Euler on the NIR equations
in their own units, layers in order within a step (no delay on feed-forward edges), one
step of delay on self-recurrent edges. Slow and literal; for chains of Input, Affine,
Linear, LIF, CubaLIF and Output with optional self-recurrence through a Linear node."""
import numpy as np


def simulate(graph, x, dt, reset):
    nodes, edges = graph.nodes, graph.edges
    kind = {k: type(v).__name__ for k, v in nodes.items()}
    preds = {k: [a for a, b in edges if b == k] for k in nodes}
    neurons = [k for k in nodes if kind[k] in ("LIF", "CubaLIF")]
    order, seen = [], set()

    def visit(k):  # topological order along feed-forward edges
        if k in seen:
            return
        seen.add(k)
        for p in preds[k]:
            src = preds[p][0] if kind[p] in ("Affine", "Linear") else p
            if src != k:
                visit(src)
        order.append(k)

    for k in neurons:
        visit(k)
    state = {k: dict(v=np.zeros(len(nodes[k].v_threshold)), i=np.zeros(len(nodes[k].v_threshold)),
                     s=np.zeros(len(nodes[k].v_threshold), bool)) for k in neurons}
    out = {k: np.zeros((len(x), len(nodes[k].v_threshold)), bool) for k in neurons}
    for t in range(len(x)):
        now = {"in": x[t].astype(float)}
        for k in (o for o in order if o in neurons):
            n = nodes[k]
            cur = np.zeros(len(n.v_threshold))
            for p in preds[k]:
                lin = nodes[p]
                src = preds[p][0]
                spikes = state[src]["s"].astype(float) if src == k else now[src]  # self-loop: last step
                cur += lin.weight @ spikes + (lin.bias if kind[p] == "Affine" else 0)
            st = state[k]
            if kind[k] == "CubaLIF":
                st["i"] = st["i"] + dt / n.tau_syn * (-st["i"] + n.w_in * cur)
                drive = st["i"]
                tau = n.tau_mem
            else:
                drive, tau = cur, n.tau
            st["v"] = st["v"] + dt / tau * (n.v_leak - st["v"] + n.r * drive)
            s = st["v"] > n.v_threshold
            st["v"] = np.where(s, st["v"] - (n.v_threshold - n.v_reset) if reset == "subtract" else n.v_reset, st["v"])
            st["s"] = s
            now[k] = s.astype(float)
            out[k][t] = s
    return out
