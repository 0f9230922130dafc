"""Per-group optimizers (discriminative learning rates), built on `optax.partition`.

`Partitioned` gives different parts of a model different optimizers or learning rates, the
way PyTorch parameter groups and fastai's discriminative rates do (Keras has no such
feature):

    opt = lm.optimizers.Partitioned(
        {backbone: 0.01,                          # the default optimizer at 1% of its rate
         "head*": lm.optimizers.SGD(0.1)},        # its own optimizer and state
        default=lm.optimizers.Adam(1e-3))
    model.compile(optimizer=opt, loss="mse")

Rules are matched against the model being compiled, per variable (by uid, so they hold
whatever subset of variables trains in a given step):

| rule key                          | matches the variables ...                              |
|-----------------------------------|--------------------------------------------------------|
| a layer or (sub-)model object     | of that object or anything inside it, on any use path  |
| a `Variable`                      | that variable                                          |
| a string (glob, `fnmatch` syntax) | whose use path, or a leading part of it, matches:      |
|                                   | "backbone" and "backbone/*" both select a sub-model    |
| a compiled regex (`re.compile`)   | whose use path, or a leading part of it, fully matches |

A *use path* is the layer names from the root model (excluded) down to the variable:
"backbone/dense/kernel". A shared layer has one path per use; a rule matches it when it
matches any of them. Rule values are a lamina optimizer (or its name), or a positive number:
a multiplier of the `default` optimizer's rate (same optimizer class and options, its own
state). Variables matched by no rule use `default`; without a default that is an error.
A variable matched by two rules is an error naming both; a rule matching no trainable
variable is an error. Frozen variables are not updated at all (docs/design.md rule 6).

Live rate: `opt.learning_rate` is the reference rate, the default's (or, without a default,
the first rule's). Setting it scales every group by the same factor (as PyTorch's
`ReduceLROnPlateau` scales every parameter group), without recompiling.
"""
import collections.abc
import dataclasses
import fnmatch
import re

import optax

from lamina import trainability
from lamina.core.layer import Layer
from lamina.core.variables import Variable
from lamina.errors import ConfigurationError, SavingError
from lamina.optimizers import catalogue
from lamina.optimizers.base import OptaxOptimizer, Optimizer

DEFAULT = "default"
_CLASSES = {cls.__name__: cls for cls in catalogue.OPTIMIZERS}


@dataclasses.dataclass(frozen=True)
class _Group:
    """One optimizer group: its label in the optimizer state, what selects it, its update."""

    label: str
    key: object  # the rule key (None for the default group)
    optimizer: Optimizer
    multiplier: float  # 1.0, or the multiplier of the default optimizer's rate

    @property
    def description(self):
        return DEFAULT if self.key is None else describe_key(self.key)

    def matches(self, variable, paths):
        key = self.key
        if isinstance(key, Variable):
            return key is variable
        if isinstance(key, Layer):
            return any(any(layer is key for layer in p.layers) for p in paths)
        names = [_use_path(p, variable) for p in paths]
        prefixes = ["/".join(n.split("/")[:i]) for n in names
                    for i in range(1, n.count("/") + 2)]
        if isinstance(key, str):
            return any(fnmatch.fnmatchcase(name, key) for name in prefixes)
        return any(key.fullmatch(name) for name in prefixes)


def describe_key(key):
    """How a rule key is named in messages."""
    if isinstance(key, Variable):
        return f"variable '{key.path}'"
    if isinstance(key, Layer):
        return f"{type(key).__name__} '{key.name}'"
    if isinstance(key, str):
        return f"pattern {key!r}"
    return f"regex {key.pattern!r}"


def _use_path(path_state, variable):
    return "/".join([layer.name for layer in path_state.layers[1:]] + [variable.name])


