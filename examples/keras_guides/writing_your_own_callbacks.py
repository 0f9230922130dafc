"""The Keras guide "Writing your own callbacks", on local digits.

Every part of the guide: a callback that lists the log keys in every hook of fit, evaluate
and predict (`keys = list(logs.keys())`, so every hook must receive a dict), one that prints
the logs' loss and error, early stopping at the minimum loss with the best weights restored,
and a learning-rate schedule set from `on_epoch_begin`. Data: scikit-learn's bundled 8x8
digits in place of MNIST (flattened, scaled to [0, 1], the first 1000 samples, the digit as
a regression target as in the guide).
"""
import json

import numpy as np
from sklearn.datasets import load_digits

import lamina as keras

# the evaluation follows two epochs of RMSprop(0.1) on one Dense unit from a random start:
# it varies by a few units between initialisations (the labels' variance is 8.25)
GUIDE_TOLERANCE = {"final_loss": 0.6, "evaluate_loss": 4.0, "stopped_epoch": 5}

HOOK_KEYS = {}  # hook -> sorted log keys it received (the first time)


def get_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1))
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model


keras.utils.set_random_seed(1)
digits = load_digits()
x = (digits.images.reshape(-1, 64) / 16.0).astype("float32")
y = digits.target.astype("float32")
x_train, y_train = x[:1000], y[:1000]
x_test, y_test = x[1000:], y[1000:]


class CustomCallback(keras.callbacks.Callback):
    def _record(self, hook, logs):
        keys = list(logs.keys())
        HOOK_KEYS.setdefault(hook, sorted(keys))
        return keys

    def on_train_begin(self, logs=None):
        keys = self._record("on_train_begin", logs)
        print("Starting training; got log keys: {}".format(keys))

    def on_train_end(self, logs=None):
        keys = self._record("on_train_end", logs)
        print("Stop training; got log keys: {}".format(keys))

    def on_epoch_begin(self, epoch, logs=None):
        keys = self._record("on_epoch_begin", logs)
        print("Start epoch {} of training; got log keys: {}".format(epoch, keys))

    def on_epoch_end(self, epoch, logs=None):
        keys = self._record("on_epoch_end", logs)
        print("End epoch {} of training; got log keys: {}".format(epoch, keys))

    def on_test_begin(self, logs=None):
        keys = self._record("on_test_begin", logs)
        print("Start testing; got log keys: {}".format(keys))

    def on_test_end(self, logs=None):
        keys = self._record("on_test_end", logs)
        print("Stop testing; got log keys: {}".format(keys))

    def on_predict_begin(self, logs=None):
        keys = self._record("on_predict_begin", logs)
        print("Start predicting; got log keys: {}".format(keys))

    def on_predict_end(self, logs=None):
        keys = self._record("on_predict_end", logs)
        print("Stop predicting; got log keys: {}".format(keys))

    def on_train_batch_begin(self, batch, logs=None):
        keys = self._record("on_train_batch_begin", logs)
        print("...Training: start of batch {}; got log keys: {}".format(batch, keys))

    def on_train_batch_end(self, batch, logs=None):
        keys = self._record("on_train_batch_end", logs)
        print("...Training: end of batch {}; got log keys: {}".format(batch, keys))

    def on_test_batch_begin(self, batch, logs=None):
        keys = self._record("on_test_batch_begin", logs)
        print("...Evaluating: start of batch {}; got log keys: {}".format(batch, keys))

    def on_test_batch_end(self, batch, logs=None):
        keys = self._record("on_test_batch_end", logs)
        print("...Evaluating: end of batch {}; got log keys: {}".format(batch, keys))

    def on_predict_batch_begin(self, batch, logs=None):
        keys = self._record("on_predict_batch_begin", logs)
        print("...Predicting: start of batch {}; got log keys: {}".format(batch, keys))

    def on_predict_batch_end(self, batch, logs=None):
        keys = self._record("on_predict_batch_end", logs)
        print("...Predicting: end of batch {}; got log keys: {}".format(batch, keys))


