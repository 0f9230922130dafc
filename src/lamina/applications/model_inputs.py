"""The inputs a family's model starts from: Keras's `get_source_inputs`, so that a model built
on an `input_tensor` that is the output of other layers takes that graph's `Input`s."""
from lamina.core.node import is_symbolic
from lamina.errors import ConfigurationError


def source_inputs(tensor, name="application"):
    """The `Input` tensors that `tensor` is computed from, in the order first met."""
    if not is_symbolic(tensor):
        raise ConfigurationError(
            f"{name}: expected a symbolic tensor (from lamina.Input or a layer called on "
            f"one), received {type(tensor).__name__}.")
    found, seen, stack = [], set(), [tensor]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if current.node.is_input:
            found.append(current)
        else:
            stack.extend(reversed(current.node.input_tensors))
    return found[0] if len(found) == 1 else found
