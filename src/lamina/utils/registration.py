"""`register_keras_serializable`: Keras's name and signature for lamina's class registry."""
from lamina.core.registry import register_serializable


def register_keras_serializable(package="Custom", name=None):
    """Decorator: register a class (or function) for saving under Keras's registered name
    `"package>name"` (`name` defaults to the class's name), the key Keras writes in its
    configs. A file then names it by that key, and only registered classes are built from
    files (docs/design.md, "Saving")."""

    def decorate(obj):
        return register_serializable(f"{package}>{name or obj.__name__}")(obj)

    return decorate
