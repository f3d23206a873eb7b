#!/usr/bin/python3
"""export_torch.py - PyTorch models to cryoclean model cards + safetensors.

Run with Debian's /usr/bin/python3 (python3-torch 1.13, numpy). A model card
(docs/NN.md) names the architecture as a layer list; this script holds

  * the card layer lists of the supported architectures (cait-cnn, cnn, lstm,
    tscn, tst and a test-only "zoo" that uses every layer type),
  * a PyTorch interpreter for layer lists (CardNet) whose state_dict keys are
    exactly the tensor names the C engine expects, with tsai's TST encoder
    layer re-implemented line by line,
  * the seeded generators shared with lib/nn/model.c (weights and self-test
    inputs), a safetensors writer and a YAML card writer.

Usage:
  export_torch.py cait CKPT OUT.yaml            the Cait Lightning checkpoint
  export_torch.py state-dict ARCH SD.pt OUT.yaml  a state_dict of ARCH
  export_torch.py seeded ARCH SEED OUT.yaml     architecture with seeded weights
                                               (no weight file; the C engine
                                               regenerates them)
Options: --name NAME, --count N (self-test inputs), --tolerance T, --source S.
"""
import argparse
import datetime
import json
import math
import os
import pickle
import struct
import sys
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

M64 = (1 << 64) - 1

# ---- seeded generators (mirror lib/nn/model.c) ------------------------------


def fnv1a64(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001b3) & M64
    return h


def splitmix64(z):
    """z: numpy uint64 array (wrapping arithmetic) or int."""
    if isinstance(z, int):
        z = (z + 0x9e3779b97f4a7c15) & M64
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
        return z ^ (z >> 31)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9e3779b97f4a7c15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
        return z ^ (z >> np.uint64(31))


def rand_u(key, n, start=0):
    with np.errstate(over="ignore"):
        z = np.uint64(key) + np.arange(start, start + n, dtype=np.uint64)
    return (splitmix64(z) >> np.uint64(40)).astype(np.float64) * (1.0 / 16777216.0)


def init_values(seed, name, n, lo, hi):
    key = splitmix64(seed ^ fnv1a64(name))
    return (lo + (hi - lo) * rand_u(key, n)).astype(np.float32)


def test_input(seed, index, length):
    key = splitmix64(seed ^ fnv1a64("selftest-input-%d" % index))
    u = rand_u(key, 4)
    onset = math.floor(length * (0.2 + 0.3 * u[0]))
    amp, tr, td = 3.0 * u[1], 1.0 + 4.0 * u[2], 10.0 + 60.0 * u[3]
    t = np.arange(length, dtype=np.float64) - onset
    tp = np.maximum(t, 0.0)
    pulse = np.where(t >= 0, amp * (np.exp(-tp / td) - np.exp(-tp / tr)), 0.0)
    v = 0.3 * (rand_u(key, length, 4) - 0.5) + pulse
    lo, hi = v.min(), v.max()
    return ((v - lo) / (hi - lo)).astype(np.float32) if hi > lo else np.zeros(length, np.float32)


# ---- architectures ---------------------------------------------------------------


def L(type_, **kw):
    d = {"type": type_}
    d.update(kw)
    return d


# Input channels per architecture: 1 = the record; 2 = the record and its
# channel's standard event (template conditioning, docs/NN.md).
ARCH_CHANNELS = {"cnn-sev": 2}


