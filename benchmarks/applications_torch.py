"""PyTorch side of benchmarks/applications.py, run in its own process by an interpreter that
has torch. With torchvision importable, its `resnet50` / `mobilenet_v2` are timed (what a
PyTorch user runs); otherwise the two are written here with torchvision's architecture (the
same layers, widths and parameter counts as Keras's, NCHW). Prints one JSON line.

    python benchmarks/applications_torch.py --model resnet50 --size 96 --batch 32 --steps 5
"""
import argparse
import json
import time

import numpy as np
import torch
from torch import nn


def _bn(c, eps, momentum):
    return nn.BatchNorm2d(c, eps=eps, momentum=momentum)


class Bottleneck(nn.Module):
    def __init__(self, cin, filters, stride, shortcut):
        super().__init__()
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, 4 * filters, 1, stride),
                                       _bn(4 * filters, 1.001e-5, 0.01)) if shortcut else None)
        self.body = nn.Sequential(
            nn.Conv2d(cin, filters, 1, stride), _bn(filters, 1.001e-5, 0.01), nn.ReLU(),
            nn.Conv2d(filters, filters, 3, padding=1), _bn(filters, 1.001e-5, 0.01), nn.ReLU(),
            nn.Conv2d(filters, 4 * filters, 1), _bn(4 * filters, 1.001e-5, 0.01))

    def forward(self, x):
        return torch.relu((x if self.shortcut is None else self.shortcut(x)) + self.body(x))


def resnet50(classes):
    layers = [nn.ZeroPad2d(3), nn.Conv2d(3, 64, 7, 2), _bn(64, 1.001e-5, 0.01), nn.ReLU(),
              nn.ZeroPad2d(1), nn.MaxPool2d(3, 2)]
    cin = 64
    for i, (filters, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3), strict=True)):
        for b in range(blocks):
            stride = (1 if i == 0 else 2) if b == 0 else 1
            layers.append(Bottleneck(cin, filters, stride, shortcut=b == 0))
            cin = 4 * filters
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, classes)]
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expansion):
        super().__init__()
        hidden = cin * expansion
        layers = [] if expansion == 1 else [nn.Conv2d(cin, hidden, 1, bias=False),
                                            _bn(hidden, 1e-3, 0.001), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                   _bn(hidden, 1e-3, 0.001), nn.ReLU6(),
                   nn.Conv2d(hidden, cout, 1, bias=False), _bn(cout, 1e-3, 0.001)]
        self.body = nn.Sequential(*layers)
        self.residual = cin == cout and stride == 1

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


def mobilenet_v2(classes):
    blocks = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
              (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6),
              (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6))
    layers = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), _bn(32, 1e-3, 0.001), nn.ReLU6()]
    cin = 32
    for filters, stride, expansion in blocks:
        layers.append(InvertedResidual(cin, filters, stride, expansion))
        cin = filters
    layers += [nn.Conv2d(cin, 1280, 1, bias=False), _bn(1280, 1e-3, 0.001), nn.ReLU6(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, classes)]
    return nn.Sequential(*layers)


def build(name, classes):
    try:
        import torchvision
    except ImportError:
        return (resnet50 if name == "resnet50" else mobilenet_v2)(classes), "hand-written"
    return getattr(torchvision.models, name)(num_classes=classes), "torchvision"


def timed(fn, steps):
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["resnet50", "mobilenet_v2"], required=True)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--classes", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    model, source = build(args.model, args.classes)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.uniform(-1, 1, (args.batch, 3, args.size, args.size))
                         .astype("float32"))
    y = torch.from_numpy(rng.integers(0, args.classes, args.batch))
    model.eval()

    def infer():
        with torch.no_grad():
            model(x)

    inference = timed(infer, args.steps)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()

    def train():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    training = timed(train, args.steps)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"framework": "torch", "model": args.model, "params": params,
                      "inference_s": inference, "train_s": training,
                      "torch": torch.__version__, "source": source,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
