"""The Keras guide "Customizing what happens in `fit()` with JAX", its three parts as written.

1. A low-level `train_step(self, state, data)`: `stateless_call`, `compute_loss`,
   `optimizer.stateless_apply` and the stateless metric methods over `self.metrics`.
2. The same step with its own metrics (`Mean` loss tracker, `MeanAbsoluteError`) returned by
   an overridden `metrics` property, compiled without a loss.
3. A custom `test_step(self, state, data)` run by `evaluate`.
Data: random arrays from a seeded generator, as the guide's `np.random.random`.
"""
import json

import jax
import numpy as np

import lamina as keras

keras.utils.set_random_seed(0)  # reproducible runs, in both libraries

GUIDE_TOLERANCE = {"low_level_loss": 0.03, "low_level_mae": 0.03, "metrics_loss": 0.03,
                   "metrics_mae": 0.03, "test_loss": 1e-5, "test_mae": 1e-5}

rng = np.random.default_rng(0)
x = rng.random((1000, 32)).astype("float32")
y = rng.random((1000, 1)).astype("float32")


def fixed_weights(model):
    """The same starting weights in both libraries (the guide draws them at random)."""
    model.set_weights([rng.normal(size=w.shape).astype("float32") * 0.1
                       for w in model.get_weights()])


class CustomModel(keras.Model):
    def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, x, y,
                                 training=False):
        y_pred, non_trainable_variables = self.stateless_call(
            trainable_variables, non_trainable_variables, x, training=training)
        loss = self.compute_loss(x, y, y_pred)
        return loss, (y_pred, non_trainable_variables)

    def train_step(self, state, data):
        (trainable_variables, non_trainable_variables, optimizer_variables,
         metrics_variables) = state
        x, y = data
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (loss, (y_pred, non_trainable_variables)), grads = grad_fn(
            trainable_variables, non_trainable_variables, x, y, training=True)
        trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables)
        new_metrics_vars = []
        logs = {}
        for metric in self.metrics:
            this_metric_vars = metrics_variables[
                len(new_metrics_vars):len(new_metrics_vars) + len(metric.variables)]
            if metric.name == "loss":
                this_metric_vars = metric.stateless_update_state(this_metric_vars, loss)
            else:
                this_metric_vars = metric.stateless_update_state(this_metric_vars, y, y_pred)
            logs[metric.name] = metric.stateless_result(this_metric_vars)
            new_metrics_vars += this_metric_vars
        state = (trainable_variables, non_trainable_variables, optimizer_variables,
                 new_metrics_vars)
        return logs, state


inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs)
fixed_weights(model)
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
low_level = model.fit(x, y, epochs=3, verbose=0).history


class MetricsModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, x, y,
                                 training=False):
        y_pred, non_trainable_variables = self.stateless_call(
            trainable_variables, non_trainable_variables, x, training=training)
        loss = self.loss_fn(y, y_pred)
        return loss, (y_pred, non_trainable_variables)

    def train_step(self, state, data):
        (trainable_variables, non_trainable_variables, optimizer_variables,
         metrics_variables) = state
        x, y = data
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (loss, (y_pred, non_trainable_variables)), grads = grad_fn(
            trainable_variables, non_trainable_variables, x, y, training=True)
        trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables)
        loss_tracker_vars = metrics_variables[:len(self.loss_tracker.variables)]
        mae_metric_vars = metrics_variables[len(self.loss_tracker.variables):]
        loss_tracker_vars = self.loss_tracker.stateless_update_state(loss_tracker_vars, loss)
        mae_metric_vars = self.mae_metric.stateless_update_state(mae_metric_vars, y, y_pred)
        logs = {}
        logs[self.loss_tracker.name] = self.loss_tracker.stateless_result(loss_tracker_vars)
        logs[self.mae_metric.name] = self.mae_metric.stateless_result(mae_metric_vars)
        new_metrics_vars = loss_tracker_vars + mae_metric_vars
        state = (trainable_variables, non_trainable_variables, optimizer_variables,
                 new_metrics_vars)
        return logs, state

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = MetricsModel(inputs, outputs)
fixed_weights(model)
model.compile(optimizer="adam")
with_metrics = model.fit(x, y, epochs=5, verbose=0).history


class TestStepModel(keras.Model):
    def test_step(self, state, data):
        x, y = data
        (trainable_variables, non_trainable_variables, metrics_variables) = state
        y_pred, non_trainable_variables = self.stateless_call(
            trainable_variables, non_trainable_variables, x, training=False)
        loss = self.compute_loss(x, y, y_pred)
        new_metrics_vars = []
        logs = {}
        for metric in self.metrics:
            this_metric_vars = metrics_variables[
                len(new_metrics_vars):len(new_metrics_vars) + len(metric.variables)]
            if metric.name == "loss":
                this_metric_vars = metric.stateless_update_state(this_metric_vars, loss)
            else:
                this_metric_vars = metric.stateless_update_state(this_metric_vars, y, y_pred)
            logs[metric.name] = metric.stateless_result(this_metric_vars)
            new_metrics_vars += this_metric_vars
        state = (trainable_variables, non_trainable_variables, new_metrics_vars)
        return logs, state


inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = TestStepModel(inputs, outputs)
model.compile(loss="mse", metrics=["mae"])
fixed_weights(model)
test = model.evaluate(x, y, return_dict=True, verbose=0)

print("GUIDE_RESULT " + json.dumps({
    "low_level_logs": sorted(low_level),
    "low_level_loss": float(low_level["loss"][-1]),
    "low_level_mae": float(low_level["mae"][-1]),
    "metrics_logs": sorted(with_metrics),
    "metrics_loss": float(with_metrics["loss"][-1]),
    "metrics_mae": float(with_metrics["mae"][-1]),
    "test_logs": sorted(test),
    "test_loss": float(test["loss"]),
    "test_mae": float(test["mae"]),
}))
