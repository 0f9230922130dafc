"""Every callback hook receives a dict as `logs` (Keras passes `{}` or the logs, never None):
fit (with validation), evaluate, predict and GAN.fit. The reference is Keras 3 itself: the
same recording callback on the same tiny model lists, per hook, whether logs were a dict.
"""
import os

import numpy as np
import pytest

import lamina as lm
from lamina.models.gan import GAN

os.environ.setdefault("KERAS_BACKEND", "jax")

HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
         "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
         "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
         "on_predict_batch_begin", "on_predict_batch_end")


def _recorder(base):
    """A callback class on `base` whose every hook does what the Keras callbacks guide's
    custom callback does, `list(logs.keys())`, and records (hook, type of logs)."""

    def hook(name):
        def method(self, *args, logs="missing"):
            logs = args[-1] if logs == "missing" else logs
            list(logs.keys())
            self.seen.append((name, type(logs).__name__))
        return method

    namespace = {name: hook(name) for name in HOOKS}
    namespace["__init__"] = lambda self: (base.__init__(self), setattr(self, "seen", []))[0]
    return type("Recorder", (base,), namespace)


def _run(lib, recorder):
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), callbacks=[recorder],
              verbose=0)
    model.evaluate(x, y, batch_size=4, callbacks=[recorder], verbose=0)
    model.predict(x, batch_size=4, callbacks=[recorder], verbose=0)
    return recorder.seen


def test_every_hook_of_fit_evaluate_and_predict_gets_a_dict():
    ours = _run(lm, _recorder(lm.callbacks.Callback)())
    assert {name for name, _ in ours} == set(HOOKS)
    assert {kind for _, kind in ours} == {"dict"}


def test_hooks_are_called_in_keras_order_with_what_keras_passes():
    keras = pytest.importorskip("keras")
    ours = _run(lm, _recorder(lm.callbacks.Callback)())
    theirs = _run(keras, _recorder(keras.callbacks.Callback)())
    assert ours == theirs


def test_gan_fit_hooks_get_a_dict():
    gen = lm.Sequential([lm.Input((2,)), lm.layers.Dense(3)])
    disc = lm.Sequential([lm.Input((3,)), lm.layers.Dense(1)])
    gan = GAN(gen, disc, latent_dim=2, seed=1)
    gan.compile(d_optimizer=lm.optimizers.Adam(1e-3), g_optimizer=lm.optimizers.Adam(1e-3),
                loss_fn=lm.losses.BinaryCrossentropy(from_logits=True))
    recorder = _recorder(lm.callbacks.Callback)()
    gan.fit(np.ones((8, 3), "float32"), batch_size=4, epochs=1, callbacks=[recorder],
            verbose=0)
    names = {name for name, _ in recorder.seen}
    assert {"on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
            "on_epoch_end", "on_train_end"} <= names
    assert {kind for _, kind in recorder.seen} == {"dict"}


def test_hook_called_with_logs_keyword_or_positionally_gets_the_same_dict():
    recorder = _recorder(lm.callbacks.Callback)()
    cbs = lm.callbacks.CallbackList([recorder], model=None, params={})
    logs = {"loss": 1.0}
    cbs.on_epoch_end(0, logs=logs)
    cbs.on_epoch_end(1, logs)
    cbs.on_train_end()
    assert recorder.seen == [("on_epoch_end", "dict")] * 2 + [("on_train_end", "dict")]
