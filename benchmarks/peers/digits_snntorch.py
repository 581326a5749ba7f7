"""snnTorch BPTT on the CPU for benchmarks/learning.py: the same 64 -> 128 -> 10 network
(Leaky, beta 0.875, subtract reset, linear readout of the hidden spikes each step, loss
averaged over the T steps), digits as Bernoulli spikes, SGD. Prints one JSON line:
samples per second at batch 1 (as on the chip) and at batch 64, and the test accuracy.

    python digits_snntorch.py T epochs        (a venv with torch, snntorch, scikit-learn)
"""
import json
import sys
import time

import numpy as np
import snntorch as snn
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

T, EPOCHS = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(2)
x, y = load_digits(return_X_y=True)
spikes = (np.random.default_rng(0).random((len(x), T, 64)) < x[:, None, :] / 16.0).astype(np.float32)
tr, te = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=0)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(64, 128, bias=False)
        self.lif = snn.Leaky(beta=0.875, reset_mechanism="subtract")
        self.fc2 = torch.nn.Linear(128, 10, bias=False)

    def forward(self, xb):
        mem = self.lif.init_leaky()
        outs = []
        for t in range(xb.shape[1]):
            spk, mem = self.lif(self.fc1(xb[:, t]), mem)
            outs.append(self.fc2(spk))
        return torch.stack(outs, 1)


def train(batch):
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    xt, yt = torch.tensor(spikes[tr]), torch.tensor(y[tr])
    t0 = time.perf_counter()
    for _ in range(EPOCHS):
        perm = torch.randperm(len(xt))
        for k in range(0, len(xt), batch):
            idx = perm[k:k + batch]
            o = net(xt[idx])
            loss = torch.nn.functional.cross_entropy(o.reshape(-1, 10), yt[idx].repeat_interleave(T))
            opt.zero_grad()
            loss.backward()
            opt.step()
    rate = EPOCHS * len(xt) / (time.perf_counter() - t0)
    with torch.no_grad():
        acc = (net(torch.tensor(spikes[te])).sum(1).argmax(1).numpy() == y[te]).mean()
    return rate, float(acc)


out = {}
for batch in (1, 64):
    rate, acc = train(batch)
    out[f"batch {batch}"] = {"samples_per_s": rate, "test_accuracy": acc}
out["versions"] = f"torch {torch.__version__}, snntorch {snn.__version__}"
print(json.dumps(out))
