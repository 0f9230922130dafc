"""LoRA (low-rank adaptation, Hu et al. 2021) on the layers that hold one big weight.

`layer.enable_lora(rank)` adds two trainable adapters `a` (the base weight's shape with its
last axis replaced by `rank`) and `b` (`(rank, last axis)`), with Keras 3's names and
shapes, and the layer computes with `base + a @ b * lora_alpha / rank`. The base weight is
frozen by its **own flag** (docs/design.md rule 1): no later layer flag, model flag or
`unfreeze` makes it trainable again; only an explicit `layer.kernel.trainable = True` does,
and `explain()` names LoRA as the reason it does not train. The adapters are ordinary
variables of the layer, so layer flags and scoped freezes apply to them as to any weight.

Dense, EinsumDense and the attention projections compute the adapter path unmerged,
`(x a) b`, so a training step never forms the gradient of the full base weight; Embedding
gathers rows of `a`; convolutions use the merged kernel (it is small).
"""
import string

import jax.numpy as jnp

from lamina.core import trainability_version
from lamina.errors import ConfigurationError, UsageError


def _label(layer):
    return f"{type(layer).__name__} '{layer.name}'"


def check_rank(layer, rank):
    if not isinstance(rank, int) or isinstance(rank, bool) or rank <= 0:
        raise ConfigurationError(
            f"{_label(layer)}: expected a positive integer LoRA `rank`, received {rank!r}.")
    return rank


class LoRA:
    """Mixin of the layers that support `enable_lora` (placed before `Layer` in the bases).

    Class attributes: `_lora_base`, the attribute holding the base weight; `_lora_names`, the
    names of the two adapters (Keras's: `lora_kernel_a` / `lora_kernel_b`, or
    `lora_embeddings_a` / `lora_embeddings_b`).

    Constructor arguments (Keras's): `lora_rank` enables LoRA as soon as the layer is built;
    `lora_alpha` (default `lora_rank`) scales the adapters' product by `lora_alpha / rank`.
    """

    _lora_base = "kernel"
    _lora_names = ("lora_kernel_a", "lora_kernel_b")

    def __init__(self, *args, lora_rank=None, lora_alpha=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lora_rank = None if lora_rank is None else check_rank(self, lora_rank)
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self._lora = None  # (a, b, the base's own flag before enable_lora)
        for name in self._lora_names:
            setattr(self, name, None)

    @property
    def lora_enabled(self):
        return self._lora is not None

    def _enable_configured_lora(self):
        """Called at the end of `build`: the `lora_rank` given to the constructor."""
        if self.lora_rank is not None and not self.lora_enabled:
            self.built = True  # the base weight exists: `build` is finishing
            self.enable_lora(self.lora_rank, self.lora_alpha)

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform",
                    b_initializer="zeros"):
        """Add LoRA adapters of `rank` and freeze the base weight by its own flag.

        `b` starts at zero (Keras's default), so the layer's outputs are unchanged until the
        adapters train. Raises if the layer is not built, LoRA is already enabled, or the
        base weight has a constraint (a constraint on the sum cannot be kept).
        """
        check_rank(self, rank)
        if not self.built:
            raise UsageError(
                f"{_label(self)}: enable_lora needs the layer built (the adapters take the "
                "base weight's shape); call the layer on data or `build(input_shape)` first.")
        if self.lora_enabled:
            raise UsageError(
                f"{_label(self)}: LoRA is already enabled (rank {self.lora_rank}); call "
                "`merge_lora()` first to fold the adapters in and start new ones.")
        base = getattr(self, self._lora_base)
        if base.constraint is not None:
            raise ConfigurationError(
                f"{_label(self)}: LoRA cannot be enabled on a weight with a constraint "
                f"('{base.path}' has one): the constraint could not hold for base + a @ b. "
                "Remove the constraint.")
        a = self.add_weight(base.shape[:-1] + (rank,), a_initializer, name=self._lora_names[0],
                            regularizer=base.regularizer)
        b = self.add_weight((rank, base.shape[-1]), b_initializer, name=self._lora_names[1],
                            regularizer=base.regularizer)
        self._lora = (a, b, base.trainable)
        setattr(self, self._lora_names[0], a)
        setattr(self, self._lora_names[1], b)
        base.trainable = False
        base.frozen_reason = (
            f"LoRA is enabled on {_label(self)} (enable_lora): its base weight '{base.path}' "
            f"is frozen and the adapters {self._lora_names[0]} / {self._lora_names[1]} train "
            f"instead; set `{self.name}.{self._lora_base}.trainable = True` to train it too")
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    @property
    def lora_scale(self):
        return self.lora_alpha / self.lora_rank

    def lora_delta(self):
        """`a @ b * lora_alpha / rank`, in the base weight's shape."""
        a, b, _ = self._lora
        return jnp.matmul(a.value, b.value) * self.lora_scale

    def lora_weight(self):
        """The weight the layer computes with: the base, plus the adapters' product."""
        base = getattr(self, self._lora_base).value
        return base + self.lora_delta().astype(base.dtype) if self.lora_enabled else base

    def lora_path(self, project, combine=jnp.matmul):
        """`combine(project(a), b) * scale`: the adapters' contribution to the output,
        computed without forming `a @ b`. `project` maps a weight of the base's layout (with
        the last axis `rank`) to the output with that last axis; `combine` contracts it with
        `b` (a matmul over the last axis by default)."""
        a, b, _ = self._lora
        return combine(project(a.value), b.value) * self.lora_scale

    def merge_lora(self):
        """Fold the adapters into the base weight and remove them (for serving): outputs
        stay equal, the base weight gets back the own flag it had before `enable_lora`."""
        if not self.lora_enabled:
            raise UsageError(f"{_label(self)}: merge_lora needs LoRA enabled; it is not.")
        base = getattr(self, self._lora_base)
        merged = self.lora_weight()
        a, b, prior_flag = self._lora
        base.assign(merged)
        base.trainable = prior_flag
        del base.frozen_reason
        self._variables = [v for v in self._variables if v is not a and v is not b]
        self._lora = None
        for name in self._lora_names:
            setattr(self, name, None)
        self.lora_rank = self.lora_alpha = None
        trainability_version.bump()

    def lora_config(self):
        """Keras's config entries: `lora_rank` and `lora_alpha` when LoRA is enabled."""
        if not self.lora_enabled:
            return {}
        return {"lora_rank": self.lora_rank, "lora_alpha": self.lora_alpha}


def einsum_adapter_equations(equation):
    """(first, second) einsum equations computing EinsumDense's adapter path unmerged:
    `first` contracts the input with `a` (the kernel spec with its last letter replaced by a
    free letter R), `second` contracts that with `b` (`R` + the last letter). None when the
    kernel's last letter is contracted (not in the output): the merged kernel is used then."""
    inputs, output = equation.split("->")
    x_spec, w_spec = inputs.split(",")
    last = w_spec[-1]
    if last not in output:
        return None
    free = next(c for c in string.ascii_letters if c not in equation)
    middle = output.replace(last, free)
    return f"{x_spec},{w_spec[:-1]}{free}->{middle}", f"{middle},{free}{last}->{output}"