class Partitioned(Optimizer):
    """Different optimizers or learning-rate multipliers for different parts of a model.

    Args:
        rules: a dict `{key: value}` or a list of `(key, value)` pairs. Keys: a layer or
            model object, a `Variable`, a glob string or a compiled regex (see the module
            table). Values: a lamina optimizer or its name, or a positive number that
            multiplies the `default` optimizer's learning rate.
        default: the optimizer (or name) for variables no rule matches; None makes such
            variables an error.
        name: the optimizer's name.

    `learning_rate` reads the reference rate (the default optimizer's, else the first
    rule's); setting it scales every group proportionally. Group optimizers must not use
    `use_ema` or `gradient_accumulation_steps` (options of the whole update). Only rules
    keyed by patterns can be saved.
    """

    def __init__(self, rules, default=None, name=None):
        if default is not None:
            default = _optimizer(default, "default")
        pairs = list(rules.items()) if isinstance(rules, collections.abc.Mapping) else rules
        if not isinstance(pairs, (list, tuple)) or not pairs:
            raise ConfigurationError(
                "Partitioned: expected a non-empty dict {key: optimizer or multiplier} (or a "
                f"list of (key, value) pairs), received {rules!r}.")
        groups = []
        for index, pair in enumerate(pairs):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ConfigurationError(f"Partitioned: expected (key, value) pairs, received "
                                         f"{pair!r} at position {index}.")
            key, value = pair
            _check_key(key)
            optimizer, multiplier = _group_value(key, value, default)
            groups.append(_Group(f"group_{index}", key, optimizer, multiplier))
        if default is not None:
            groups.append(_Group(DEFAULT, None, default, 1.0))
        self.groups = tuple(groups)
        self._reference = default if default is not None else groups[0].optimizer
        super().__init__(learning_rate=self._reference._learning_rate, name=name)
        if not self.has_schedule and not self._learning_rate > 0:
            raise ConfigurationError(
                f"Partitioned: the reference learning rate ({_reference_description(groups)})"
                f" must be positive to scale the groups, received {self._learning_rate!r}.")

    # -- learning rates ------------------------------------------------------------------
    @property
    def group_learning_rates(self):
        """{group description: its current learning rate}, scaling included."""
        scale = 1.0 if self.has_schedule else self._learning_rate / self._reference._learning_rate
        rates = {}
        for group in self.groups:
            rate = group.optimizer._learning_rate
            rate = float(rate(self.iterations)) if callable(rate) else rate
            rates[group.description] = rate * group.multiplier * scale
        return rates

    def _group_transform(self, group, learning_rate):
        """The update of `group` when the reference rate is `learning_rate` (None: fixed)."""
        optimizer, rate = group.optimizer, group.optimizer._learning_rate
        factor = group.multiplier
        if learning_rate is not None:
            factor = factor * (learning_rate / self._reference._learning_rate)
        if callable(rate):
            return optax.inject_hyperparams(
                lambda learning_rate: optimizer._chain(learning_rate * factor))(
                    learning_rate=rate)
        if learning_rate is None:
            return optimizer._chain(rate * group.multiplier)
        ratio = rate * group.multiplier / self._reference._learning_rate
        # the reference group's rate is the hyperparameter itself, bit for bit
        return optimizer._chain(learning_rate if ratio == 1.0 else learning_rate * ratio)

    # -- labels --------------------------------------------------------------------------
    def assign(self, model):
        """{variable uid: group label} for every trainable variable of `model`.

        Raises ConfigurationError for a variable matched by two rules, a rule matching no
        trainable variable, and (without a default) a variable matched by no rule.
        """
        resolution = trainability.resolve(model)
        rules = [g for g in self.groups if g.key is not None]
        labels, used, unmatched = {}, set(), []
        for variable in resolution.variables:
            if not variable.trainable:
                continue
            paths = resolution.paths[variable.uid]
            hits = [g for g in rules if g.matches(variable, paths)]
            if len(hits) > 1:
                raise ConfigurationError(
                    f"Partitioned: variable '{_use_path(paths[0], variable)}' of model "
                    f"'{model.name}' is matched by two rules: {hits[0].description} and "
                    f"{hits[1].description}. Each variable belongs to one group: narrow a "
                    "pattern or drop one of the rules.")
            if hits:
                used.add(hits[0].label)
                labels[variable.uid] = hits[0].label
            elif self.groups[-1].key is None:
                labels[variable.uid] = DEFAULT
            else:
                unmatched.append(_use_path(paths[0], variable))
        if unmatched:
            raise ConfigurationError(
                f"Partitioned: variables {unmatched[:8]} of model '{model.name}' match no rule "
                "and no default optimizer was given. Add a rule for them or pass "
                "default=<optimizer>.")
        for group in rules:
            if group.label not in used:
                paths = sorted({_use_path(p, v) for v in resolution.variables if v.trainable
                                for p in resolution.paths[v.uid]})
                raise ConfigurationError(
                    f"Partitioned: rule {group.description} matches no trainable variable of "
                    f"model '{model.name}'. Its trainable variables are at: {paths[:12]}"
                    f"{' ...' if len(paths) > 12 else ''}.")
        return labels

    def build(self, model=None):
        """The optax transform for `model`: `optax.partition` over the groups, its labels
        read from the model (checked now when the model is built, else at the first step)."""
        if model is None:
            raise ConfigurationError(
                "Partitioned: the rules select variables of a model, so the optimizer is built "
                "by compile(): model.compile(optimizer=Partitioned(...), ...).")
        labels = {}

        def label_fn(tree):
            if any(uid not in labels for uid in tree):
                labels.update(self.assign(model))
            return {uid: labels[uid] for uid in tree}

        if model.built:
            labels.update(self.assign(model))

        def make(learning_rate=None):
            return optax.partition(
                {g.label: self._group_transform(g, learning_rate) for g in self.groups},
                label_fn)

        if self.has_schedule:
            return make()
        return optax.inject_hyperparams(make)(learning_rate=self._learning_rate)

    # -- saving --------------------------------------------------------------------------
    def get_config(self):
        rules = []
        for group in self.groups[:-1] if self.groups[-1].key is None else self.groups:
            if isinstance(group.key, str):
                match = {"glob": group.key}
            elif isinstance(group.key, re.Pattern):
                match = {"regex": group.key.pattern}
            else:
                raise SavingError(
                    f"Partitioned: cannot save the rule keyed by {group.description}: objects "
                    "cannot be saved by name. Key the rule by a path pattern instead (e.g. "
                    f"'{getattr(group.key, 'name', 'layer')}', a glob on the use path).")
            value = ({"multiplier": group.multiplier} if group.optimizer is self._default
                     else {"optimizer": _serialize(group.optimizer)})
            rules.append({"match": match, **value})
        return {"rules": rules,
                "default": None if self._default is None else _serialize(self._default),
                "learning_rate": None if self.has_schedule else self._learning_rate,
                "name": self.name}

    @property
    def _default(self):
        return self.groups[-1].optimizer if self.groups[-1].key is None else None

    @classmethod
    def from_config(cls, config):
        rules = []
        for rule in config["rules"]:
            match = rule["match"]
            key = match["glob"] if "glob" in match else re.compile(match["regex"])
            value = (rule["multiplier"] if "multiplier" in rule
                     else _deserialize(rule["optimizer"]))
            rules.append((key, value))
        default = None if config["default"] is None else _deserialize(config["default"])
        optimizer = cls(rules, default=default, name=config.get("name"))
        if config.get("learning_rate") is not None:
            optimizer._learning_rate = config["learning_rate"]
        return optimizer


