#!/usr/bin/python3
"""gen_nn_golden.py - regenerate the nn parity goldens and the shipped cards.

Run with Debian's /usr/bin/python3 from the source root:
    /usr/bin/python3 tools/gen_nn_golden.py [--shared ../shared]

tests/golden/nn/: one card per architecture (cnn, lstm, tscn, tst, tst-ln
with LayerNorm + sinusoidal encoding, zoo with every layer type) whose
weights come from the documented seeded generator (docs/NN.md; lib/nn/model.c
regenerates them, so no weight files are needed even for TSCN's 4.8 M
parameters) and whose self-test holds PyTorch's outputs for 8 fixed inputs
with tolerance 1e-5; plus the real Cait CNN (cait-cnn.yaml + .safetensors,
GPL-3.0, from ../shared/models) when the checkpoint is there.
conf/models/: the paper's four architectures and cnn-sev (the CNN with the
standard event as a second input channel), seeded: the `model:` inputs of
`cryoclean train`.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torch as et  # noqa: E402

GOLDEN = [
    ("cnn", "cnn", []),
    ("cnn-sev", "cnn-sev", []),
    ("lstm", "lstm", []),
    ("tscn", "tscn", []),
    ("tst", "tst", []),
    ("tst-ln", "tst", ["--tst-norm", "layer", "--tst-pe", "sinusoidal"]),
    ("zoo", "zoo", []),
]
PAPER = {
    "cnn": "Paper CNN (CRESST data cleaning, Appendix A): 3 x (Conv1d k8, ReLU, MaxPool4), FC 320-200-84-1, sigmoid",
    "lstm": "Paper LSTM: 64 steps of 8 samples, bidirectional 3 layers, hidden 100 per direction, FC 12800-1, sigmoid",
    "tscn": "Paper TSCN: 8 x Conv1d k3 pad1 (16,16,32,32,64,64,128,128) with ReLU, MaxPool2 after every second, FC 4096-1024-512-1, sigmoid",
    "cnn-sev": "Paper CNN given the channel's standard event as a second input channel (template conditioning, docs/NN.md): Conv1d 2->4 k8, then as the paper CNN",
    "tst": "Paper TST (tsai TST): step projection to d_model 64, learned positional encoding, 1 encoder layer (8 heads, BatchNorm, FF 256 GELU), flatten, linear, sigmoid",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get("CC_SHARED_DIR", "../shared"))
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    a = ap.parse_args()
    gdir = os.path.join(a.root, "tests", "golden", "nn")
    mdir = os.path.join(a.root, "conf", "models")
    os.makedirs(gdir, exist_ok=True)
    os.makedirs(mdir, exist_ok=True)
    for name, arch, extra in GOLDEN:
        et.main(["seeded", arch, "1234", os.path.join(gdir, name + ".yaml"), "--name", name,
                 "--count", "8", "--input-seed", "99", "--tolerance", "1e-5",
                 "--source", "tools/gen_nn_golden.py (parity golden)",
                 "--description", "parity golden: %s with seeded weights, PyTorch 1.13 outputs" % name]
                + extra)
    for arch, desc in PAPER.items():
        et.main(["seeded", arch, "1", os.path.join(mdir, arch + ".yaml"), "--name", arch,
                 "--count", "4", "--tolerance", "1e-4", "--description", desc,
                 "--source", "CRESST data-cleaning paper (arXiv:2508.03078), Appendix A; domain notes section 8"])
    ckpt = os.path.join(a.shared, "models", "cait-cnn-clf-binary-v2.ckpt")
    if os.path.exists(ckpt):
        et.main(["cait", ckpt, os.path.join(gdir, "cait-cnn.yaml"), "--name", "cait-cnn-v2",
                 "--count", "8", "--input-seed", "99", "--tolerance", "1e-5",
                 "--description", "Cait's pretrained CRESST data-cleaning CNN (cnn-clf-binary-v2), GPL-3.0"])
    else:
        print("note: %s not found; cait-cnn golden kept as is" % ckpt)


if __name__ == "__main__":
    main()
