"""Layers that run on the host, in numpy, before the compiled part of a model.

Strings are not JAX types, so the preprocessing layers that read strings (and the hashing
layers, which hash the decimal text of integers as Keras does) cannot run inside a jitted
step. A `HostLayer` computes with numpy on concrete arrays: called directly it is a data
pipeline function (numpy in, numpy out); inside a model it must read the model's inputs, and
the model applies it to each batch on the host before the compiled step
(docs/preprocessing.md). Called on a traced value it raises `UsageError` saying so.

A subclass implements two methods:
    host_call(self, inputs: np.ndarray, **kwargs) -> np.ndarray
    host_output_spec(self, shape: tuple, dtype: str) -> (tuple, str)
the second one giving the output's shape (batch dimension first, None where unknown) and
dtype name ("string" for text) for an input of that shape and dtype, without computing.
"""
from typing import Any

import jax
import numpy as np

from lamina.core import node
from lamina.core.layer import Layer
from lamina.errors import AbstractMethodError, UsageError

MSG_TRACED = """\
Layer '{name}' ({cls}) runs on the host in numpy, before the compiled part of a model:
expected a concrete array (numpy, a list, or a jax array), received a traced value.
It was called inside `jax.jit` or a compiled step. Put it first in the model (reading the
model's inputs) so the model applies it to each batch before the compiled step, or apply it
in the data pipeline:  x = layer(raw_batch)."""


def _is_plain_list(x: Any) -> bool:
    """A (nested) list or tuple of python strings or numbers: one array, as Keras reads it."""
    if not isinstance(x, (list, tuple)):
        return False
    return all(_is_plain_list(item) if isinstance(item, (list, tuple))
               else isinstance(item, (str, bytes, int, float)) for item in x)


def as_host_array(x: Any) -> np.ndarray:
    """A numpy array for any array-like; text stays text (numpy unicode or object arrays)."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (str, bytes)):
        return np.asarray(x, dtype=object)
    array = np.asarray(x)
    return array


class HostLayer(Layer):
    """Base class of the preprocessing layers that compute in numpy on the host."""

    runs_on_host = True
    # True for layers called on a list of features (HashedCrossing): a plain list is then
    # that list, each item one feature; otherwise a plain (nested) list is one array
    takes_feature_list = False

    def host_call(self, inputs: np.ndarray, **kwargs: Any) -> np.ndarray:
        raise AbstractMethodError(
            f"Layer '{self.name}' ({type(self).__name__}) does not define "
            "`host_call(self, inputs)`.")

    def host_output_spec(self, shape: tuple, dtype: str) -> tuple[tuple, str]:
        raise AbstractMethodError(
            f"Layer '{self.name}' ({type(self).__name__}) does not define "
            "`host_output_spec(self, shape, dtype)`.")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if node.any_symbolic((args, kwargs)):
            return node.symbolic_call(self, args, kwargs)
        kwargs.pop("training", None)
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(args)):
            raise UsageError(MSG_TRACED.format(name=self.name, cls=type(self).__name__))
        inputs = (as_host_array(args[0])
                  if _is_plain_list(args[0]) and not self.takes_feature_list
                  else jax.tree_util.tree_map(as_host_array, args[0]))
        if not self.built:
            self.build(jax.tree_util.tree_map(lambda a: tuple(a.shape), inputs))
            self.built = True
        return self.host_call(inputs, *args[1:], **kwargs)
