"""What XLA:CPU's YNNPACK options do to lamina's programs: correctness first, then speed.

Part 1, the dot fusion (not enabled). XLA:CPU can hand dot products (and the convolutions
it rewrites into them) to YNNPACK through `xla_cpu_experimental_ynn_fusion_type`'s
`LIBRARY_FUSION_TYPE_DOT`. The script checks what that does on the installed jaxlib:

1. correctness: small programs whose dot has a constant operand (`x @ jnp.ones(...)`,
   a slice of a concatenation as in `tests/ops/test_symbolic.py`) and one whose operands
   are both arrays, each compiled with and without the option; prints the largest
   difference from the program compiled without it (float rounding is below 1e-5);
2. speed: W4's second convolution (128x13x13x32 -> 64, 3x3 valid, XLA's lowering) and a
   512x512 matrix product, forward and forward + backward, median of `--reps` calls.

lamina enables the option only if every correctness row is within rounding.

Part 2, YNNPACK's convolutions (on by default in jax 0.10's XLA:CPU). W4's two convolutions
(forward, input gradient, kernel gradient) and W4's whole train step (XLA's convolutions,
lamina's CPU max pooling, Adam) compiled with XLA:CPU's defaults and with
`lamina.core.lowering.step_guard.EIGEN_CONVOLUTIONS` (the defaults without YNNPACK's
convolutions, so XLA's Eigen kernels run them), with the largest difference between the two.
The step guard times that option as a candidate for every train step with convolutions.

    python benchmarks/ynnpack.py [--reps 20]
"""
import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}


def correctness_cases():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, 4, 3)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(3, 3)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(2, 2)), jnp.float32)

    def symbolic_graph(x, k):
        residual = (x @ k + x) * 2.0 - 1
        joined = jnp.concatenate([residual, 1 - x, jnp.abs(-x) ** 2], axis=-1)
        return joined[..., 1:5] @ jnp.ones((4, 2))

    return {
        "x @ ones((3, 2))": (lambda x: x @ jnp.ones((3, 2)), (x,)),
        "x[..., 1:3] @ ones((2, 2))": (lambda x: x[..., 1:3] @ jnp.ones((2, 2)), (x,)),
        "reshape(x) @ full((3, 2), 2)": (lambda x: x.reshape(8, 3) @ jnp.full((3, 2), 2.0),
                                         (x,)),
        "test_symbolic's graph": (symbolic_graph, (x, k)),
        "x[..., 1:3] @ w (two arrays)": (lambda x, w: x[..., 1:3] @ w, (x, w)),
    }