def arch_layers(arch, **opt):
    if arch == "cait-cnn":
        return [L("conv1d", name="conv1", **{"in": 1}, out=50, kernel=8, stride=4), L("relu"),
                L("maxpool1d", kernel=2),
                L("conv1d", name="conv2", **{"in": 50}, out=10, kernel=8, stride=4), L("relu"),
                L("maxpool1d", kernel=2), L("flatten"),
                L("linear", name="fc1", **{"in": 70}, out=200), L("relu"),
                L("linear", name="fc2", **{"in": 200}, out=2), L("log_softmax")]
    if arch in ("cnn", "cnn-sev"):
        out = []
        c0 = ARCH_CHANNELS.get(arch, 1)
        for i, (ci, co) in enumerate([(c0, 4), (4, 16), (16, 64)]):
            out += [L("conv1d", name="conv%d" % (i + 1), **{"in": ci}, out=co, kernel=8),
                    L("relu"), L("maxpool1d", kernel=4)]
        return out + [L("flatten"), L("linear", name="fc1", **{"in": 320}, out=200), L("relu"),
                      L("linear", name="fc2", **{"in": 200}, out=84), L("relu"),
                      L("linear", name="fc3", **{"in": 84}, out=1)]
    if arch == "lstm":
        return [L("reshape", shape=[64, 8]),
                L("lstm", name="lstm", input=8, hidden=100, layers=3, bidirectional=True),
                L("flatten"), L("linear", name="fc", **{"in": 12800}, out=1)]
    if arch == "tscn":
        out, ci = [], 1
        for i, co in enumerate([16, 16, 32, 32, 64, 64, 128, 128]):
            out += [L("conv1d", name="conv%d" % (i + 1), **{"in": ci}, out=co, kernel=3,
                      padding=1), L("relu")]
            if i % 2:
                out.append(L("maxpool1d", kernel=2))
            ci = co
        f1, f2 = opt.get("fc", (1024, 512))
        return out + [L("flatten"), L("linear", name="fc1", **{"in": 4096}, out=f1), L("relu"),
                      L("linear", name="fc2", **{"in": f1}, out=f2), L("relu"),
                      L("linear", name="fc3", **{"in": f2}, out=1)]
    if arch == "tst":
        norm, pe = opt.get("norm", "batch"), opt.get("pe", "learned")
        return [L("transpose"), L("linear", name="W_P", **{"in": 1}, out=64),
                L("posenc", name="W_pos", kind=pe), L("dropout", p=0.1),
                L("encoder", name="encoder.layers.0", d_model=64, heads=8, d_ff=256, norm=norm,
                  activation="gelu"),
                L("transpose"), L("gelu"), L("flatten"),
                L("linear", name="head.2", **{"in": 32768}, out=1)]
    if arch == "zoo":  # every layer type, small; for the parity tests only
        return [L("conv1d", name="c1", **{"in": 1}, out=6, kernel=5, stride=2, padding=2),
                L("batchnorm1d", name="bn", features=6), L("tanh"),
                L("conv1d", name="c1b", **{"in": 6}, out=6, kernel=2, stride=2, padding=1),
                L("conv1d", name="c2", **{"in": 6}, out=8, kernel=3, padding=2, dilation=2),
                L("avgpool1d", kernel=3, stride=2, padding=1), L("sigmoid"),
                L("maxpool1d", kernel=3, stride=2, padding=1), L("transpose"),
                L("lstm", name="rnn", input=8, hidden=12, layers=2, bidirectional=False),
                L("layernorm", name="ln", features=12),
                L("linear", name="proj", **{"in": 12}, out=16, bias=False),
                L("posenc", name="pe", kind="sinusoidal"),
                L("encoder", name="enc", d_model=16, heads=4, d_ff=32, norm="layer",
                  activation="relu"),
                L("flatten"), L("linear", name="fc", **{"in": 528}, out=3), L("softmax")]
    raise SystemExit("unknown architecture '%s' (cait-cnn, cnn, lstm, tscn, tst, zoo)" % arch)


OUTPUT_MAP = {"cait-cnn": ("exp", 1), "zoo": ("identity", 1)}

# ---- PyTorch interpreter for layer lists ---------------------------------------


class Transpose(nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x):
        return x.transpose(self.a, self.b)


class TSTEncoderLayer(nn.Module):
    """tsai's _TSTEncoderLayer (post-norm), plus a LayerNorm variant."""

    def __init__(self, d_model, n_heads, d_ff, norm="batch", act="gelu"):
        super().__init__()
        self.n_heads, self.d_k = n_heads, d_model // n_heads
        self.self_attn = nn.Module()
        for w in ("W_Q", "W_K", "W_V", "W_O"):
            setattr(self.self_attn, w, nn.Linear(d_model, d_model, bias=False))
        self.norm = norm
        if norm == "batch":
            self.batchnorm_attn = nn.Sequential(Transpose(1, 2), nn.BatchNorm1d(d_model),
                                                Transpose(1, 2))
            self.batchnorm_ffn = nn.Sequential(Transpose(1, 2), nn.BatchNorm1d(d_model),
                                               Transpose(1, 2))
        else:
            self.layernorm_attn = nn.LayerNorm(d_model)
            self.layernorm_ffn = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU() if act == "gelu" else nn.ReLU(),
                                nn.Linear(d_ff, d_model))

    def attn(self, x):
        a, bs = self.self_attn, x.size(0)
        q = a.W_Q(x).view(bs, -1, self.n_heads, self.d_k).transpose(1, 2)
        k = a.W_K(x).view(bs, -1, self.n_heads, self.d_k).permute(0, 2, 3, 1)
        v = a.W_V(x).view(bs, -1, self.n_heads, self.d_k).transpose(1, 2)
        scores = torch.matmul(q, k) / (self.d_k ** 0.5)
        ctx = torch.matmul(F.softmax(scores, dim=-1), v)
        ctx = ctx.transpose(1, 2).contiguous().view(bs, -1, self.n_heads * self.d_k)
        return a.W_O(ctx)

    def forward(self, x):
        n1 = self.batchnorm_attn if self.norm == "batch" else self.layernorm_attn
        n2 = self.batchnorm_ffn if self.norm == "batch" else self.layernorm_ffn
        x = n1(x + self.attn(x))
        return n2(x + self.ff(x))


