"""Plain PyTorch eager training loops for W1-W4, run as a script in a process of its own.

torch may live in another virtual environment than jax, so run.py starts this file with the
interpreter that has torch (`--torch PYTHON`, $LAMINA_TORCH_PYTHON, or its own interpreter when
torch is importable there). It needs only numpy, torch and `common.py` (beside it), and prints
one JSON line: the result dict (throughput, epoch times, losses, sanity) plus "versions".

    python benchmarks/reference_torch.py --workload w4 [--quick]

W2 freezes the hidden layers with `requires_grad_(False)` and gives the optimiser the head only.
W3: D step on cat(real, fake computed without gradient), then the G step through D with D's
parameters set to `requires_grad=False`; D outputs logits and the loss is BCEWithLogits (the
same as sigmoid + binary cross-entropy). W4 runs on NCHW tensors.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C

VERSIONS = {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def params_copy(module):
    return [p.detach().clone().numpy() for p in module.parameters()]


def train_epochs(model, params, x, y, epochs, batch):
    optimizer = torch.optim.Adam(params, lr=C.LR)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(C.SEED + 7)
    times, losses = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(x), generator=generator)
        total, batches = torch.zeros(()), 0
        for begin in range(0, len(x), batch):
            idx = order[begin:begin + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.detach()
            batches += 1
        losses.append(float(total) / batches)
        times.append(time.perf_counter() - start)
    return times, losses


def mlp(sizes, frozen):
    xn, yn = C.mlp_data(sizes.mlp_samples)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn).long()
    h = sizes.mlp_hidden
    model = nn.Sequential(nn.Linear(C.MLP_IN, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                          nn.Linear(h, C.MLP_OUT))  # logits; CrossEntropyLoss applies softmax
    base, head = model[:4], model[4]
    base_before, head_before = params_copy(base), params_copy(head)
    if frozen:
        base.requires_grad_(False)
    params = head.parameters() if frozen else model.parameters()
    times, losses = train_epochs(model, list(params), x, y, sizes.mlp_epochs, sizes.mlp_batch)
    sanity = C.Sanity().epoch_losses(losses)
    if frozen:
        sanity.check("frozen layers unchanged", C.same_arrays(params_copy(base), base_before))
    sanity.check("head changed", C.all_changed(head_before, params_copy(head)))
    return {**C.epoch_result(len(x), times, losses), "sanity": sanity}


def w3(sizes):
    def stack(n_in, n_out):
        return [nn.Linear(n_in, C.GAN_HIDDEN), nn.LeakyReLU(C.LEAKY_SLOPE),
                nn.Linear(C.GAN_HIDDEN, C.GAN_HIDDEN), nn.LeakyReLU(C.LEAKY_SLOPE),
                nn.Linear(C.GAN_HIDDEN, n_out)]

    G = nn.Sequential(*stack(C.GAN_LATENT, C.GAN_OUT), nn.Tanh())
    D = nn.Sequential(*stack(C.GAN_OUT, 1))
    g_opt = torch.optim.Adam(G.parameters(), lr=C.GAN_LR, betas=(C.GAN_BETA1, 0.999))
    d_opt = torch.optim.Adam(D.parameters(), lr=C.GAN_LR, betas=(C.GAN_BETA1, 0.999))
    bce = nn.BCEWithLogitsLoss()
    d_labels, g_targets = (torch.from_numpy(a) for a in C.gan_labels(sizes.gan_batch))
    feed = C.GanFeeder(sizes.gan_batch)
    g_before, d_before = params_copy(G), params_copy(D)

    def iteration(_state):
        z, real = torch.from_numpy(feed.noise()), torch.from_numpy(feed.real())
        with torch.no_grad():
            fake = G(z)
        D.requires_grad_(True)
        d_opt.zero_grad(set_to_none=True)
        d_loss = bce(D(torch.cat([real, fake])), d_labels)
        d_loss.backward()
        d_opt.step()
        D.requires_grad_(False)
        g_opt.zero_grad(set_to_none=True)
        g_loss = bce(D(G(z)), g_targets)
        g_loss.backward()
        g_opt.step()
        return None, d_loss.item(), g_loss.item()

    _, first = C.timed(iteration, None)
    for _ in range(sizes.gan_warmup - 1):
        iteration(None)
    _, result = C.time_gan(iteration, None, sizes, lambda _state: None)
    sanity = C.Sanity()
    sanity.check("losses finite", np.all(np.isfinite(result["d_losses"] + result["g_losses"])))
    sanity.check("D changed", C.all_changed(d_before, params_copy(D)))
    sanity.check("G changed", C.all_changed(g_before, params_copy(G)))
    return {**result, "first_iter_s": first, "sanity": sanity}


def w4(sizes):
    xn, yn = C.cnn_data(sizes.cnn_samples)
    x = torch.from_numpy(np.ascontiguousarray(xn.transpose(0, 3, 1, 2)))  # NHWC -> NCHW
    y = torch.from_numpy(yn).long()
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(C.CNN_FLAT, C.CNN_CLASSES))
    before = params_copy(model)
    times, losses = train_epochs(model, list(model.parameters()), x, y, sizes.cnn_epochs,
                                 sizes.cnn_batch)
    sanity = C.Sanity().epoch_losses(losses)
    sanity.check("every weight changed", C.all_changed(before, params_copy(model)))
    return {**C.epoch_result(len(x), times, losses), "sanity": sanity}


WORKLOADS = {"w1": lambda s: mlp(s, False), "w2": lambda s: mlp(s, True), "w3": w3, "w4": w4}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    p.add_argument("--sizes", default=None,
                   help="JSON object of common.Sizes fields to override")
    args = p.parse_args(argv)
    overrides = json.loads(args.sizes) if args.sizes else {}
    sizes = C.Sizes.quick(**overrides) if args.quick else C.Sizes(**overrides)
    torch.manual_seed(C.SEED)
    result = WORKLOADS[args.workload](sizes)
    print(json.dumps({**result, "versions": VERSIONS}, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
