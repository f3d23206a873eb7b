#!/usr/bin/python3
"""gen_grad_golden.py - gradient parity goldens for the training passes (lib/nn/train.c).

Run with Debian's /usr/bin/python3 (python3-torch) from the source root:
    /usr/bin/python3 tools/gen_grad_golden.py

For each case it writes into tests/golden/grad/:
  <case>.yaml                the network as a model card with seeded weights
                             (docs/NN.md; the self-test holds PyTorch's outputs)
  <case>.grad.safetensors    PyTorch's loss and gradients for a fixed batch:
      input [B, 512]         the inputs (cc_nn_test_input, seed 99, records 0..B-1)
      labels [B]             1 clean, 0 artefact
      class_weights [2]      weight of an artefact, of a clean record
      loss [1]               mean over records of weight x loss (cc_nn_loss)
      dx [B, 512]            dL/dinput
      grad.<tensor>          dL/d<tensor> for every tensor of the card (0 for
                             BatchNorm's running statistics, which do not train)
  These are eval-mode goldens (net.eval(): BatchNorm on its running statistics;
  the C side runs them with batchnorm frozen and dropout off).
  <case>.train.safetensors   for the cases with BatchNorm (TRAIN_CASES): the same
                             tensors with the net in train() mode (BatchNorm on
                             the batch statistics; CardNet's dropout is the
                             identity, so the C side runs them with dropout off),
                             plus
      running.<tensor>       running_mean / running_var after that one forward
                             (momentum 0.1, unbiased batch variance)
The loss follows the card's output map as lib/nn/train.c does: sigmoid ->
binary cross entropy on the logit; exp (log_softmax head) -> NLL of the
target class (output.index for clean, the other class for an artefact).
tests/test_nn_grad.c compares the C engine's gradients with these files
(no PyTorch needed in CI).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torch as et  # noqa: E402

L = et.L
B = 6
LABELS = [1, 0, 1, 1, 0, 1]
W_ARTEFACT, W_CLEAN = 1.7, 0.8

GRAD_ZOO = [  # every layer with a backward pass, with strides, padding, dilation
    L("conv1d", name="c1", **{"in": 1}, out=4, kernel=5, stride=2, padding=2), L("tanh"),
    L("conv1d", name="c2", **{"in": 4}, out=6, kernel=3, padding=2, dilation=2), L("gelu"),
    L("avgpool1d", kernel=3, stride=2, padding=1), L("sigmoid"),
    L("maxpool1d", kernel=3, stride=2, padding=1), L("dropout", p=0.1), L("softmax"),
    L("transpose"), L("posenc", name="pe", kind="learned"),
    L("linear", name="proj", **{"in": 6}, out=5), L("relu"), L("flatten"),
    L("reshape", shape=[4, 80]), L("linear", name="fc", **{"in": 80}, out=3, bias=False),
    L("flatten"), L("linear", name="head", **{"in": 12}, out=2), L("log_softmax")]

LSTM_SMALL = [  # the paper LSTM's structure, smaller: bidirectional, 2 layers, both biases
    L("reshape", shape=[64, 8]),
    L("lstm", name="lstm", input=8, hidden=12, layers=2, bidirectional=True), L("flatten"),
    L("linear", name="fc", **{"in": 1536}, out=1)]
LSTM_UNI = [  # unidirectional, one layer, into a tanh head
    L("reshape", shape=[32, 16]), L("lstm", name="rnn", input=16, hidden=10), L("tanh"),
    L("flatten"), L("linear", name="fc", **{"in": 320}, out=1)]

NORM_ZOO = [  # BatchNorm (eval mode: running statistics) and LayerNorm
    L("conv1d", name="c1", **{"in": 1}, out=4, kernel=5, stride=4),
    L("batchnorm1d", name="bn", features=4), L("relu"), L("transpose"),
    L("layernorm", name="ln", features=4), L("linear", name="proj", **{"in": 4}, out=3),
    L("gelu"), L("flatten"), L("linear", name="fc", **{"in": 381}, out=1)]

TST_SMALL = [  # tsai TST's structure, smaller: BatchNorm (running statistics), learned posenc, GELU
    L("transpose"), L("linear", name="W_P", **{"in": 1}, out=16),
    L("posenc", name="W_pos", kind="learned"), L("dropout", p=0.1),
    L("encoder", name="encoder.layers.0", d_model=16, heads=4, d_ff=32, norm="batch",
      activation="gelu"),
    L("transpose"), L("gelu"), L("flatten"), L("linear", name="head.2", **{"in": 8192}, out=1)]
TST_LN = [  # LayerNorm, sinusoidal encoding, ReLU, a log_softmax head
    L("reshape", shape=[64, 8]), L("linear", name="proj", **{"in": 8}, out=16),
    L("posenc", name="pe", kind="sinusoidal"),
    L("encoder", name="enc", d_model=16, heads=2, d_ff=24, norm="layer", activation="relu"),
    L("flatten"), L("linear", name="fc", **{"in": 1024}, out=2), L("log_softmax")]

CASES = [("cnn", "cnn", None), ("cait-cnn", "cait-cnn", None), ("grad-zoo", "grad-zoo", GRAD_ZOO),
         ("lstm-small", "lstm-small", LSTM_SMALL), ("lstm-uni", "lstm-uni", LSTM_UNI),
         ("norm-zoo", "norm-zoo", NORM_ZOO), ("tst-small", "tst-small", TST_SMALL),
         ("tst-ln", "tst-ln", TST_LN)]
TRAIN_CASES = ("norm-zoo", "tst-small")  # cases with BatchNorm: also a train()-mode golden


def loss_of(arch, y, labels, wt):
    omap, idx = et.OUTPUT_MAP.get(arch, ("sigmoid", 0))
    if omap == "sigmoid":
        per = F.binary_cross_entropy_with_logits(y[:, idx], labels.float(), reduction="none")
    else:
        assert omap == "exp" and y.shape[1] == 2
        tgt = torch.where(labels == 1, torch.tensor(idx), torch.tensor(1 - idx))
        per = -y.gather(1, tgt[:, None])[:, 0]
    return (wt * per).mean()


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    gdir = os.path.join(root, "tests", "golden", "grad")
    os.makedirs(gdir, exist_ok=True)
    et.OUTPUT_MAP["grad-zoo"] = ("exp", 1)
    et.OUTPUT_MAP["tst-ln"] = ("exp", 1)
    torch.set_num_threads(1)
    for case, arch, layers in CASES:
        layers = layers or et.arch_layers(arch)
        torch.manual_seed(0)
        net = et.CardNet(layers)
        et.seed_weights(net, 1234)
        prov = {"source": "tools/gen_grad_golden.py (gradient parity golden)"}
        et.write_card(os.path.join(gdir, case + ".yaml"), case, arch, layers, net, {"seed": 1234},
                      prov, 99, B, 1e-5, "gradient parity golden: %s, seeded weights" % case)
        net.eval()  # BatchNorm on the running statistics; CardNet's dropout is the identity
        loss, tensors = grads(net, arch)
        et.write_safetensors(os.path.join(gdir, case + ".grad.safetensors"), tensors,
                             {"source": "tools/gen_grad_golden.py", "torch": torch.__version__})
        print("%s: loss %.6f, %d tensors" % (case, loss.item(), len(tensors) - 5))
        if case not in TRAIN_CASES:
            continue
        net.train()  # BatchNorm on the batch statistics, updating the running ones
        loss, tensors = grads(net, arch)
        tensors += [("running." + k, v.clone()) for k, v in et.declared(net)
                    if k.endswith("running_mean") or k.endswith("running_var")]
        et.write_safetensors(os.path.join(gdir, case + ".train.safetensors"), tensors,
                             {"source": "tools/gen_grad_golden.py (train mode)",
                              "torch": torch.__version__})
        print("%s train(): loss %.6f, %d tensors" % (case, loss.item(), len(tensors) - 5))


def grads(net, arch):
    """One forward + backward of the fixed batch: the loss and the golden's tensors."""
    net.zero_grad()
    xs = torch.from_numpy(np.stack([et.test_input(99, i, 512) for i in range(B)]))
    xs.requires_grad_(True)
    labels = torch.tensor(LABELS)
    wt = torch.where(labels == 1, torch.tensor(W_CLEAN), torch.tensor(W_ARTEFACT)).float()
    loss = loss_of(arch, net(xs), labels, wt)
    loss.backward()
    named = dict(net.named_parameters())
    tensors = [("input", xs.detach()), ("labels", labels.float()),
               ("class_weights", torch.tensor([W_ARTEFACT, W_CLEAN])),
               ("loss", loss.detach().reshape(1)), ("dx", xs.grad)]
    # BatchNorm's running statistics are buffers, not trained: gradient 0
    tensors += [("grad." + k, named[k].grad if k in named else torch.zeros_like(v))
                for k, v in et.declared(net)]
    return loss, tensors


if __name__ == "__main__":
    main()
