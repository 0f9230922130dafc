"""What a compiled LoRA train step holds and computes (issue 18, the benchmark's memory and
time): besides the frozen base kernels themselves (arguments, not donated), the program makes
no buffer of a frozen kernel's size (no gradient, no transposed copy), and the attention
projections it trains through equal the plain `tensordot` they replace."""
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm
from lamina.layers.multi_head_attention import project

# sizes chosen so that no activation, adapter or bias has a kernel's element count
BATCH, SEQ, WIDTH, HEADS, KEY_DIM, RANK = 3, 7, 12, 2, 5, 3
KERNEL_SIZE = WIDTH * HEADS * KEY_DIM  # 120: every projection kernel (d, h, k) / (h, k, d)


@pytest.fixture(scope="module")
def lora_attention():
    """Self-attention -> pooled -> Dense head; LoRA on query and value, every other weight
    but the head frozen (the benchmark's set-up, small); its train step lowered (the step
    `train_on_batch` would compile and run)."""
    lm.reset_names()
    inputs = lm.Input((SEQ, WIDTH))
    attention = lm.layers.MultiHeadAttention(HEADS, KEY_DIM, name="mha")
    pooled = lm.layers.GlobalAveragePooling1D()(attention(inputs, inputs))
    model = lm.Model(inputs, lm.layers.Dense(1, name="head")(pooled))
    model.enable_lora(RANK, targets=["*query_dense", "*value_dense"])
    for variable in model.weights:
        if not ("lora_" in variable.path or variable.path.startswith("head/")):
            variable.trainable = False
    model.compile(optimizer=lm.optimizers.Adam(1e-3), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, SEQ, WIDTH)).astype("float32")
    y = rng.normal(size=(BATCH, 1)).astype("float32")
    trainer = model._trainer
    trainer.ensure_ready(x)
    plan = trainer._current_plan()
    step = trainer._build("train", "batch", None, plan)
    state = plan.state(trainer.opt_state, trainer.metric_state)
    return attention, step.jitted.lower(state._replace(other=None), state.other, x, [y], None)


def _entry_buffers(hlo_text):
    """(opcode, element count) of every instruction of the entry computation that makes a
    buffer: parameters, bitcasts (views) and tuples left out."""
    entry = hlo_text[hlo_text.index("\nENTRY"):]
    found = []
    for match in re.finditer(r"^\s+(?:ROOT )?%\S+ = \w+\[([\d,]*)\]\{[^}]*\} (\S+?)\(",
                             entry, re.M):
        dims, opcode = match.groups()
        if opcode not in ("parameter", "bitcast", "get-tuple-element"):
            found.append((opcode, math.prod(int(d) for d in dims.split(",") if d)))
    return found


def test_the_lora_step_makes_no_buffer_of_a_frozen_kernels_size(lora_attention):
    attention, lowered = lora_attention
    kernels = [attention.query_dense.kernel, attention.key_dense.kernel,
               attention.value_dense.kernel, attention.output_dense.kernel]
    assert {math.prod(k.shape) for k in kernels} == {KERNEL_SIZE}
    assert not any(k.trainable for k in kernels)
    buffers = _entry_buffers(lowered.compile().as_text())
    assert any(opcode == "fusion" for opcode, _ in buffers)  # the parse sees the program
    # a frozen kernel's gradient, or a copy of it (transposed for the input gradient),
    # would be a buffer of its size
    assert [b for b in buffers if b[1] == KERNEL_SIZE] == []
    arguments = [tuple(s.shape) for s in jax.tree_util.tree_leaves(lowered.in_avals)]
    results = [tuple(s.shape) for s in jax.tree_util.tree_leaves(lowered.out_info)]
    for kernel in kernels:  # each kernel comes in (not donated), none goes out
        assert tuple(kernel.shape) in arguments and tuple(kernel.shape) not in results


@pytest.mark.parametrize("x_shape,w_shape,contract", [
    ((BATCH, SEQ, WIDTH), (WIDTH, HEADS, KEY_DIM), 1),  # query / key / value
    ((BATCH, SEQ, HEADS, KEY_DIM), (HEADS, KEY_DIM, WIDTH), 2),  # attention output
    ((BATCH, SEQ, HEADS, KEY_DIM), (HEADS, KEY_DIM, 4, 3), 2),  # output_shape=(4, 3)
])
def test_projection_matmul_equals_tensordot_with_its_gradients(x_shape, w_shape, contract):
    rng = np.random.default_rng(1)
    x = rng.normal(size=x_shape)
    w = rng.normal(size=w_shape)
    lead = len(x_shape) - contract
    cotangent = rng.normal(size=x_shape[:lead] + w_shape[contract:])
    out, vjp = jax.vjp(lambda a, b: project(a, b, contract), *(jnp.asarray(v, jnp.float32)
                                                              for v in (x, w)))
    dx, dw = vjp(jnp.asarray(cotangent, jnp.float32))
    # numpy in float64: out = x . w over the contracted axes, dx = cot . w^T, dw = x^T . cot
    tail = tuple(range(contract, len(w_shape)))
    expected = (np.tensordot(x, w, axes=contract),
                np.tensordot(cotangent, w, axes=(tuple(range(lead, cotangent.ndim)), tail)),
                np.tensordot(x, cotangent, axes=(tuple(range(lead)), tuple(range(lead)))))
    for got, want in zip((out, dx, dw), expected, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
