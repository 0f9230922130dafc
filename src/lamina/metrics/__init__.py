"""Metrics with Keras 3 names, as pure `init / update / result` functions that run inside the
jitted training step (see `lamina.metrics.base` for the protocol).

`compile(metrics=[...])` accepts instances, functions `(y_true, y_pred) -> per-sample value`
and string names, resolved once by `get`: the Keras names ("auc", "precision", "f1_score",
"r2_score", "top_k_categorical_accuracy", ...), the aliases "mse", "mae", "mape", "msle",
"bce", and the class names ("AUC", ...). A metric made from a name logs under that name.
"accuracy" / "acc" pick the accuracy that matches the output's loss.

Multi-valued results (F1Score with `average=None`, Precision with several thresholds,
R2Score with `class_aggregation=None`) are arrays.
"""
from lamina import losses as losses_lib
from lamina.errors import ConfigurationError
from lamina.losses import (
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from lamina.metrics.accuracy_metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from lamina.metrics.base import Mean, MeanMetricWrapper, Metric, Sum
from lamina.metrics.confusion import (
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from lamina.metrics.curves import (
    AUC,
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from lamina.metrics.f_score import F1Score, FBetaScore
from lamina.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from lamina.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from lamina.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
)

# Keras snake-case name -> class, for every metric `compile` can use
_NAMES = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "mean_absolute_error": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "root_mean_squared_error": RootMeanSquaredError, "cosine_similarity": CosineSimilarity,
    "log_cosh_error": LogCoshError, "r2_score": R2Score,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "poisson": Poisson, "hinge": Hinge,
    "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
    "true_positives": TruePositives, "false_positives": FalsePositives,
    "true_negatives": TrueNegatives, "false_negatives": FalseNegatives,
    "precision": Precision, "recall": Recall, "auc": AUC,
    "precision_at_recall": PrecisionAtRecall, "recall_at_precision": RecallAtPrecision,
    "sensitivity_at_specificity": SensitivityAtSpecificity,
    "specificity_at_sensitivity": SpecificityAtSensitivity,
    "f1_score": F1Score, "f_beta_score": FBetaScore, "fbeta_score": FBetaScore,
    "io_u": IoU, "mean_io_u": MeanIoU, "binary_io_u": BinaryIoU, "one_hot_io_u": OneHotIoU,
    "one_hot_mean_io_u": OneHotMeanIoU,
}
CLASSES = (Accuracy,) + tuple(dict.fromkeys(_NAMES.values()))

_ALIASES = {"mse": MeanSquaredError, "mae": MeanAbsoluteError,
            "mape": MeanAbsolutePercentageError, "msle": MeanSquaredLogarithmicError,
            "bce": BinaryCrossentropy}

_REGISTRY = {**_NAMES, **_ALIASES, **{a.upper(): cls for a, cls in _ALIASES.items()},
             **{cls.__name__: cls for cls in CLASSES}}

# metrics that cannot be built from a name alone: the argument they need
_REQUIRED = {PrecisionAtRecall: "recall", RecallAtPrecision: "precision",
             SensitivityAtSpecificity: "specificity", SpecificityAtSensitivity: "sensitivity",
             IoU: "num_classes, target_class_ids", MeanIoU: "num_classes",
             OneHotIoU: "num_classes, target_class_ids", OneHotMeanIoU: "num_classes"}

# "accuracy" means the accuracy that matches the compiled loss, decided once at compile time
_ACCURACY_FOR_LOSS = {
    losses_lib.SparseCategoricalCrossentropy: SparseCategoricalAccuracy,
    losses_lib.CategoricalCrossentropy: CategoricalAccuracy,
    losses_lib.CategoricalFocalCrossentropy: CategoricalAccuracy,
    losses_lib.BinaryCrossentropy: BinaryAccuracy,
    losses_lib.BinaryFocalCrossentropy: BinaryAccuracy,
}


def _accuracy_for(identifier, loss):
    cls = _ACCURACY_FOR_LOSS.get(type(loss))
    if cls is None:
        raise ConfigurationError(
            f"metrics=['{identifier}'] is ambiguous for loss "
            f"{type(loss).__name__ if loss is not None else None}: name the accuracy you "
            "mean, e.g. 'sparse_categorical_accuracy', 'categorical_accuracy', "
            "'binary_accuracy', or lamina.metrics.Accuracy() for exact equality."
        )
    return cls(name=identifier)


def _from_name(identifier):
    cls = _REGISTRY.get(identifier)
    if cls is None:
        valid = sorted(list(_NAMES) + list(_ALIASES) + ["accuracy", "acc"])
        raise ConfigurationError(
            f"Unknown metric {identifier!r}. Valid names: {', '.join(valid)} (or a class name "
            "such as 'AUC'). Pass a lamina.metrics.Metric instance to set options."
        )
    if cls in _REQUIRED:
        raise ConfigurationError(
            f"metrics=[{identifier!r}]: {cls.__name__} needs {_REQUIRED[cls]}, which a name "
            f"cannot give. Pass an instance, e.g. lamina.metrics.{cls.__name__}(...)."
        )
    return cls(name=identifier)


def get(identifier, loss=None):
    """A `Metric` from a name, an instance or a function `(y_true, y_pred) -> per-sample value`.

    Raises:
        ConfigurationError: for an unknown name (the message lists the valid ones), a name
            whose metric needs arguments, Mean or Sum (they average values you pass yourself,
            not `(y_true, y_pred)`), or an identifier of another type.
    """
    if type(identifier) in (Mean, Sum):
        raise ConfigurationError(
            f"metrics=[{type(identifier).__name__}()]: Mean and Sum track values you pass to "
            "`update(state, values)` yourself; a compiled metric receives (y_true, y_pred). "
            "Use lamina.metrics.MeanMetricWrapper(fn) for the mean of fn(y_true, y_pred)."
        )
    if isinstance(identifier, Metric):
        return identifier
    if identifier in ("accuracy", "acc"):
        return _accuracy_for(identifier, loss)
    if isinstance(identifier, str):
        return _from_name(identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier, getattr(identifier, "__name__", "metric"))
    raise ConfigurationError(
        f"Expected a metric name, Metric instance or function, received {identifier!r} "
        f"(of type {type(identifier).__name__})."
    )


__all__ = [
    "AUC",
    "CLASSES",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "BinaryIoU",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "F1Score",
    "FBetaScore",
    "FalseNegatives",
    "FalsePositives",
    "Hinge",
    "IoU",
    "KLDivergence",
    "LogCoshError",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanIoU",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Metric",
    "OneHotIoU",
    "OneHotMeanIoU",
    "Poisson",
    "Precision",
    "PrecisionAtRecall",
    "R2Score",
    "Recall",
    "RecallAtPrecision",
    "RootMeanSquaredError",
    "SensitivityAtSpecificity",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "SpecificityAtSensitivity",
    "SquaredHinge",
    "Sum",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
    "accuracy",
    "binary_accuracy",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_accuracy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_accuracy",
    "sparse_categorical_crossentropy",
    "sparse_top_k_categorical_accuracy",
    "squared_hinge",
    "top_k_categorical_accuracy",
]
