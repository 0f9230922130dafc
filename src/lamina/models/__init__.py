"""Keras's `keras.models` names."""
from lamina.models.model import Model as Model
from lamina.models.sequential import Sequential as Sequential
from lamina.models.gan import GAN as GAN


def load_model(filepath):
    """Rebuild a model saved with `model.save(filepath)`: architecture, weights, flags,
    scoped freezes, compile configuration and optimizer state."""
    from lamina.saving import model_io

    return model_io.load_model(filepath)
