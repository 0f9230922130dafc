"""The Keras guide "Save, serialize, and export models", the parts for built-in layers.

Saves a trained functional model to a `.keras` file and loads it back; moves weights between
layers and models with `get_weights` / `set_weights`; saves and loads weights alone
(`.weights.h5`); reuses a model's layers for transfer learning; rebuilds layers and models
from their configs. Left out: custom objects (only built-in Keras classes are written to
`.keras` files here), `to_json`, `clone_model` and the TensorFlow SavedModel export. Data:
random arrays, as in the guide. The `.keras` file written by the run with the changed import
is loaded by Keras in `tests/saving/test_keras_export_guide.py`.
"""
import json

import numpy as np

import lamina as keras

keras.utils.set_random_seed(0)  # reproducible runs, in both libraries

GUIDE_TOLERANCE = {}

rng = np.random.default_rng(0)


# -- saving and loading a whole model ------------------------------------------------------
def get_model():
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(), loss="mean_squared_error")
    return model


model = get_model()
test_input = rng.random((128, 32)).astype("float32")
test_target = rng.random((128, 1)).astype("float32")
history = model.fit(test_input, test_target, verbose=0)

model.save("my_model.keras")
reconstructed_model = keras.models.load_model("my_model.keras")
np.testing.assert_allclose(model.predict(test_input, verbose=0),
                           reconstructed_model.predict(test_input, verbose=0), atol=1e-6)
# the reconstructed model is compiled and can continue training
reconstructed_model.fit(test_input, test_target, verbose=0)


# -- transferring weights between layers ----------------------------------------------------
def create_layer():
    layer = keras.layers.Dense(64, activation="relu", name="dense_2")
    layer.build((None, 784))
    return layer


layer_1 = create_layer()
layer_2 = create_layer()
layer_2.set_weights(layer_1.get_weights())
layers_equal = all(np.array_equal(a, b) for a, b in
                   zip(layer_1.get_weights(), layer_2.get_weights(), strict=True))

# -- transferring weights between models of the same architecture ---------------------------
inputs = keras.Input(shape=(784,), name="digits")
x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
x = keras.layers.Dense(64, activation="relu", name="dense_2")(x)
outputs = keras.layers.Dense(10, name="predictions")(x)
functional_model = keras.Model(inputs=inputs, outputs=outputs, name="3_layer_mlp")

# stateless layers (Dropout) do not change the order or number of weights
inputs = keras.Input(shape=(784,), name="digits")
x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
x = keras.layers.Dense(64, activation="relu", name="dense_2")(x)
x = keras.layers.Dropout(0.5)(x)
outputs = keras.layers.Dense(10, name="predictions")(x)
functional_model_with_dropout = keras.Model(inputs=inputs, outputs=outputs,
                                            name="3_layer_mlp")
functional_model_with_dropout.set_weights(functional_model.get_weights())
digits = rng.random((4, 784)).astype("float32")
same_predictions = bool(np.allclose(functional_model.predict(digits, verbose=0),
                                    functional_model_with_dropout.predict(digits, verbose=0),
                                    atol=1e-6))

# -- saving weights to disk and loading them back -------------------------------------------
sequential_model = keras.Sequential([
    keras.Input(shape=(784,), name="digits"),
    keras.layers.Dense(64, activation="relu", name="dense_1"),
    keras.layers.Dense(64, activation="relu", name="dense_2"),
    keras.layers.Dense(10, name="predictions"),
])
sequential_model.save_weights("my_model.weights.h5")
before = sequential_model.predict(digits, verbose=0)
sequential_model.set_weights([np.zeros_like(w) for w in sequential_model.get_weights()])
sequential_model.load_weights("my_model.weights.h5")
weights_restored = bool(np.allclose(sequential_model.predict(digits, verbose=0), before,
                                    atol=1e-6))

# -- transfer learning: reuse every layer but the last ---------------------------------------
extracted_layers = sequential_model.layers[:-1]
extracted_layers.append(keras.layers.Dense(5, name="dense_3"))
transfer_model = keras.Sequential(extracted_layers)
transfer_model.build((None, 784))
shared_weights = bool(np.array_equal(transfer_model.layers[0].get_weights()[0],
                                     sequential_model.layers[0].get_weights()[0]))

# -- configs: rebuilding layers and models without their weights ----------------------------
layer = keras.layers.Dense(3, activation="relu")
layer_config = layer.get_config()
new_layer = keras.layers.Dense.from_config(layer_config)

config = sequential_model.get_config()
new_sequential = keras.Sequential.from_config(config)
new_sequential.set_weights(sequential_model.get_weights())

config = functional_model.get_config()
new_functional = keras.Model.from_config(config)
new_functional.set_weights(functional_model.get_weights())
configs_rebuild = bool(
    np.allclose(new_sequential.predict(digits, verbose=0),
                sequential_model.predict(digits, verbose=0), atol=1e-6)
    and np.allclose(new_functional.predict(digits, verbose=0),
                    functional_model.predict(digits, verbose=0), atol=1e-6))

print("GUIDE_RESULT " + json.dumps({
    "fit_loss_finite": bool(np.isfinite(history.history["loss"][0])),
    "reconstructed_compiled": reconstructed_model.optimizer is not None,
    "reconstructed_params": int(reconstructed_model.count_params()),
    "layers_equal": layers_equal,
    "same_predictions": same_predictions,
    "weights_restored": weights_restored,
    "transfer_output": list(transfer_model.predict(digits, verbose=0).shape),
    "shared_weights": shared_weights,
    "new_layer": [new_layer.units, new_layer.get_config()["activation"]],
    "configs_rebuild": configs_rebuild,
    "functional_name": new_functional.name,
}))
