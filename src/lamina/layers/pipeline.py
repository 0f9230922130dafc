"""Pipeline (Keras 3): a plain layer that applies a list of layers in order, typically a
preprocessing or augmentation chain."""
from lamina.core import registry
from lamina.core.layer import Layer
from lamina.errors import ConfigurationError


class Pipeline(Layer):
    """Applies `layers` in order, passing each layer's output mask on to the next (the
    pipeline's own output carries no mask, as in Keras).

    Unlike a `Sequential` model it is a plain layer (no `fit`), as in Keras. Called on its
    own (outside any model, without `training=`) it runs in training mode, so an
    augmentation pipeline applied to numpy batches augments them, as Keras's does; inside a
    model it follows the model's training flag. Its layers are its sublayers: they save
    with it, and flags and scoped freezes reach them as for any container.

    Args:
        layers: a list of layers.
    """

    def __init__(self, layers, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(layers, (list, tuple)) or not all(
                isinstance(layer, Layer) for layer in layers):
            raise ConfigurationError(
                f"Pipeline '{self.name}': expected a list of layers, received {layers!r}.")
        self._pipeline_layers = list(layers)

    @property
    def layers(self):
        return list(self._pipeline_layers)

    def _call_in_scope(self, scope, args, kwargs, training):
        if training is None and scope.frame is None:
            training = True  # Keras's default for a pipeline applied on its own
        return super()._call_in_scope(scope, args, kwargs, training)

    def build(self, input_shape):
        """Sublayers build on their first call (each from its own input)."""

    def call(self, inputs, training=False, mask=None):
        for layer in self._pipeline_layers:
            kwargs = {"mask": mask} if mask is not None and layer._call_takes_mask else {}
            outputs = layer(inputs, **kwargs)
            mask = layer._output_mask(inputs, mask)
            inputs = outputs
        return inputs

    def get_config(self):
        return {**super().get_config(),
                "layers": [registry.serialize(layer) for layer in self._pipeline_layers]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layers = config.pop("layers", None)
        if not isinstance(layers, list):
            raise ConfigurationError(
                f"Pipeline config: expected 'layers' to be a list of serialized layers, "
                f"received {layers!r}.")
        return cls([registry.deserialize(entry) for entry in layers], **config)


LAYERS = (Pipeline,)
