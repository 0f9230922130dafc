"""A small GAN on scikit-learn's 8x8 digits, with the discriminator frozen by a scoped freeze.

The classic Keras 2 recipe sets `D.trainable = False` before building the combined model and
relies on the flag being "captured" at compile time. In lamina flags are live, so that recipe
would freeze D everywhere (lamina refuses to train a model in which nothing trains, and says
so). Instead the combined model freezes D in its own scope:

    combined = lm.Model(z, D(G(z)))
    combined.freeze(D)          # D is a constant inside `combined`; D.trainable stays True

Each iteration is one `D.train_on_batch` on real + fake images (D trains), then one
`combined.train_on_batch` on noise labelled "real" (G trains through the frozen D). After every
combined step the example checks that D's weights are bit-for-bit unchanged.

Run: python examples/gan.py     (writes examples/output/gan_samples.png if matplotlib is there)
"""
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.neighbors import NearestNeighbors

import lamina as lm

LATENT = 16
PIXELS = 64  # 8 x 8
ASCII_RAMP = " .:-=+*#%@"

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "output")


def heading(title):
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def verdict(text, ok):
    print(f"  VERDICT [{'ok' if ok else 'FAILED'}]: {text}")
    return ok


def load_images():
    """The 1,797 digits of scikit-learn (bundled, no download), scaled to [-1, 1]."""
    images = load_digits().data.astype("float32")  # values 0..16
    return images / 8.0 - 1.0


def build_gan():
    G = lm.Sequential([
        lm.Input((LATENT,)),
        lm.layers.Dense(64, activation="leaky_relu"),
        lm.layers.Dense(128, activation="leaky_relu"),
        lm.layers.Dense(PIXELS, activation="tanh"),
    ], name="generator")

    image = lm.Input((PIXELS,), name="image")
    h = lm.layers.Dense(128, activation="leaky_relu")(image)
    h = lm.layers.Dense(64, activation="leaky_relu")(h)
    D = lm.Model(image, lm.layers.Dense(1)(h), name="discriminator")  # logits

    z = lm.Input((LATENT,), name="z")
    combined = lm.Model(z, D(G(z)), name="combined")
    combined.freeze(D)  # no flag toggling: D is frozen only when `combined` trains

    bce = lm.losses.BinaryCrossentropy(from_logits=True)
    D.compile(optimizer=lm.optimizers.Adam(learning_rate=1e-3, beta_1=0.5), loss=bce)
    combined.compile(optimizer=lm.optimizers.Adam(learning_rate=1e-3, beta_1=0.5), loss=bce)
    return G, D, combined


def ascii_grid(images, columns=4):
    """Render 8x8 images in [-1, 1] side by side as text."""
    rows = []
    for start in range(0, len(images), columns):
        block = images[start:start + columns].reshape(-1, 8, 8)
        for r in range(8):
            cells = []
            for img in block:
                levels = np.clip(((img[r] + 1) / 2 * (len(ASCII_RAMP) - 1)).round(), 0,
                                 len(ASCII_RAMP) - 1).astype(int)
                cells.append("".join(ASCII_RAMP[v] * 2 for v in levels))
            rows.append("  " + "  ".join(cells))
        rows.append("")
    return "\n".join(rows)


