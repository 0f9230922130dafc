"""Keras's `dot_product_attention` over `jax.nn.dot_product_attention`."""
import jax

from lamina.errors import NotSupportedError
from lamina.ops.tensors import optional, tensor


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """`softmax(query @ key^T * scale + bias, masked) @ value` on (batch, time, heads, depth)
    inputs (grouped-query when `key` has fewer heads).

    `flash_attention=True` uses cuDNN's fused kernel on a GPU and XLA elsewhere."""
    if attn_logits_soft_cap is not None:
        raise NotSupportedError("lamina.ops.dot_product_attention: attn_logits_soft_cap is only "
                                "implemented by Keras's TPU kernel; lamina does not support it. "
                                "Leave it None.")
    implementation = "cudnn" if flash_attention and jax.default_backend() == "gpu" else "xla"
    return jax.nn.dot_product_attention(tensor(query), tensor(key), tensor(value),
                                        bias=optional(bias), mask=optional(mask), scale=scale,
                                        is_causal=is_causal, implementation=implementation)