def timed(fn, args, reps):
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def speed_cases():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(128, 13, 13, 32)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(3, 3, 32, 64)) * 0.1, jnp.float32)
    a = jnp.asarray(rng.normal(size=(512, 512)), jnp.float32)

    def conv(x, k):
        return jax.lax.conv_general_dilated(x, k, (1, 1), "VALID",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def matmul(a, b):
        return jnp.tanh(a @ b)

    def both(fn):
        return lambda *args: jax.grad(lambda *p: jnp.sum(fn(*p) ** 2), argnums=(0, 1))(*args)

    return {"W4 conv2 fwd": (conv, (x, k)), "W4 conv2 fwd+bwd": (both(conv), (x, k)),
            "matmul 512 fwd": (matmul, (a, a)), "matmul 512 fwd+bwd": (both(matmul), (a, a))}


def eigen_cases():
    """W4's convolutions, each differentiated alone, and W4's whole step: name -> (fn, args)."""
    import optax

    from lamina.core.lowering import pooling
    rng = np.random.default_rng(2)

    def array(*shape, scale=1.0):
        return jnp.asarray(rng.normal(size=shape) * scale, jnp.float32)

    def conv(x, k):
        return jax.lax.conv_general_dilated(x, k, (1, 1), "VALID",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    cases = {}
    for name, x, k in (("conv1 (1 -> 32, 28x28)", array(128, 28, 28, 1), array(3, 3, 1, 32)),
                       ("conv2 (32 -> 64, 13x13)", array(128, 13, 13, 32),
                        array(3, 3, 32, 64, scale=0.1))):
        g = array(*conv(x, k).shape)
        cases[f"{name} forward"] = (conv, (x, k))
        cases[f"{name} input gradient"] = (
            lambda x, k, g: jax.vjp(lambda a: conv(a, k), x)[1](g), (x, k, g))
        cases[f"{name} kernel gradient"] = (
            lambda x, k, g: jax.vjp(lambda b: conv(x, b), k)[1](g), (x, k, g))

    def logits(p, images):
        for w, b in p[:2]:
            images = pooling.max_pool(jax.nn.relu(conv(images, w) + b), (2, 2), (2, 2),
                                      "valid", lowering="slices")
        return images.reshape(len(images), -1) @ p[2][0] + p[2][1]

    def step(params, opt_state, images, labels):
        loss, grads = jax.value_and_grad(lambda p: optax.softmax_cross_entropy_with_integer_labels(
            logits(p, images), labels).mean())(params)
        updates, opt_state = adam.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    adam = optax.adam(1e-3)
    params = [(array(3, 3, 1, 32, scale=0.3), jnp.zeros(32)),
              (array(3, 3, 32, 64, scale=0.05), jnp.zeros(64)),
              (array(1600, 10, scale=0.03), jnp.zeros(10))]
    labels = jnp.asarray(rng.integers(0, 10, 128))
    cases["W4 train step (Adam, lamina's pooling)"] = (
        step, (params, adam.init(params), array(128, 28, 28, 1), labels))
    return cases


def compare_eigen(reps):
    from lamina.core.lowering.step_guard import EIGEN_CONVOLUTIONS
    print(f"\nconvolutions: median ms of {reps} calls, XLA:CPU's defaults (YNNPACK) against "
          f"{EIGEN_CONVOLUTIONS}")
    for name, (fn, inputs) in eigen_cases().items():
        default, eigen = jax.jit(fn), jax.jit(fn, compiler_options=EIGEN_CONVOLUTIONS)
        diff = max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(
            jax.tree_util.tree_leaves(default(*inputs)),
            jax.tree_util.tree_leaves(eigen(*inputs)), strict=True))
        ynn, own = timed(default, inputs, reps), timed(eigen, inputs, reps)
        print(f"  {name:<38} YNNPACK {ynn * 1e3:7.2f}  Eigen {own * 1e3:7.2f}  "
              f"speed-up {ynn / own:5.2f}x  largest difference {diff:.2g}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    print(f"jax {jax.__version__} {jax.devices()[0]}; option {OPTIONS}")
    print("\ncorrectness: largest |with option - without|")
    wrong = 0
    for name, (fn, inputs) in correctness_cases().items():
        plain = np.asarray(jax.jit(fn)(*inputs))
        ynn = np.asarray(jax.jit(fn, compiler_options=OPTIONS)(*inputs))
        diff = float(np.abs(ynn - plain).max())
        wrong += diff > 1e-5
        print(f"  {name:<32}{diff:>12.3g}" + ("  WRONG" if diff > 1e-5 else ""))
    print(f"\nspeed: median ms of {args.reps} calls")
    for name, (fn, inputs) in speed_cases().items():
        plain = timed(jax.jit(fn), inputs, args.reps)
        ynn = timed(jax.jit(fn, compiler_options=OPTIONS), inputs, args.reps)
        print(f"  {name:<22} without {plain * 1e3:8.2f}  with {ynn * 1e3:8.2f}  "
              f"speed-up {plain / ynn:5.2f}x")
    print(f"\n{wrong} program(s) computed wrong values with the option: "
          + ("do not enable it" if wrong else "correct on these cases"))
    compare_eigen(args.reps)


if __name__ == "__main__":
    main()