def sinusoidal(T, D):
    pe = np.zeros((T, D))
    for d in range(D):
        f = math.exp(-(d & ~1) * math.log(10000.0) / D)
        pe[:, d] = np.cos(np.arange(T) * f) if d % 2 else np.sin(np.arange(T) * f)
    return torch.tensor(pe, dtype=torch.float32)


def attach(root, dotted, obj):
    parts = dotted.split(".")
    for p in parts[:-1]:
        if not hasattr(root, p):
            root.add_module(p, nn.Module())
        root = getattr(root, p)
    if isinstance(obj, nn.Parameter):
        root.register_parameter(parts[-1], obj)
    else:
        root.add_module(parts[-1], obj)


class CardNet(nn.Module):
    """Runs a card's layer list in PyTorch; input [N, 512] -> raw outputs [N, K]."""

    def __init__(self, layers, input_len=512, channels=1):
        super().__init__()
        self.steps, self.shapes = [], []
        self.channels = channels
        r, c = channels, input_len
        for l in layers:
            t = l["type"]
            if t == "conv1d":
                m = nn.Conv1d(l["in"], l["out"], l["kernel"], l.get("stride", 1),
                              l.get("padding", 0), l.get("dilation", 1), bias=l.get("bias", True))
                attach(self, l["name"], m)
                r, c = l["out"], (c + 2 * m.padding[0] - m.dilation[0] * (m.kernel_size[0] - 1) - 1) // m.stride[0] + 1
            elif t in ("maxpool1d", "avgpool1d"):
                k, s, p = l["kernel"], l.get("stride", l["kernel"]), l.get("padding", 0)
                m = nn.MaxPool1d(k, s, p) if t == "maxpool1d" else nn.AvgPool1d(k, s, p)
                c = (c + 2 * p - k) // s + 1
            elif t == "linear":
                m = nn.Linear(l["in"], l["out"], bias=l.get("bias", True))
                attach(self, l["name"], m)
                c = l["out"]
            elif t in ("relu", "sigmoid", "tanh", "gelu"):
                m = {"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "gelu": nn.GELU()}[t]
            elif t in ("softmax", "log_softmax"):
                m = nn.Softmax(dim=-1) if t == "softmax" else nn.LogSoftmax(dim=-1)
            elif t == "flatten":
                m, r, c = nn.Flatten(1), 1, r * c
            elif t == "reshape":
                rr, cc = l["shape"]
                m, r, c = (lambda x, rr=rr, cc=cc: x.reshape(x.size(0), rr, cc)), rr, cc
            elif t == "transpose":
                m, r, c = Transpose(1, 2), c, r
            elif t == "dropout":
                m = nn.Identity()  # inference: dropout is the identity
            elif t == "lstm":
                m = nn.LSTM(l["input"], l["hidden"], l.get("layers", 1), batch_first=True,
                            bidirectional=l.get("bidirectional", False))
                attach(self, l["name"], m)
                c = l["hidden"] * (2 if l.get("bidirectional") else 1)
                m = (lambda x, m=m: m(x)[0])
            elif t == "posenc":
                if l.get("kind", "learned") == "learned":
                    p = nn.Parameter(torch.empty(r, c))
                    attach(self, l["name"], p)
                else:
                    p = sinusoidal(r, c)
                m = (lambda x, p=p: x + p)
            elif t == "encoder":
                m = TSTEncoderLayer(l["d_model"], l["heads"], l["d_ff"], l.get("norm", "batch"),
                                    l.get("activation", "gelu"))
                attach(self, l["name"], m)
            elif t in ("batchnorm1d", "layernorm"):
                m = nn.BatchNorm1d(l["features"]) if t == "batchnorm1d" else nn.LayerNorm(l["features"])
                attach(self, l["name"], m)
            else:
                raise SystemExit("unsupported layer type " + t)
            self.steps.append(m)
            self.shapes.append([r, c])
        self.n_out = r * c

    def forward(self, x):
        x = x.reshape(x.size(0), self.channels, -1)
        for m in self.steps:
            x = m(x)
        return x.reshape(x.size(0), -1)


def declared(net):
    """Weight tensors in the order the C engine declares them (state_dict order
    except BatchNorm's num_batches_tracked, which the engine does not use)."""
    return [(k, v) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")]


def init_ranges(net):
    """name -> [lo, hi) of the seeded generator, by owning module, as lib/nn/card.c."""
    r = {}
    for mname, m in net.named_modules():
        pre = mname + "." if mname else ""
        if isinstance(m, nn.Conv1d):
            b = 1.0 / math.sqrt(m.in_channels * m.kernel_size[0])
            rng = {"weight": (-b, b), "bias": (-b, b)}
        elif isinstance(m, nn.Linear):
            b = 1.0 / math.sqrt(m.in_features)
            rng = {"weight": (-b, b), "bias": (-b, b)}
        elif isinstance(m, nn.LSTM):
            b = 1.0 / math.sqrt(m.hidden_size)
            rng = {k: (-b, b) for k, _ in m.named_parameters()}
        elif isinstance(m, (nn.BatchNorm1d, nn.LayerNorm)):
            rng = {"weight": (0.5, 1.5), "bias": (-0.1, 0.1), "running_mean": (-0.1, 0.1),
                   "running_var": (0.5, 1.5)}
        elif m is net:
            rng = {k: (-0.02, 0.02) for k, _ in m.named_parameters(recurse=False)}
        else:
            continue
        for k, v in rng.items():
            r[pre + k] = v
    return r


def seed_weights(net, seed):
    ranges = init_ranges(net)
    sd = {k: torch.from_numpy(init_values(seed, k, v.numel(), *ranges[k]).reshape(tuple(v.shape)))
          for k, v in declared(net)}
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert not unexpected and all(m.endswith("num_batches_tracked") for m in missing), (missing, unexpected)


# ---- files -------------------------------------------------------------------------


def write_safetensors(path, tensors, meta=None):
    header, off, blobs = {}, 0, []
    if meta:
        header["__metadata__"] = meta
    for name, t in tensors:
        a = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def yflow(d):
    def v(x):
        if isinstance(x, bool):
            return "true" if x else "false"
        if isinstance(x, list):
            return "[" + ", ".join(v(i) for i in x) + "]"
        if isinstance(x, float):
            return repr(x)
        return str(x)
    return "{" + ", ".join("%s: %s" % (k, v(x)) for k, x in d.items()) + "}"


def ystr(s):
    return json.dumps(str(s))


def write_card(path, name, arch, layers, net, weights, provenance, seed_inputs, count, tol,
               description):
    xs = np.stack([test_input(seed_inputs, i, 512 * net.channels) for i in range(count)])
    net.eval()
    with torch.no_grad():
        ys = net(torch.from_numpy(xs)).numpy()
    omap, oidx = OUTPUT_MAP.get(arch, ("sigmoid", 0))
    out = ["# cryoclean model card (docs/NN.md). Generated by tools/export_torch.py.",
           "format: cryoclean-model-card/1", "name: " + name,
           "description: " + ystr(description),
           "input: {length: 512, channels: %d, preprocessing: {downsample: block_mean, scale: minmax}}"
           % net.channels,
           "weights: " + (weights if isinstance(weights, str) else yflow(weights)),
           "layers:"]
    for l, shp in zip(layers, net.shapes):
        d = dict(l)
        d["shape"] = shp
        out.append("  - " + yflow(d))
    out += ["output: {map: %s, index: %d}" % (omap, oidx), "cutoff: 0.5", "provenance:"]
    out += ["  %s: %s" % (k, ystr(v)) for k, v in provenance.items()]
    out += ["selftest:", "  tolerance: %g" % tol, "  seed: %d" % seed_inputs,
            "  count: %d" % count, "  outputs:"]
    out += ["    - [" + ", ".join("%.9g" % y for y in row) + "]" for row in ys]
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return xs, ys


class _Anything(dict):
    """Stands in for pytorch_lightning classes when unpickling a checkpoint."""

    def __init__(self, *a, **k):
        super().__init__()

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.update(state)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.startswith(("pytorch_lightning", "cait", "lightning")):
            return _Anything
        return super().find_class(module, name)


def load_lightning(path):
    pm = types.SimpleNamespace(Unpickler=_Unpickler, load=pickle.load, __name__="pickle")
    return torch.load(path, map_location="cpu", pickle_module=pm)


def export(args):
    name = args.name
    layers = arch_layers(args.arch, **({"fc": args.tscn_fc} if args.tscn_fc else {}),
                         **({"norm": args.tst_norm} if args.tst_norm else {}),
                         **({"pe": args.tst_pe} if args.tst_pe else {}))
    torch.manual_seed(0)
    net = CardNet(layers, channels=ARCH_CHANNELS.get(args.arch, 1))
    today = datetime.date.today().isoformat()
    prov = {"source": args.source, "exported": today, "exporter": "tools/export_torch.py"}
    if args.mode == "seeded":
        seed_weights(net, args.seed)
        weights = {"seed": args.seed}
        prov.update({"trained": "no: seeded random initialisation (architecture only; trained "
                                "weights come with the training issue)",
                     "metrics": "none (untrained)"})
    else:
        if args.mode == "cait":
            ck = load_lightning(args.input)
            sd = ck["state_dict"]
            hp = ck.get("hyper_parameters", {})
            prov.update({"trained": "CRESST data, %s epochs, Lightning %s; hyper-parameters %s" % (
                ck.get("epoch"), ck.get("pytorch-lightning_version"),
                json.dumps({k: hp.get(k) for k in ("lr", "weight_decay", "down", "norm_type",
                                                   "kernelsize")})),
                "license": "GPL-3.0 (derived from Cait's cnn-clf-binary-v2.ckpt)",
                "metrics": "val_loss 0.08 (Cait README); class 1 = particle pulse",
                "notes": "Cait min-max scales the raw record before block-mean downsampling; "
                         "cryoclean downsamples first (the paper's order)"})
        else:
            sd = torch.load(args.input, map_location="cpu")
            if isinstance(sd, nn.Module):
                sd = sd.state_dict()
            sd = sd.get("state_dict", sd)
        sd = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
        net.load_state_dict(sd, strict=False)
        want = [k for k, _ in declared(net)]
        extra = sorted(set(sd) - set(want))
        miss = sorted(set(want) - set(sd))
        if extra or miss:
            raise SystemExit("state_dict does not match %s: missing %s, unexpected %s" % (
                args.arch, miss, extra))
        wfile = os.path.splitext(os.path.basename(args.out))[0] + ".safetensors"
        write_safetensors(os.path.join(os.path.dirname(args.out) or ".", wfile), declared(net),
                          {"source": args.source, "format": "pt"})
        weights = wfile
    write_card(args.out, name, args.arch, layers, net, weights, prov, args.input_seed, args.count,
               args.tolerance, args.description or "%s architecture" % args.arch)
    return net


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("cait")
    c.add_argument("input")
    c.add_argument("out")
    s = sub.add_parser("state-dict")
    s.add_argument("arch")
    s.add_argument("input")
    s.add_argument("out")
    r = sub.add_parser("seeded")
    r.add_argument("arch")
    r.add_argument("seed", type=int)
    r.add_argument("out")
    for p in (c, s, r):
        p.add_argument("--name")
        p.add_argument("--count", type=int, default=4)
        p.add_argument("--input-seed", type=int, default=1)
        p.add_argument("--tolerance", type=float, default=1e-4)
        p.add_argument("--source", default="")
        p.add_argument("--description")
        p.add_argument("--tscn-fc", type=lambda s: tuple(int(x) for x in s.split(",")))
        p.add_argument("--tst-norm", choices=["batch", "layer"])
        p.add_argument("--tst-pe", choices=["learned", "sinusoidal"])
    args = ap.parse_args(argv)
    if args.mode == "cait":
        args.arch = "cait-cnn"
        args.source = args.source or "Cait (github.com/fewagner/cait) cait/resources/cnn-clf-binary-v2.ckpt"
    args.name = args.name or args.arch
    args.source = args.source or "cryoclean tools/export_torch.py"
    torch.set_num_threads(1)
    export(args)


if __name__ == "__main__":
    main()
