"""Losses with Keras 3 names: classes, function forms and the string names `compile` accepts.

A loss object is called as `loss(y_true, y_pred, sample_weight=None, mask=None)` and returns
Keras's "sum over batch size" reduction by default: `sum(per_sample * weight) / batch_size`.
A mask (the model output's mask, e.g. padded time steps) averages over the valid entries only,
as Keras 3 does. The function forms (`lamina.losses.huber(y_true, y_pred)`, ...) return the
per-sample values.

String names are resolved once, by `get`: the Keras function names ("huber", "log_cosh",
"categorical_focal_crossentropy", ...), the aliases "mse", "mae", "mape", "msle", "bce",
"kld", and the class names ("Huber", ...).
"""
from lamina.errors import ConfigurationError
from lamina.losses.base import (
    EPSILON,
    REDUCTIONS,
    Loss,
    LossFunctionWrapper,
    mask_weights,
    match_rank,
    reduce_weighted,
)
from lamina.losses.crossentropy import (
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    KLDivergence,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    kl_divergence,
    sparse_categorical_crossentropy,
)
from lamina.losses.hinge_losses import (
    CategoricalHinge,
    Hinge,
    SquaredHinge,
    categorical_hinge,
    hinge,
    squared_hinge,
)
from lamina.losses.regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
)

__all__ = [
    "CLASSES",
    "EPSILON",
    "FUNCTIONS",
    "REDUCTIONS",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "cosine_similarity",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mask_weights",
    "match_rank",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "reduce_weighted",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]


class _Function(Loss):
    """Wraps a user function `fn(y_true, y_pred) -> per-sample loss`."""

    def __init__(self, fn):
        super().__init__(getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


# function name -> class; the functions are also savable by these names
FUNCTIONS = {
    "mean_squared_error": (mean_squared_error, MeanSquaredError),
    "mean_absolute_error": (mean_absolute_error, MeanAbsoluteError),
    "mean_absolute_percentage_error": (mean_absolute_percentage_error,
                                       MeanAbsolutePercentageError),
    "mean_squared_logarithmic_error": (mean_squared_logarithmic_error,
                                       MeanSquaredLogarithmicError),
    "huber": (huber, Huber),
    "log_cosh": (log_cosh, LogCosh),
    "cosine_similarity": (cosine_similarity, CosineSimilarity),
    "poisson": (poisson, Poisson),
    "kl_divergence": (kl_divergence, KLDivergence),
    "binary_crossentropy": (binary_crossentropy, BinaryCrossentropy),
    "binary_focal_crossentropy": (binary_focal_crossentropy, BinaryFocalCrossentropy),
    "categorical_crossentropy": (categorical_crossentropy, CategoricalCrossentropy),
    "categorical_focal_crossentropy": (categorical_focal_crossentropy,
                                       CategoricalFocalCrossentropy),
    "sparse_categorical_crossentropy": (sparse_categorical_crossentropy,
                                        SparseCategoricalCrossentropy),
    "hinge": (hinge, Hinge),
    "squared_hinge": (squared_hinge, SquaredHinge),
    "categorical_hinge": (categorical_hinge, CategoricalHinge),
}

CLASSES = tuple(cls for _, cls in FUNCTIONS.values())

_ALIASES = {"mse": MeanSquaredError, "mae": MeanAbsoluteError,
            "mape": MeanAbsolutePercentageError, "msle": MeanSquaredLogarithmicError,
            "bce": BinaryCrossentropy, "kld": KLDivergence}

_REGISTRY = {
    **{name: cls for name, (_, cls) in FUNCTIONS.items()},
    **_ALIASES,
    **{alias.upper(): cls for alias, cls in _ALIASES.items()},
    **{cls.__name__: cls for cls in CLASSES},
}


def get(identifier):
    """A `Loss` from a name, an instance or a function `(y_true, y_pred) -> per-sample loss`.

    Raises:
        ConfigurationError: for an unknown name (the message lists the valid ones) or an
            identifier of another type.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _REGISTRY.get(identifier)
        if cls is None:
            names = sorted(list(FUNCTIONS) + list(_ALIASES))
            raise ConfigurationError(
                f"Unknown loss {identifier!r}. Valid names: {', '.join(names)} (or a class "
                "name such as 'Huber'). Pass a lamina.losses.Loss instance to set options."
            )
        return cls()
    if callable(identifier):
        return _Function(identifier)
    raise ConfigurationError(
        f"Expected a loss name, Loss instance or function, received {identifier!r} "
        f"(of type {type(identifier).__name__})."
    )
