"""The PyTorch side of `benchmarks/lora.py`: the same transformer-style stack in plain
PyTorch, fine-tuned fully or with PEFT's LoRA on the query and value projections.

Run by `lora.py` in its own process, with an interpreter that has torch and peft:
`python benchmarks/lora_torch.py MODE --blocks 8 --width 512 --seq 64 --batch 4 --rank 8
--steps 6` prints one JSON line (step time, peak memory growth, trained parameters).
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
from memory import current_mb, peak_mb, settle
from torch import nn


class Block(nn.Module):
    """MultiHeadAttention with separate q, k, v, o projections (so LoRA can target q and
    v), then LayerNorm, a feed-forward pair and LayerNorm: the stack of `lora.py`."""

    def __init__(self, width, heads=8):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.out = (nn.Linear(width, width)
                                                      for _ in range(4))
        self.ln_a, self.ln_b = nn.LayerNorm(width, eps=1e-3), nn.LayerNorm(width, eps=1e-3)
        self.ff_a, self.ff_b = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, x):
        b, t, d = x.shape
        h = self.heads

        def split(y):
            return y.view(b, t, h, d // h).transpose(1, 2)

        attended = nn.functional.scaled_dot_product_attention(
            split(self.query(x)), split(self.key(x)), split(self.value(x)))
        x = self.ln_a(x + self.out(attended.transpose(1, 2).reshape(b, t, d)))
        return self.ln_b(x + self.ff_b(torch.relu(self.ff_a(x))))


class Stack(nn.Module):
    def __init__(self, blocks, width):
        super().__init__()
        self.blocks = nn.ModuleList(Block(width) for _ in range(blocks))
        self.head = nn.Linear(width, 1)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["full", "lora"])
    for name, default in (("blocks", 8), ("width", 512), ("seq", 64), ("batch", 4),
                          ("rank", 8), ("steps", 6)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(args.batch, args.seq, args.width)), dtype=torch.float32)
    y = torch.tensor(rng.normal(size=(args.batch, 1)), dtype=torch.float32)
    torch.zeros(1).add_(1)  # the runtime starts before the baseline
    settle()
    start_rss = current_mb()
    model = Stack(args.blocks, args.width)
    params = sum(p.numel() for p in model.parameters())
    if args.mode == "lora":
        from peft import LoraConfig, get_peft_model
        config = LoraConfig(r=args.rank, lora_alpha=args.rank, target_modules=["query", "value"],
                            bias="none", modules_to_save=["head"])
        model = get_peft_model(model, config)
        for name, parameter in model.named_parameters():  # the q/v biases train, as in lora.py
            if any(f".{part}.base_layer.bias" in name for part in ("query", "value")):
                parameter.requires_grad = True
        params = sum(p.numel() for p in model.parameters())
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=1e-4, eps=1e-7)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    step(), step()
    peak_with_compile = peak_mb() - start_rss
    settle()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    print(json.dumps({"step_s": statistics.median(times), "peak_mb": peak_with_compile,
                      "steady_mb": peak_mb() - start_rss,
                      "trained": int(sum(p.numel() for p in trainable)), "params": int(params)}))


if __name__ == "__main__":
    main()