def save_png(images, path):
    """Save a grid of samples with matplotlib when it is installed; return the path or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    os.makedirs(os.path.dirname(path), exist_ok=True)
    n = len(images)
    cols = 8
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(cols, (n + cols - 1) // cols))
    for ax, img in zip(np.ravel(axes), images, strict=True):
        ax.imshow(img.reshape(8, 8), cmap="gray_r", vmin=-1, vmax=1)
        ax.axis("off")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def same_weights(before, after):
    return all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def main(quick=False, out_dir=DEFAULT_OUT):
    iterations = 40 if quick else 1500
    every = 10 if quick else 250
    batch = 64
    lm.random.set_seed(0)
    rng = np.random.default_rng(0)
    images = load_images()
    G, D, combined = build_gan()
    facts = {}

    heading("GAN: models")
    G.summary()
    D.summary()
    combined.summary()
    print(combined.explain())
    facts["d_flag_true"] = verdict(
        "D.trainable reads True: combined.freeze(D) touched no flag", D.trainable is True)
    facts["d_frozen_in_combined"] = verdict(
        "combined trains exactly G's weights (D is frozen in its scope)",
        {v.path for v in combined.trainable_weights} == {v.path for v in G.weights})
    facts["d_trains_alone"] = verdict(
        "D trains all of its own weights when it is the model being trained",
        {v.path for v in D.trainable_weights} == {v.path for v in D.weights})

    heading(f"GAN: training ({iterations} iterations, batch {batch})")
    ones, zeros = np.ones((batch, 1), "float32"), np.zeros((batch, 1), "float32")
    d_labels = np.concatenate([ones, zeros])
    d_unchanged_by_combined = True
    g_changed_by_combined = True
    d_changed_by_d_step = True
    for it in range(1, iterations + 1):
        real = images[rng.integers(0, len(images), batch)]
        fake = np.asarray(G.predict_on_batch(rng.normal(size=(batch, LATENT)).astype("float32")))
        d_before = D.get_weights()
        d_loss = D.train_on_batch(np.concatenate([real, fake]), d_labels)
        d_after = D.get_weights()
        d_changed_by_d_step &= not same_weights(d_before, d_after)

        g_before = G.get_weights()
        g_loss = combined.train_on_batch(rng.normal(size=(batch, LATENT)).astype("float32"), ones)
        d_unchanged_by_combined &= same_weights(d_after, D.get_weights())
        g_changed_by_combined &= not same_weights(g_before, G.get_weights())
        if it % every == 0 or it == 1:
            print(f"  iteration {it:5d}   D loss {float(d_loss):.4f}   G loss {float(g_loss):.4f}"
                  f"   D bitwise unchanged by every combined step so far: "
                  f"{d_unchanged_by_combined}")
    facts["d_trained_by_d_step"] = verdict(
        "every D.train_on_batch changed D's weights", d_changed_by_d_step)
    facts["d_bitwise_unchanged_by_combined"] = verdict(
        "every combined.train_on_batch left D bit-for-bit unchanged (np.array_equal)",
        d_unchanged_by_combined)
    facts["g_trained_through_frozen_d"] = verdict(
        "every combined.train_on_batch changed G's weights (gradients flow through frozen D)",
        g_changed_by_combined)

    heading("GAN: samples")
    noise = rng.normal(size=(batch, LATENT)).astype("float32")
    samples = np.asarray(G.predict_on_batch(noise))[:16]
    print(ascii_grid(samples[:8]))
    # how close are samples to real digits, next to random noise and to real digits?
    nn = NearestNeighbors(n_neighbors=1).fit(images[:1500])
    noise = rng.uniform(-1, 1, size=(len(samples), PIXELS)).astype("float32")
    dist = {name: float(nn.kneighbors(x)[0].mean())
            for name, x in [("generated", samples), ("uniform noise", noise),
                            ("held-out real", images[1500:1500 + len(samples)])]}
    print("  mean distance to the nearest training digit: "
          + ", ".join(f"{name} {d:.2f}" for name, d in dist.items()))
    if not quick:
        facts["samples_closer_than_noise"] = verdict(
            "generated samples are much closer to real digits than noise is",
            dist["generated"] < 0.5 * dist["uniform noise"])
    path = save_png(samples, os.path.join(out_dir, "gan_samples.png"))
    print(f"  PNG grid: {path}" if path else "  (matplotlib is not installed: no PNG written)")

    heading("GAN: the Keras 2 recipe, for contrast")
    print("  D.trainable = False; D.train_on_batch(...)   # flags are live in lamina")
    D.trainable = False
    try:
        D.train_on_batch(np.concatenate([real, fake]), d_labels)
        refused = False
    except lm.NotTrainableError as error:
        refused = True
        print("  lm.NotTrainableError:")
        print("\n".join("    " + line for line in str(error).splitlines()))
    D.trainable = True
    facts["keras2_recipe_refused"] = verdict(
        "the Keras 2 recipe is refused with an explanation instead of silently not training D",
        refused)
    print(f"  all claims verified: {all(facts.values())}")
    return facts


if __name__ == "__main__":
    results = main()
    raise SystemExit(0 if all(results.values()) else 1)
