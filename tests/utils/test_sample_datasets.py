"""The dataset utilities that return a `lamina.utils.SampleDataset` where Keras returns a
`tf.data.Dataset`: timeseries windows, split_dataset, image/text folders. File listing and
split sizes are compared with Keras's own (TensorFlow-free) helpers; `model.fit(ds)` runs on
each kind."""
import random

import numpy as np
import pytest
from keras.src.utils import dataset_utils as k_dataset_utils

import lamina as lm
from lamina.utils import directory_datasets, split


def test_timeseries_windows_and_targets_follow_keras_docs_example():
    # Keras's docstring: data [0..99], sequence_length=10, sampling_rate=2, stride 3
    data = np.arange(100)
    ds = lm.utils.timeseries_dataset_from_array(
        data, data + 1000, sequence_length=10, sampling_rate=2, sequence_stride=3,
        batch_size=4, start_index=5, end_index=90)
    windows, targets = ds[0]
    np.testing.assert_array_equal(windows[0], np.arange(5, 25, 2))
    np.testing.assert_array_equal(windows[1], np.arange(8, 28, 2))
    np.testing.assert_array_equal(targets, 1000 + 5 + np.arange(0, 12, 3))
    num = (90 - 5 - 9 * 2 + 2) // 3  # ceil((end - start - (len - 1) * rate) / stride)
    assert sum(len(b[0]) for b in ds) == num and len(ds) == -(-num // 4)


def test_timeseries_without_targets_shuffled_and_unbatched():
    data = np.arange(20, dtype="float32")[:, None]
    plain = lm.utils.timeseries_dataset_from_array(data, None, 4, batch_size=None)
    assert len(plain) == 17 and plain[3].shape == (4, 1) and plain[3][0, 0] == 3
    mixed = lm.utils.timeseries_dataset_from_array(data, None, 4, shuffle=True, seed=1,
                                                   batch_size=100)
    starts = mixed[0][:, 0, 0]
    assert sorted(starts.tolist()) == list(range(17)) and starts.tolist() != list(range(17))
    with pytest.raises(lm.ConfigurationError, match="sampling_rate"):
        lm.utils.timeseries_dataset_from_array(data, None, 4, sampling_rate=0)


@pytest.mark.parametrize("left, right", [
    (0.8, None), (None, 0.25), (3, None), (None, 4), (0.5, 0.25), (2, 3), (0.3, 0.3)])
def test_split_sizes_match_keras(left, right):
    assert split.split_sizes(left, right, 10) == k_dataset_utils._rescale_dataset_split_sizes(
        left, right, 10)


@pytest.mark.parametrize("left, right", [(None, None), (0.0, 0.0), (11, None), (0.7, 0.6),
                                         (1.5, None)])
def test_split_sizes_errors(left, right):
    with pytest.raises(lm.ConfigurationError):
        split.split_sizes(left, right, 10)


def test_split_dataset_takes_the_first_and_last_samples_after_keras_shuffle():
    x, y = np.arange(10) * 10, np.arange(10)
    left, right = lm.utils.split_dataset((x, y), left_size=0.6, right_size=3, shuffle=True,
                                         seed=4)
    order = list(range(10))
    random.seed(4)
    random.shuffle(order)  # Keras's shuffle: Python's random, seeded, on the sample list
    assert [int(b[1]) for b in left] == order[:6]
    assert [int(b[1]) for b in right] == order[-3:]
    assert all(int(bx) == 10 * int(by) for bx, by in left)
    batches = list(left.batch(4))
    assert [len(b[1]) for b in batches] == [4, 2]
    assert np.concatenate([b[1] for b in batches]).tolist() == order[:6]


def test_split_dataset_of_an_array_a_dict_and_a_sample_dataset():
    left, right = lm.utils.split_dataset(np.arange(5), left_size=2)
    assert [int(v) for v in left] == [0, 1] and [int(v) for v in right] == [2, 3, 4]
    left, _ = lm.utils.split_dataset({"a": np.arange(4), "b": -np.arange(4)}, right_size=1)
    assert [(int(s["a"]), int(s["b"])) for s in left] == [(0, 0), (1, -1), (2, -2)]
    series = lm.utils.timeseries_dataset_from_array(np.arange(12), None, 3, batch_size=2)
    left, right = lm.utils.split_dataset(series, left_size=0.5)
    assert [w.tolist() for w in right][0] == [5, 6, 7]
    with pytest.raises(lm.InputSpecError, match="one length"):
        lm.utils.split_dataset((np.arange(3), np.arange(4)), left_size=1)
    with pytest.raises(TypeError, match="array"):
        lm.utils.split_dataset("abc", left_size=1)


def _image_folder(root, counts, size=(6, 5)):
    rng = np.random.RandomState(0)
    for name, count in counts.items():
        (root / name / "nested").mkdir(parents=True)
        for i in range(count):
            where = root / name / ("nested" if i % 2 else "") / f"img{i}.png"
            lm.utils.save_img(where, rng.randint(0, 255, size + (3,)), scale=False)
        (root / name / "notes.md").write_text("not an image")
    return root


@pytest.mark.parametrize("shuffle", [False, True])
def test_files_are_listed_labelled_and_shuffled_as_keras_does(tmp_path, shuffle):
    root = _image_folder(tmp_path, {"cat": 3, "dog": 4})
    ours = directory_datasets.index_directory(str(root), "inferred",
                                              directory_datasets.IMAGE_FORMATS, shuffle=shuffle,
                                              seed=3, verbose=False)
    theirs = k_dataset_utils.index_directory(str(root), "inferred",
                                             directory_datasets.IMAGE_FORMATS, shuffle=shuffle,
                                             seed=3, verbose=False)
    assert ours[0] == theirs[0] and ours[2] == theirs[2] == ["cat", "dog"]
    np.testing.assert_array_equal(ours[1], theirs[1])


def test_image_dataset_from_directory_reads_batches_and_fits(tmp_path):
    root = _image_folder(tmp_path, {"cat": 3, "dog": 4})
    train, val = lm.utils.image_dataset_from_directory(
        root, image_size=(6, 5), batch_size=2, validation_split=0.3, subset="both", seed=1,
        label_mode="categorical", verbose=False)
    assert train.class_names == val.class_names == ["cat", "dog"]
    assert len(train.file_paths) == 5 and len(val.file_paths) == 2
    x, y = train[0]
    assert x.shape == (2, 6, 5, 3) and x.dtype == np.float32 and y.dtype == np.float32
    first = train.file_paths[train.order[0]]
    np.testing.assert_array_equal(x[0], lm.utils.img_to_array(lm.utils.load_img(first)))
    assert y[0].tolist() == ([1.0, 0.0] if "/cat/" in first else [0.0, 1.0])
    model = lm.Sequential([lm.Input((6, 5, 3)), lm.layers.Flatten(), lm.layers.Dense(2)])
    model.compile("sgd", "categorical_crossentropy")
    history = model.fit(train, validation_data=val, epochs=2, verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert model.predict(val, verbose=0).shape == (2, 2)


def test_image_dataset_options(tmp_path):
    root = _image_folder(tmp_path, {"a": 2, "b": 1}, size=(4, 8))
    for kwargs, shape in [({"color_mode": "grayscale"}, (3, 3, 1)),
                          ({"crop_to_aspect_ratio": True}, (3, 3, 3)),
                          ({"pad_to_aspect_ratio": True, "color_mode": "rgba"}, (3, 3, 4)),
                          ({"data_format": "channels_first"}, (3, 3, 3))]:
        ds = lm.utils.image_dataset_from_directory(root, image_size=(3, 3), shuffle=False,
                                                   verbose=False, **kwargs)
        assert ds[0][0].shape == (3,) + shape
    binary = lm.utils.image_dataset_from_directory(root, image_size=(4, 8), shuffle=False,
                                                   label_mode="binary", verbose=False)
    assert binary[0][1].tolist() == [[0.0], [0.0], [1.0]]
    unlabelled = lm.utils.image_dataset_from_directory(root, labels=None, image_size=(4, 8),
                                                       verbose=False, batch_size=None)
    assert unlabelled.class_names is None and unlabelled[0].shape == (4, 8, 3)
    given = lm.utils.image_dataset_from_directory(root, labels=[1, 0, 1], image_size=(4, 8),
                                                  shuffle=False, verbose=False)
    assert given.class_names == ["0", "1"] and given[0][1].tolist() == [1, 0, 1]
    with pytest.raises(lm.InputSpecError, match=r"\[0, 2\)"):
        lm.utils.image_dataset_from_directory(root, labels=[2, 0, 2], image_size=(4, 8),
                                              label_mode="categorical", verbose=False)
    with pytest.raises(lm.ConfigurationError, match="seed"):
        lm.utils.image_dataset_from_directory(root, validation_split=0.5, subset="training")
    with pytest.raises(lm.ConfigurationError, match="exactly 2"):
        _image_folder(tmp_path / "three", {"a": 1, "b": 1, "c": 1})
        lm.utils.image_dataset_from_directory(tmp_path / "three", label_mode="binary",
                                              verbose=False)


def test_text_dataset_from_directory(tmp_path, capsys):
    for label, texts in {"neg": ["bad film", "dull"], "pos": ["great", "loved it a lot"]}.items():
        (tmp_path / label).mkdir()
        for i, text in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(text)
    ds = lm.utils.text_dataset_from_directory(tmp_path, batch_size=3, shuffle=False,
                                              max_length=5)
    assert "Found 4 files belonging to 2 classes." in capsys.readouterr().out
    texts, labels = ds[0]
    assert texts.tolist() == ["bad f", "dull", "great"] and labels.tolist() == [0, 0, 1]
    assert labels.dtype == np.int32 and ds.class_names == ["neg", "pos"] and len(ds) == 2
    assert [t for batch, _ in ds for t in batch][-1] == "loved"
