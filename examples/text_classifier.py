"""A text classifier from raw strings: TextVectorization inside the model, no TensorFlow.

A synthetic corpus (written here, no download): sentences about sport or about cooking, built
from two topic word lists mixed with shared filler words and punctuation. The model starts
with the raw text:

    Input(shape=(1,), dtype="string") -> TextVectorization(output_sequence_length=12)
        -> Embedding -> GlobalAveragePooling1D -> Dense(relu) -> Dense(sigmoid)

TextVectorization runs on the host, in numpy: fit, evaluate and predict apply it to each
batch of strings before the compiled step (docs/preprocessing.md). The example fits on raw
strings, predicts on raw strings, saves the model (the vocabulary is data in the file's
config), loads it back and checks that the loaded model predicts the same. Keras 3 on its JAX
backend cannot do this: its TextVectorization needs TensorFlow.

Claims checked (returned as facts): held-out accuracy above 0.9 (it reaches 1.00), the
adapted vocabulary holds the topic words, the loaded model's predictions equal the trained
model's bit for bit.

Run: python examples/text_classifier.py     (about 15 s of CPU time: mostly compilation)
"""
import os
import tempfile

import numpy as np

import lamina as lm

SPORT = ["match", "goal", "team", "score", "coach", "league", "player", "season", "win",
         "referee"]
COOKING = ["recipe", "oven", "flour", "sauce", "bake", "spice", "butter", "dinner", "chef",
           "garlic"]
FILLER = ["the", "a", "was", "very", "today", "and", "with", "our", "new", "big"]
ACCURACY_CLAIM = 0.9


def corpus(n, rng):
    """`n` sentences with labels (1: sport, 0: cooking): 3 topic words among 3-6 fillers."""
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(2))
        words = list(rng.choice(SPORT if label else COOKING, 3)) + list(
            rng.choice(FILLER, int(rng.integers(3, 7))))
        rng.shuffle(words)
        sentence = " ".join(words).capitalize() + str(rng.choice([".", "!", "?"]))
        texts.append(sentence)
        labels.append(label)
    return np.array(texts), np.array(labels, dtype=np.float32)


def build(train_texts):
    vectorize = lm.layers.TextVectorization(max_tokens=40, output_sequence_length=12,
                                            name="vectorize")
    vectorize.adapt(train_texts)
    inputs = lm.Input(shape=(1,), dtype="string", name="text")
    x = lm.layers.Embedding(40, 8)(vectorize(inputs))
    x = lm.layers.GlobalAveragePooling1D()(x)
    x = lm.layers.Dense(8, activation="relu")(x)
    model = lm.Model(inputs, lm.layers.Dense(1, activation="sigmoid")(x))
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return model, vectorize


def main(quick=False):
    lm.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    train_texts, train_labels = corpus(200 if quick else 400, rng)
    test_texts, test_labels = corpus(100, rng)
    model, vectorize = build(train_texts)
    print("first texts:", [str(t) for t in train_texts[:2]])
    print("vocabulary (first 12):", vectorize.get_vocabulary()[:12])
    model.fit(train_texts, train_labels, epochs=10 if quick else 20, batch_size=32,
              verbose=0)
    _, accuracy = model.evaluate(test_texts, test_labels, verbose=0)
    print(f"held-out accuracy on raw strings: {accuracy:.2f}")
    queries = ["The coach was happy with the goal!", "Bake the sauce with garlic."]
    predicted = model.predict(queries, verbose=0).ravel()
    print("predictions (1 = sport):", dict(zip(queries, predicted.round(3).tolist(),
                                                strict=True)))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "text_classifier.lamina")
        model.save(path)
        loaded = lm.models.load_model(path)
        reloaded = loaded.predict(queries, verbose=0).ravel()
    print("loaded model predicts:", reloaded.round(3).tolist())
    vocabulary = set(vectorize.get_vocabulary())
    return {
        "learns_topics": accuracy > ACCURACY_CLAIM,
        "vocabulary_has_topic_words": {"goal", "sauce"} <= vocabulary,
        "queries_classified": bool(predicted[0] > 0.5 > predicted[1]),
        "loaded_predicts_the_same": bool(np.array_equal(reloaded, predicted)),
    }


if __name__ == "__main__":
    main()
