"""The lamina demo: three freezing scenarios, each printing summaries, explanations and results.

1. A layer shared by two models, frozen three ways (`model.trainable`, the layer's own flag,
   `model.freeze(layer)`), with every claim checked on the weights.
2. A small GAN on scikit-learn's 8x8 digits, training the generator through a discriminator
   frozen only inside the combined model (`combined.freeze(D)`).
3. Transfer learning on the digits: pre-train, freeze the base, train a new head, unfreeze and
   fine-tune.

Run: python examples/demo.py            (under a minute on two CPU cores, mostly XLA compilation)
     python examples/demo.py --quick    (small sizes, a few seconds)
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gan  # noqa: E402
import shared_layer  # noqa: E402
import transfer_learning  # noqa: E402

SCENARIOS = [
    ("1. A shared layer: freezing a model vs. freezing its layers", shared_layer),
    ("2. A GAN: the discriminator frozen in the combined model's scope", gan),
    ("3. Transfer learning: freeze the base, train a head, fine-tune", transfer_learning),
]


def banner(title):
    print()
    print("#" * 78)
    print(f"#  {title}")
    print("#" * 78)


def main(quick=False):
    results = {}
    for title, module in SCENARIOS:
        banner(title)
        start = time.perf_counter()
        facts = module.main(quick=quick)
        results[title] = (facts, time.perf_counter() - start)

    banner("Results")
    for title, (facts, seconds) in results.items():
        print(f"{title}  ({seconds:.1f} s)")
        for name, ok in facts.items():
            print(f"    {'ok    ' if ok else 'FAILED'}  {name}")
    every = all(ok for facts, _ in results.values() for ok in facts.values())
    print()
    print("Every claim verified." if every else "SOME CLAIMS FAILED (see above).")
    return every


if __name__ == "__main__":
    raise SystemExit(0 if main(quick="--quick" in sys.argv[1:]) else 1)
