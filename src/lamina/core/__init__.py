"""The model graph: variables, layers, symbolic tensors, functional and sequential models."""
