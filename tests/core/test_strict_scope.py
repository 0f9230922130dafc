"""Inside a compiled step a variable is read only from the step's values: a layer the model
does not track (held inside a plain helper object) raises instead of running, untrained,
on its stored value."""
import numpy as np
import pytest

import lamina as lm

FIX = "hold the layer in an attribute of the model, or in a list or dict attribute"


class Holder:
    pass


class Hidden(lm.Model):
    """Keeps its layer inside a plain object, which lamina does not look into."""

    def __init__(self):
        super().__init__(name="hider")
        self.parts = Holder()
        self.parts.dense = lm.layers.Dense(4, name="secret")

    def call(self, x):
        return self.parts.dense(x)


class PartlyHidden(lm.Model):
    """Tracks one layer and hides another: before the strict scope it trained only the first."""

    def __init__(self):
        super().__init__(name="hider")
        self.head = lm.layers.Dense(4, name="head")
        self.parts = Holder()
        self.parts.dense = lm.layers.Dense(4, name="secret")

    def call(self, x):
        return self.head(self.parts.dense(x))


class InAttribute(lm.Model):
    def __init__(self):
        super().__init__()
        self.dense = lm.layers.Dense(4)

    def call(self, x):
        return self.dense(x)


class InList(lm.Model):
    def __init__(self):
        super().__init__()
        self.blocks = [lm.layers.Dense(4), lm.layers.Dense(4)]

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        return x


class InDict(lm.Model):
    def __init__(self):
        super().__init__()
        self.heads = {"a": lm.layers.Dense(4)}

    def call(self, x):
        return self.heads["a"](x)


class LazyInBuild(lm.Model):
    def build(self, input_shape):
        self.dense = lm.layers.Dense(4)

    def call(self, x):
        return self.dense(x)


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 4)).astype("float32")


def _check_message(error):
    message = str(error)
    assert "'secret'" in message
    assert "'hider'" in message
    assert FIX in message


@pytest.mark.parametrize("cls", [Hidden, PartlyHidden])
@pytest.mark.parametrize("run", ["fit", "evaluate", "predict", "train_on_batch"])
def test_untracked_layer_raises_in_every_step(run, cls):
    x, y = _data()
    model = cls()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(lm.UntrackedVariableError) as info:
        if run == "fit":
            model.fit(x, y, epochs=1, verbose=0)
        elif run == "evaluate":
            model.evaluate(x, y, verbose=0)
        elif run == "predict":
            model.predict(x, verbose=0)
        else:
            model.train_on_batch(x, y)
    _check_message(info.value)


def test_untracked_variable_error_is_a_lamina_error_and_a_runtime_error():
    assert issubclass(lm.UntrackedVariableError, lm.LaminaError)
    assert issubclass(lm.UntrackedVariableError, RuntimeError)


def test_untracked_layer_message_matches():
    x, y = _data()
    model = Hidden()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(lm.LaminaError, match=r"(?s)'secret'.*'hider'.*lamina does not look "
                                              r"inside other objects"):
        model.fit(x, y, epochs=1, verbose=0)


def test_partly_hidden_model_does_not_train_silently():
    x, y = _data()
    model = PartlyHidden()
    model(x)  # built eagerly: the tracked head has weights, so the model looks trainable
    assert [w.path for w in model.weights] == ["head/kernel", "head/bias"]
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(lm.UntrackedVariableError, match="'secret'"):
        model.fit(x, y, epochs=1, verbose=0)


def test_functional_model_over_an_untracked_layer_fails_at_construction():
    inp = lm.Input((3,))
    with pytest.raises(lm.UntrackedVariableError, match="'secret'"):
        lm.Model(inp, Hidden()(inp))


@pytest.mark.parametrize("cls", [Hidden, PartlyHidden])
def test_eager_call_outside_a_step_still_works(cls):
    x, _ = _data()
    model = cls()
    assert np.asarray(model(x)).shape == (16, 4)


@pytest.mark.parametrize("cls", [InAttribute, InList, InDict, LazyInBuild])
def test_tracked_layers_train(cls):
    x, y = _data()
    model = cls()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    before = [np.array(w) for w in model.get_weights()]
    assert before, "the model tracks its layers' weights"
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    after = model.get_weights()
    assert all(not np.allclose(b, a) for b, a in zip(before, after, strict=True))


def test_shared_layer_across_models_trains_in_each():
    x, y = _data()
    shared = lm.layers.Dense(4, name="shared")
    inp = lm.Input((3,))
    first = lm.Model(inp, shared(inp))
    inp2 = lm.Input((3,))
    second = lm.Model(inp2, lm.layers.Dense(4)(shared(inp2)))
    for model in (first, second):
        model.compile(optimizer="sgd", loss="mse")
        before = np.array(shared.kernel.value)
        model.fit(x, y, epochs=1, verbose=0)
        assert not np.allclose(before, shared.kernel.value)


def test_nested_model_in_subclassed_model_trains():
    x, y = _data()
    inner = lm.Sequential([lm.Input((3,)), lm.layers.Dense(4)])

    class Outer(lm.Model):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def call(self, x):
            return self.inner(x)

    model = Outer()
    model.compile(optimizer="sgd", loss="mse")
    before = np.array(inner.layers[0].kernel.value)
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(before, inner.layers[0].kernel.value)
