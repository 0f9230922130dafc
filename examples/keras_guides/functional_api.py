"""The Keras guide "The Functional API", first part: a small classifier on local digits.

Builds the guide's model with `keras.Input` and layer calls, checks its shapes and parameter
count, trains it briefly and evaluates it. Data: scikit-learn's bundled 8x8 digits.
"""
import json

import numpy as np
from sklearn.datasets import load_digits

import lamina as keras

keras.utils.set_random_seed(0)  # reproducible runs, in both libraries

GUIDE_TOLERANCE = {"test_accuracy": 0.08, "first_loss": 0.5}

digits = load_digits()
x = (digits.images.reshape(-1, 64) / 16.0).astype("float32")
y = digits.target.astype("int32")
x_train, y_train, x_test, y_test = x[:1500], y[:1500], x[1500:], y[1500:]

inputs = keras.Input(shape=(64,))
h = keras.layers.Dense(64, activation="relu")(inputs)
h = keras.layers.Dense(64, activation="relu")(h)
outputs = keras.layers.Dense(10)(h)
model = keras.Model(inputs=inputs, outputs=outputs, name="digits_model")
model.summary()

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=["accuracy"],
)
history = model.fit(x_train, y_train, batch_size=64, epochs=5, validation_split=0.2, verbose=0)
test_scores = model.evaluate(x_test, y_test, verbose=0)

print("GUIDE_RESULT " + json.dumps({
    "params": int(model.count_params()),
    "output_shape": list(model.predict(x_test[:3], verbose=0).shape),
    "epochs": len(history.history["loss"]),
    "first_loss": float(history.history["loss"][0]),
    "test_accuracy": float(np.round(test_scores[1], 4)),
}))
