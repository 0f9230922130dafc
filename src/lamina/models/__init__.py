"""Keras's `keras.models` names."""
from lamina.models.cloning import clone_model as clone_model
from lamina.models.gan import GAN as GAN
from lamina.models.model import Model as Model
from lamina.models.sequential import Sequential as Sequential


def load_model(filepath):
    """Rebuild a model saved with `model.save(filepath)` (architecture, weights, flags, scoped
    freezes, compile configuration and optimizer state), or import a Keras 3 `.keras` file."""
    from lamina.saving import model_io  # saving builds on the models: a facade import

    return model_io.load_model(filepath)
