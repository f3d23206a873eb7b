#!/usr/bin/python3
"""bench_nn_torch.py - the PyTorch side of bench/bench_nn.c.

    bench_nn_torch.py CARD SECONDS BATCH [BATCH ...]

Builds the card's network in PyTorch (tools/export_torch.py's CardNet, the
same module the parity goldens come from) with the card's weights (seeded or
safetensors), checks the card's self-test, then prints one line per batch
size: "BATCH RECORDS_PER_S" for single-threaded CPU inference
(torch.set_num_threads(1), inference_mode, eval)."""
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import export_torch as et  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", "bench reads F32 only"
        b, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(raw[base + b:base + e], dtype="<f4").reshape(v["shape"]).copy())
    return out


def main():
    card_path, seconds, batches = sys.argv[1], float(sys.argv[2]), [int(b) for b in sys.argv[3:]]
    torch.set_num_threads(1)
    card = yaml.safe_load(open(card_path))
    layers = [{k: v for k, v in l.items() if k != "shape" or l["type"] == "reshape"}
              for l in card["layers"]]
    ch = int(card["input"].get("channels", 1))
    net = et.CardNet(layers, channels=ch)
    w = card["weights"]
    if isinstance(w, dict):
        et.seed_weights(net, int(w["seed"]))
    else:
        net.load_state_dict(read_safetensors(os.path.join(os.path.dirname(card_path), w)), strict=False)
    net.eval()
    st = card["selftest"]
    xs = np.stack([et.test_input(int(st["seed"]), i, 512 * ch) for i in range(int(st["count"]))])
    with torch.inference_mode():
        ys = net(torch.from_numpy(xs)).numpy()
    err = float(np.max(np.abs(ys - np.array(st["outputs"], dtype=np.float64))))
    print("selftest %.3g" % err, flush=True)
    rng = np.random.default_rng(0)
    for B in batches:
        x = torch.from_numpy(rng.random((B, 512 * ch), dtype=np.float32))
        with torch.inference_mode():
            net(x)  # warm-up
            t1 = time.thread_time()
            net(x)
            one = time.thread_time() - t1
            k = 1 if one > 0.005 else int(0.005 / max(one, 1e-7)) + 1
            n, t0, best = 0, time.perf_counter(), 1e30
            while True:  # groups of k calls, CPU time of this thread, as bench_nn.c
                t1 = time.thread_time()
                for _ in range(k):
                    net(x)
                dt = (time.thread_time() - t1) / k
                if dt > 0:
                    best = min(best, dt)
                n += 1
                if time.perf_counter() - t0 >= seconds and n >= 3:
                    break
        print("%d %.1f" % (B, B / best), flush=True)


if __name__ == "__main__":
    main()
