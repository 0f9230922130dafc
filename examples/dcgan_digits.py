"""A DCGAN-style GAN on scikit-learn's 8x8 digits (scaled to [-1, 1]), trained the lamina way.

    G: z (32) -> Dense 4*4*64 -> Reshape (4, 4, 64) -> BatchNormalization -> LeakyReLU
              -> Conv2DTranspose 32 4x4 stride 2 -> BatchNormalization -> LeakyReLU
              -> Conv2D 1 3x3 tanh                                      = (8, 8, 1) image
    D: image -> Conv2D 32 3x3 stride 2 -> LeakyReLU -> Conv2D 64 3x3 stride 2 -> LeakyReLU
              -> Flatten -> Dense 1 (logit)

The recipe: D is compiled and trains on its own; the combined model `D(G(z))` freezes D in
its own scope (`combined.freeze(D)`, no flag written), and each iteration alternates
`D.train_on_batch` (real + fake) with `combined.train_on_batch` (noise labelled "real"). Every
combined step is checked to leave D bit-for-bit unchanged while G changes.

Do the samples look like digits? A digit classifier trained here on the real digits
(scikit-learn's logistic regression, independent of the GAN) classifies 256 samples: the
example reports how confidently and into how many different classes, beside the same numbers
for real held-out digits and for noise, and compares the samples' pixel statistics with the
data's.
A PNG grid of samples is saved with matplotlib (Agg backend). On the full run (3,000
iterations) 47% of the samples are classified with p >= 0.9, spread over all 10 classes
(real held-out digits: 82%, uniform noise: 9%), and the samples' pixel mean, spread and ink
fraction are within 0.02 of the data's.

Run: python examples/dcgan_digits.py     (writes examples/output/dcgan_digits/samples.png)
"""
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import lamina as lm

LATENT = 32
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "output", "dcgan_digits")


def heading(title):
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def verdict(text, ok):
    print(f"  VERDICT [{'ok' if ok else 'FAILED'}]: {text}")
    return ok


def load_images():
    """The 1,797 digits as (n, 8, 8, 1) images in [-1, 1], split 80/20 (stratified)."""
    digits = load_digits()
    x = (digits.images / 8.0 - 1.0).astype("float32")[..., None]
    return train_test_split(x, digits.target, test_size=0.2, random_state=0,
                            stratify=digits.target)


def build_generator():
    return lm.Sequential([
        lm.Input((LATENT,), name="z"),
        lm.layers.Dense(4 * 4 * 64, name="project"),
        lm.layers.Reshape((4, 4, 64), name="reshape"),
        lm.layers.BatchNormalization(momentum=0.8, name="bn1"),
        lm.layers.LeakyReLU(0.2, name="lrelu1"),
        lm.layers.Conv2DTranspose(32, 4, strides=2, padding="same", name="up"),
        lm.layers.BatchNormalization(momentum=0.8, name="bn2"),
        lm.layers.LeakyReLU(0.2, name="lrelu2"),
        lm.layers.Conv2D(1, 3, padding="same", activation="tanh", name="to_image"),
    ], name="generator")


def build_discriminator():
    return lm.Sequential([
        lm.Input((8, 8, 1), name="image"),
        lm.layers.Conv2D(32, 3, strides=2, padding="same", name="conv1"),
        lm.layers.LeakyReLU(0.2, name="lrelu1"),
        lm.layers.Conv2D(64, 3, strides=2, padding="same", name="conv2"),
        lm.layers.LeakyReLU(0.2, name="lrelu2"),
        lm.layers.Flatten(name="flatten"),
        lm.layers.Dense(1, name="logit"),
    ], name="discriminator")


def build_gan():
    G, D = build_generator(), build_discriminator()
    z = lm.Input((LATENT,), name="noise")
    combined = lm.Model(z, D(G(z)), name="combined")
    combined.freeze(D)  # D is a constant inside `combined` only
    bce = lm.losses.BinaryCrossentropy(from_logits=True)
    D.compile(optimizer=lm.optimizers.Adam(learning_rate=2e-4, beta_1=0.5), loss=bce)
    combined.compile(optimizer=lm.optimizers.Adam(learning_rate=2e-4, beta_1=0.5), loss=bce)
    return G, D, combined


def build_judge(x_train, y_train):
    """An independent digit classifier (scikit-learn's logistic regression on the pixels,
    trained on the real digits) to judge the samples."""
    judge = LogisticRegression(max_iter=5000)
    return judge.fit(x_train.reshape(len(x_train), -1), y_train)


def judge_samples(judge, images):
    """(fraction classified with probability >= 0.9, distinct classes among those, counts)."""
    probs = judge.predict_proba(images.reshape(len(images), -1))
    confident = probs.max(axis=1) >= 0.9
    classes = np.bincount(probs.argmax(axis=1)[confident], minlength=10)
    return float(confident.mean()), int(np.count_nonzero(classes)), classes


