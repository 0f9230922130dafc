"""Keras's `keras.models` names."""
from lamina.core.model import Model as Model
from lamina.core.sequential import Sequential as Sequential
