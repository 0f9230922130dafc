"""The Keras example "Bidirectional LSTM on IMDB", on local sequences.

The example pads its variable-length reviews with `keras.utils.pad_sequences` and classifies
them with an Embedding and a bidirectional LSTM. Data: generated token sequences in place of
`keras.datasets.imdb` (no download): a sequence is positive when token 2 occurs more often
than token 3. The lengths vary from 3 to 40 tokens and are padded or cut to `maxlen`.
"""
import json

import numpy as np

import lamina as keras

keras.utils.set_random_seed(0)  # reproducible runs, in both libraries

GUIDE_TOLERANCE = {"first_loss": 0.05, "test_accuracy": 0.15}

max_features = 20
maxlen = 24
rng = np.random.RandomState(7)


def make_sequences(n):
    sequences, labels = [], []
    for _ in range(n):
        seq = list(rng.randint(1, max_features, rng.randint(3, 41)))
        sequences.append(seq)
        labels.append(int(seq.count(2) > seq.count(3)))
    return sequences, np.array(labels, dtype="float32")


train_seqs, y_train = make_sequences(600)
test_seqs, y_test = make_sequences(200)
print(len(train_seqs), "Training sequences")
x_train = keras.utils.pad_sequences(train_seqs, maxlen=maxlen)
x_test = keras.utils.pad_sequences(test_seqs, maxlen=maxlen, padding="post",
                                   truncating="post")
tail = keras.utils.pad_sequences([[5, 6, 7]], maxlen=5, value=-1)

inputs = keras.Input(shape=(maxlen,), dtype="int32")
x = keras.layers.Embedding(max_features, 16)(inputs)
x = keras.layers.Bidirectional(keras.layers.LSTM(16))(x)
outputs = keras.layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=4, verbose=0)
score = model.evaluate(x_test, y_test, verbose=0)

print("GUIDE_RESULT " + json.dumps({
    "padded_shape": list(x_train.shape),
    "padded_dtype": str(x_train.dtype),
    "padded_checksum": int(x_train.sum() + 3 * x_test.sum()),
    "padding_example": tail.tolist(),
    "params": int(model.count_params()),
    "epochs": len(history.history["loss"]),
    "first_loss": float(history.history["loss"][0]),
    "test_accuracy": float(np.round(score[1], 4)),
}))
