"""The Keras example "Simple MNIST convnet", on local data.

The example's model, loss and optimizer, with `keras.utils.to_categorical` for the labels.
Data: scikit-learn's bundled 8x8 digits in place of `keras.datasets.mnist` (no download), so
the convolutions use `padding="same"` to keep two pooling stages on 8x8 images.
"""
import json

import numpy as np
from sklearn.datasets import load_digits

import lamina as keras

keras.utils.set_random_seed(0)  # reproducible runs, in both libraries

GUIDE_TOLERANCE = {"test_accuracy": 0.08, "first_loss": 0.3, "test_loss": 0.3}

num_classes = 10
input_shape = (8, 8, 1)

digits = load_digits()
x = (digits.images / 16.0).astype("float32")
x = np.expand_dims(x, -1)
y = keras.utils.to_categorical(digits.target, num_classes)
x_train, y_train, x_test, y_test = x[:1500], y[:1500], x[1500:], y[1500:]
print("x_train shape:", x_train.shape, "y_train shape:", y_train.shape)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu", padding="same"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu", padding="same"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=128, epochs=5, validation_split=0.1,
                    verbose=0)
score = model.evaluate(x_test, y_test, verbose=0)

print("GUIDE_RESULT " + json.dumps({
    "params": int(model.count_params()),
    "label_shape": list(y_train.shape),
    "label_sum": float(y_train.sum()),
    "epochs": len(history.history["loss"]),
    "first_loss": float(history.history["loss"][0]),
    "test_loss": float(np.round(score[0], 4)),
    "test_accuracy": float(np.round(score[1], 4)),
}))
