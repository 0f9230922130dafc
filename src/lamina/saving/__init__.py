"""Serialisation: the class registry and config <-> object conversion."""
from lamina.errors import UnknownAttributeError
from lamina.saving.registry import deserialize as deserialize
from lamina.saving.registry import register_serializable as register_serializable
from lamina.saving.registry import serialize as serialize
from lamina.saving.registry import register_function as register_function


def __getattr__(name):
    # model_io imports the training package; load it on first use to keep imports acyclic
    if name in ("save_model", "load_model", "save_weights", "load_weights"):
        from lamina.saving import model_io

        return getattr(model_io, name)
    raise UnknownAttributeError(name)
