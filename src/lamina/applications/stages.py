"""The stages of an application backbone, shallow to deep, for `GradualUnfreezing` and
discriminative learning rates: each family names its stages by layer-name prefix
(`resnet.STAGES`, `mobilenet_v2.STAGES`), and `stages(model)` returns the layers of each."""
from lamina.errors import ConfigurationError


def layers_by_stage(model, stage_prefixes, family):
    """[[layers of stage 1], [layers of stage 2], ...] of `model` (an application of
    `family`, or a model holding one): a layer belongs to the first stage one of whose
    prefixes starts its name. Input, pooling and classifier layers belong to none."""
    found = [[] for _ in stage_prefixes]
    for layer in _backbone(model, stage_prefixes).layers:
        for group, prefixes in zip(found, stage_prefixes, strict=True):
            if layer.name.startswith(prefixes):
                group.append(layer)
                break
    if not all(found):
        raise ConfigurationError(
            f"{family} stages: model '{model.name}' lacks the layers of stage(s) "
            f"{[p for p, g in zip(stage_prefixes, found, strict=True) if not g]}; expected a "
            f"{family} model (or a model holding one) with Keras's layer names.")
    return found


def _backbone(model, stage_prefixes):
    """`model` itself when it has the stem, else the nested model that does."""
    if any(layer.name.startswith(stage_prefixes[0]) for layer in model.layers):
        return model
    for layer in model.layers:
        if hasattr(layer, "layers") and any(
                sub.name.startswith(stage_prefixes[0]) for sub in layer.layers):
            return layer
    return model