def _reference_description(groups):
    return DEFAULT if groups[-1].key is None else groups[0].description


def _check_key(key):
    if not isinstance(key, (Layer, Variable, str, re.Pattern)):
        raise ConfigurationError(
            "Partitioned: a rule key must be a layer or model, a Variable, a glob string or a "
            f"compiled regex (re.compile), received {key!r} (of type {type(key).__name__}).")
    if isinstance(key, str) and not key:
        raise ConfigurationError("Partitioned: received an empty pattern ''; a pattern is a "
                                 "glob on the use path, e.g. 'backbone' or 'head/*'.")


def _optimizer(value, where):
    optimizer = catalogue.get(value)
    if isinstance(optimizer, (OptaxOptimizer, Partitioned)):
        raise ConfigurationError(
            f"Partitioned: the optimizer for {where} must be a lamina optimizer such as "
            f"lamina.optimizers.Adam(1e-3) (its rate can then be scaled), received "
            f"{type(optimizer).__name__}.")
    if optimizer.use_ema or (optimizer.gradient_accumulation_steps or 1) > 1:
        raise ConfigurationError(
            f"Partitioned: the optimizer for {where} uses use_ema or "
            "gradient_accumulation_steps, which act on the whole update, not on one group. "
            "Build the group optimizers without them.")
    return optimizer


def _group_value(key, value, default):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if default is None:
            raise ConfigurationError(
                f"Partitioned: the rule {describe_key(key)} gives the multiplier {value!r}, "
                "which scales the default optimizer's rate, but no default was given. Pass "
                "default=<optimizer> or give the rule an optimizer.")
        if not value > 0:
            raise ConfigurationError(
                f"Partitioned: the rule {describe_key(key)} expects a positive multiplier, "
                f"received {value!r}. To keep a part of the model fixed, freeze it "
                "(layer.trainable = False or model.freeze(layer)).")
        return default, float(value)
    return _optimizer(value, describe_key(key)), 1.0


def _serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def _deserialize(config):
    cls = _CLASSES.get(config["class_name"])
    if cls is None:
        raise SavingError(f"Partitioned: unknown optimizer class {config['class_name']!r} in "
                          f"the config; known: {', '.join(sorted(_CLASSES))}.")
    return cls.from_config(config["config"])