def save_grid(images, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 8
    rows = (len(images) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols, rows))
    for ax, img in zip(np.ravel(axes), images, strict=True):
        ax.imshow(img[..., 0], cmap="gray_r", vmin=-1, vmax=1)
        ax.axis("off")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def same_weights(before, after):
    return all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def train(G, D, combined, images, iterations, batch, rng, every):
    """Alternate one D step (real + fake) and one combined step; check the freezing claims on
    every iteration."""
    ones, zeros = np.ones((batch, 1), "float32"), np.zeros((batch, 1), "float32")
    d_labels = np.concatenate([ones * 0.9, zeros])  # one-sided label smoothing
    checks = {"d_changed": True, "d_unchanged_by_combined": True, "g_changed": True}
    for it in range(1, iterations + 1):
        real = images[rng.integers(0, len(images), batch)]
        fake = np.asarray(G.predict_on_batch(rng.normal(size=(batch, LATENT)).astype("float32")))
        d_before = D.get_weights()
        d_loss = D.train_on_batch(np.concatenate([real, fake]), d_labels)
        d_after = D.get_weights()
        checks["d_changed"] &= not same_weights(d_before, d_after)
        g_before = G.get_weights()
        g_loss = combined.train_on_batch(rng.normal(size=(batch, LATENT)).astype("float32"), ones)
        checks["d_unchanged_by_combined"] &= same_weights(d_after, D.get_weights())
        checks["g_changed"] &= not same_weights(g_before, G.get_weights())
        if it % every == 0 or it == 1:
            print(f"  iteration {it:5d}   D loss {float(d_loss):.4f}   G loss {float(g_loss):.4f}")
    return checks


def main(quick=False, out_dir=DEFAULT_OUT):
    iterations, every = (6, 3) if quick else (3000, 500)
    batch = 64
    lm.random.set_seed(0)
    rng = np.random.default_rng(0)
    x_train, x_test, y_train, y_test = load_images()
    facts = {}

    heading("DCGAN: models")
    G, D, combined = build_gan()
    G.summary()
    D.summary()
    print(combined.explain())
    facts["d_flag_true"] = verdict(
        "D.trainable reads True: combined.freeze(D) wrote no flag", D.trainable is True)
    facts["combined_trains_only_g"] = verdict(
        "combined trains exactly G's trainable weights (BatchNormalization's moving "
        "statistics are never trained)",
        {v.path for v in combined.trainable_weights} == {v.path for v in G.trainable_weights})

    heading(f"DCGAN: training ({iterations} iterations, batch {batch})")
    checks = train(G, D, combined, x_train, iterations, batch, rng, every)
    facts["d_trained_by_d_step"] = verdict(
        "every D.train_on_batch changed D's weights", checks["d_changed"])
    facts["d_bitwise_unchanged_by_combined"] = verdict(
        "every combined.train_on_batch left D bit-for-bit unchanged (np.array_equal)",
        checks["d_unchanged_by_combined"])
    facts["g_trained_through_frozen_d"] = verdict(
        "every combined.train_on_batch changed G (gradients flow through the frozen D)",
        checks["g_changed"])

    heading("DCGAN: do the samples look like digits?")
    samples = np.concatenate([  # batches of 64: the compiled predict step is reused
        np.asarray(G.predict_on_batch(rng.normal(size=(batch, LATENT)).astype("float32")))
        for _ in range(4)])
    judge = build_judge(x_train, y_train)
    judge_acc = judge.score(x_test.reshape(len(x_test), -1), y_test)
    print(f"  judge (logistic regression on real digits): held-out accuracy {judge_acc:.4f}")
    noise = rng.uniform(-1, 1, size=samples.shape).astype("float32")
    verdicts = {name: judge_samples(judge, x) for name, x in
                [("generated", samples), ("held-out real", x_test[:256]), ("noise", noise)]}
    for name, (confident, n_classes, counts) in verdicts.items():
        print(f"  {name:>14}: {confident:6.1%} classified with p >= 0.9, into {n_classes} "
              f"classes {counts.tolist()}")
    stats = {name: (float(x.mean()), float(x.std()), float((x > 0).mean()))
             for name, x in [("generated", samples), ("real", x_train)]}
    for name, (mean, std, ink) in stats.items():
        print(f"  {name:>14} pixels: mean {mean:+.3f}  std {std:.3f}  inked (> 0) {ink:.3f}")
    mean_gap = float(np.abs(samples.mean(axis=0) - x_train.mean(axis=0)).mean())
    print(f"  mean absolute gap between the average generated and average real image: "
          f"{mean_gap:.3f} (pixel range 2)")
    os.makedirs(out_dir, exist_ok=True)
    path = save_grid(samples[:64], os.path.join(out_dir, "samples.png"))
    print(f"  PNG grid of 64 samples: {path}")
    facts["png_written"] = verdict("the PNG grid was written", os.path.getsize(path) > 0)
    if not quick:
        facts["samples_classified_confidently"] = verdict(
            "the judge classifies >= 40% of the samples with p >= 0.9, at least 4x the rate "
            "for noise (real held-out digits: about 80%)",
            verdicts["generated"][0] >= 0.4
            and verdicts["generated"][0] >= 4 * verdicts["noise"][0])
        facts["samples_cover_many_classes"] = verdict(
            "the confident samples fall into at least 8 of the 10 digit classes",
            verdicts["generated"][1] >= 8)
        facts["pixel_statistics_match"] = verdict(
            "the samples' pixel mean, spread and ink fraction are within 0.1 of the data's, "
            "and the average image within 0.1 per pixel",
            all(abs(g - r) < 0.1 for g, r in zip(stats["generated"], stats["real"], strict=True))
            and mean_gap < 0.1)
    print(f"  all claims verified: {all(facts.values())}")
    return facts


if __name__ == "__main__":
    results = main()
    raise SystemExit(0 if all(results.values()) else 1)