model = get_model()
model.fit(
    x_train,
    y_train,
    batch_size=128,
    epochs=1,
    verbose=0,
    validation_split=0.5,
    callbacks=[CustomCallback()],
)
res = model.evaluate(
    x_test, y_test, batch_size=128, verbose=0, callbacks=[CustomCallback()]
)
res = model.predict(x_test, batch_size=128, callbacks=[CustomCallback()])


class LossAndErrorPrintingCallback(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print(
            "Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"])
        )

    def on_test_batch_end(self, batch, logs=None):
        print(
            "Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"])
        )

    def on_epoch_end(self, epoch, logs=None):
        print(
            "The average loss for epoch {} is {:7.2f} "
            "and mean absolute error is {:7.2f}.".format(
                epoch, logs["loss"], logs["mean_absolute_error"]
            )
        )


model = get_model()
model.fit(
    x_train,
    y_train,
    batch_size=128,
    epochs=2,
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback()],
)
res = model.evaluate(
    x_test,
    y_test,
    batch_size=128,
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback()],
)


class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    """Stop training when the loss is at its min, i.e. the loss stops decreasing.

    Arguments:
        patience: Number of epochs to wait after min has been hit. After this
        number of no improvement, training stops.
    """

    def __init__(self, patience=0):
        super().__init__()
        self.patience = patience
        # best_weights to store the weights at which the minimum loss occurs.
        self.best_weights = None

    def on_train_begin(self, logs=None):
        # The number of epoch it has waited when loss is no longer minimum.
        self.wait = 0
        # The epoch the training stops at.
        self.stopped_epoch = 0
        # Initialize the best as infinity.
        self.best = np.inf

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best = current
            self.wait = 0
            # Record the best weights if current results is better (less).
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                print("Restoring model weights from the end of the best epoch.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


early_stopping = EarlyStoppingAtMinLoss()
model = get_model()
model.fit(
    x_train,
    y_train,
    batch_size=64,
    epochs=30,
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback(), early_stopping],
)


class CustomLearningRateScheduler(keras.callbacks.Callback):
    """Learning rate scheduler which sets the learning rate according to schedule.

    Arguments:
        schedule: a function that takes an epoch index
            (integer, indexed from 0) and current learning rate
            as inputs and returns a new learning rate as output (float).
    """

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule
        self.rates = []

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self.model.optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        # Get the current learning rate from model's optimizer.
        lr = self.model.optimizer.learning_rate
        # Call schedule function to get the scheduled learning rate.
        scheduled_lr = self.schedule(epoch, lr)
        # Set the value back to the optimizer before this epoch starts
        self.model.optimizer.learning_rate = scheduled_lr
        self.rates.append(round(float(np.array(scheduled_lr)), 6))
        print(f"\nEpoch {epoch}: Learning rate is {float(np.array(scheduled_lr))}.")


LR_SCHEDULE = [
    # (epoch to start, learning rate) tuples
    (3, 0.05),
    (6, 0.01),
    (9, 0.005),
    (12, 0.001),
]


def lr_schedule(epoch, lr):
    """Helper function to retrieve the scheduled learning rate based on epoch."""
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for i in range(len(LR_SCHEDULE)):
        if epoch == LR_SCHEDULE[i][0]:
            return LR_SCHEDULE[i][1]
    return lr


scheduler = CustomLearningRateScheduler(lr_schedule)
model = get_model()
history = model.fit(
    x_train,
    y_train,
    batch_size=64,
    epochs=15,
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback(), scheduler],
)

print("GUIDE_RESULT " + json.dumps({
    "hook_keys": HOOK_KEYS,
    "evaluate_loss": float(res[0]),
    "stopped_epoch": early_stopping.stopped_epoch,
    "learning_rates": scheduler.rates,
    "final_loss": float(history.history["loss"][-1]),
}))
