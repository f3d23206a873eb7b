#!/usr/bin/python3
"""bench_train_torch.py - the PyTorch side of bench/bench_train.c.

    bench_train_torch.py CARD SECONDS BATCH

Builds the card's network as tools/export_torch.py's CardNet with the card's
seeded weights and times single-threaded training steps
(torch.set_num_threads(1)): zero_grad, forward, the class-weighted loss of
lib/nn (BCE on a sigmoid logit, or NLL on a log_softmax head), backward,
torch.optim.Adam.step. Prints "rec/s N" for the best group of 5 steps in
thread CPU time over SECONDS, as bench_train.c measures itself."""
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import export_torch as et  # noqa: E402


def main():
    card_path, seconds, B = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)
    card = yaml.safe_load(open(card_path))
    layers = [{k: v for k, v in l.items() if k != "shape" or l["type"] == "reshape"}
              for l in card["layers"]]
    ch = int(card["input"].get("channels", 1))
    net = et.CardNet(layers, channels=ch)
    w = card["weights"]
    et.seed_weights(net, int(w["seed"]) if isinstance(w, dict) else 1)
    net.train()
    omap, idx = card["output"]["map"], card["output"].get("index", 0)
    x = torch.from_numpy(np.stack([et.test_input(7, i, 512 * ch) for i in range(B)]))
    lab = torch.tensor([1 if i % 3 else 0 for i in range(B)])
    wt = torch.where(lab == 1, torch.tensor(0.75), torch.tensor(1.5))
    opt = torch.optim.Adam(net.parameters(), lr=1e-6)

    def step():
        opt.zero_grad()
        y = net(x)
        if omap == "sigmoid":
            per = F.binary_cross_entropy_with_logits(y[:, idx], lab.float(), reduction="none")
        else:
            tgt = torch.where(lab == 1, torch.tensor(idx), torch.tensor(1 - idx))
            per = -y.gather(1, tgt[:, None])[:, 0]
        (wt * per).mean().backward()
        opt.step()

    step()  # warm-up
    best, n, t0 = 1e30, 0, time.perf_counter()
    while True:
        t1 = time.thread_time()
        for _ in range(5):
            step()
        dt = (time.thread_time() - t1) / 5
        if dt > 0:
            best = min(best, dt)
        n += 1
        if n >= 3 and time.perf_counter() - t0 >= seconds:
            break
    print("rec/s %.1f" % (B / best), flush=True)


if __name__ == "__main__":
    main()
