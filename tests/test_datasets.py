"""`lamina.datasets`: small files built here in each published format, read offline (`path=`
or a pre-filled cache) and compared with Keras 3's own loaders on the same files (Keras's
`get_file` is pointed at the local file); downloads come from a local `file://` origin; a
hostile pickle runs no code. Nothing here touches the network."""
import gzip
import hashlib
import io
import os
import pickle
import tarfile

import keras
import numpy as np
import pytest
from keras.src.datasets import boston_housing as k_boston
from keras.src.datasets import california_housing as k_california
from keras.src.datasets import cifar10 as k_cifar10
from keras.src.datasets import cifar100 as k_cifar100
from keras.src.datasets import fashion_mnist as k_fashion
from keras.src.datasets import imdb as k_imdb
from keras.src.datasets import mnist as k_mnist
from keras.src.datasets import reuters as k_reuters

import lamina as lm
from lamina.datasets import cifar10, cifar100, fashion_mnist, imdb, mnist

RNG = np.random.RandomState(0)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _keras_reads(monkeypatch, module, path):
    monkeypatch.setattr(module, "get_file", lambda *a, **k: str(path))


def _assert_same(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        for x, y in zip(a, b, strict=True):
            if x.dtype == object:
                assert [list(s) for s in x] == [list(s) for s in y]
            else:
                assert x.dtype == y.dtype and x.shape == y.shape
                np.testing.assert_array_equal(x, y)


@pytest.fixture
def mnist_file(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=RNG.randint(0, 255, (6, 28, 28)).astype("uint8"),
             y_train=np.arange(6, dtype="uint8"),
             x_test=RNG.randint(0, 255, (2, 28, 28)).astype("uint8"),
             y_test=np.arange(2, dtype="uint8"))
    return path


def test_mnist_from_a_local_path_matches_keras(mnist_file, monkeypatch, home):
    _keras_reads(monkeypatch, k_mnist, mnist_file)
    _assert_same(mnist.load_data(path=str(mnist_file)), keras.datasets.mnist.load_data())
    assert not home.exists()  # read in place, offline, nothing cached


def test_mnist_downloads_once_into_the_cache_with_its_hash(mnist_file, monkeypatch, home):
    monkeypatch.setattr(mnist, "ORIGIN", mnist_file.as_uri())
    monkeypatch.setattr(mnist, "FILE_HASH", _sha(mnist_file))
    (x, _), _ = mnist.load_data()
    assert x.shape == (6, 28, 28) and (home / "datasets" / "mnist.npz").is_file()
    monkeypatch.setattr(mnist, "ORIGIN", "file:///nonexistent/mnist.npz")
    (x2, _), _ = mnist.load_data()  # from the cache now
    np.testing.assert_array_equal(x, x2)


def test_a_download_with_the_wrong_hash_is_an_error_naming_the_file(mnist_file, monkeypatch,
                                                                     home):
    monkeypatch.setattr(mnist, "ORIGIN", mnist_file.as_uri())
    with pytest.raises(lm.SavingError, match=r"mnist\.npz.*sha256"):
        mnist.load_data()
    assert os.listdir(home / "datasets") == []


def test_a_file_without_the_expected_arrays_names_them(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.zeros(1))
    with pytest.raises(lm.SavingError, match=r"mnist\.npz.*'y_train'"):
        mnist.load_data(path=str(path))


def _idx_gz(path, header, data):
    with gzip.open(path, "wb") as f:
        f.write(header + data.tobytes())


def test_fashion_mnist_from_a_prefilled_cache_matches_keras(tmp_path, monkeypatch, home):
    folder = home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    sizes = {"train": 5, "t10k": 3}
    for part, n in sizes.items():
        _idx_gz(folder / f"{part}-labels-idx1-ubyte.gz", b"\0" * 8,
                RNG.randint(0, 10, n).astype("uint8"))
        _idx_gz(folder / f"{part}-images-idx3-ubyte.gz", b"\0" * 16,
                RNG.randint(0, 255, (n, 28, 28)).astype("uint8"))
    monkeypatch.setattr(fashion_mnist, "FILES", tuple(
        (name, hashlib.md5((folder / name).read_bytes()).hexdigest())
        for name, _ in fashion_mnist.FILES))
    paths = iter(str(folder / name) for name, _ in (
        ("train-labels-idx1-ubyte.gz", 0), ("train-images-idx3-ubyte.gz", 0),
        ("t10k-labels-idx1-ubyte.gz", 0), ("t10k-images-idx3-ubyte.gz", 0)))
    monkeypatch.setattr(k_fashion, "get_file", lambda *a, **k: next(paths))
    ours = fashion_mnist.load_data()
    _assert_same(ours, keras.datasets.fashion_mnist.load_data())
    assert ours[0][0].shape == (5, 28, 28)


def test_fashion_mnist_checks_the_published_md5_of_a_cached_file(monkeypatch, home):
    folder = home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"not the published file")
    monkeypatch.setattr(fashion_mnist.files, "ORIGIN_FOLDER", (home / "none").as_uri() + "/")
    with pytest.raises(lm.SavingError, match="train-labels-idx1-ubyte.gz"):
        fashion_mnist.load_data()


def _cifar_batch(n, label_keys):
    """A CIFAR batch pickle (the published files are Python 2 pickles read with
    encoding="bytes"; protocol 4 writes the same dict of bytes, lists and an array)."""
    pixels = np.resize(RNG.randint(0, 255, 3072 * 7).astype("uint8"), (n, 3072))
    batch = {b"batch_label": b"test batch", b"filenames": [b"f%d.png" % i for i in range(n)],
             b"data": pixels}
    for key, classes in label_keys.items():
        batch[key] = [int(v) for v in RNG.randint(0, classes, n)]
    return pickle.dumps(batch, protocol=4)


def _tar_gz(path, members):
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _prefill(home, archive_name, members, module, monkeypatch):
    datasets = home / "datasets"
    datasets.mkdir(parents=True)
    archive = datasets / archive_name
    _tar_gz(archive, members)
    monkeypatch.setattr(module, "FILE_HASH", _sha(archive))
    monkeypatch.setattr(module, "ORIGIN", "file:///nonexistent")
    return datasets


def test_cifar10_reads_the_five_batches_in_order(home, monkeypatch):
    batches = [_cifar_batch(3, {b"labels": 10}) for _ in range(6)]
    members = {f"cifar-10-batches-py/data_batch_{i}": batches[i - 1] for i in range(1, 6)}
    members["cifar-10-batches-py/test_batch"] = batches[5]
    _prefill(home, "cifar-10-batches-py-target_archive", members, cifar10, monkeypatch)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    dicts = [pickle.loads(b) for b in batches]
    expected = np.concatenate([d[b"data"] for d in dicts[:5]]).reshape(15, 3, 32, 32)
    np.testing.assert_array_equal(x_train, expected.transpose(0, 2, 3, 1))
    assert y_train.dtype == np.uint8 and y_train.shape == (15, 1)
    assert y_train[:, 0].tolist() == sum((d[b"labels"] for d in dicts[:5]), [])
    assert x_test.shape == (3, 32, 32, 3) and y_test[:, 0].tolist() == dicts[5][b"labels"]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_cifar10_from_a_prefilled_cache_matches_keras(home, monkeypatch, data_format):
    members = {f"cifar-10-batches-py/data_batch_{i}": _cifar_batch(10000, {b"labels": 10})
               for i in range(1, 6)}
    members["cifar-10-batches-py/test_batch"] = _cifar_batch(4, {b"labels": 10})
    datasets = _prefill(home, "cifar-10-batches-py-target_archive", members, cifar10,
                        monkeypatch)
    lm.config.set_image_data_format(data_format)
    keras.config.set_image_data_format(data_format)
    try:
        ours = cifar10.load_data()
        _keras_reads(monkeypatch, k_cifar10, datasets / "cifar-10-batches-py-target")
        _assert_same(ours, keras.datasets.cifar10.load_data())
    finally:
        lm.config.set_image_data_format("channels_last")
        keras.config.set_image_data_format("channels_last")
    assert ours[0][1].shape == (50000, 1)


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_from_a_prefilled_cache_matches_keras(home, monkeypatch, label_mode):
    labels = {b"fine_labels": 100, b"coarse_labels": 20}
    members = {"cifar-100-python/train": _cifar_batch(6, labels),
               "cifar-100-python/test": _cifar_batch(3, labels)}
    datasets = _prefill(home, "cifar-100-python-target_archive", members, cifar100,
                        monkeypatch)
    ours = cifar100.load_data(label_mode)
    _keras_reads(monkeypatch, k_cifar100, datasets / "cifar-100-python-target")
    _assert_same(ours, keras.datasets.cifar100.load_data(label_mode))
    with pytest.raises(lm.ConfigurationError, match="label_mode"):
        cifar100.load_data("medium")


class _Gadget:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_hostile_cifar_pickle_runs_no_code(home, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    members = {"cifar-100-python/train": pickle.dumps({b"data": _Gadget()}, protocol=4),
               "cifar-100-python/test": _cifar_batch(3, {b"fine_labels": 100})}
    _prefill(home, "cifar-100-python-target_archive", members, cifar100, monkeypatch)
    refused = r"python/train'.*Refusing to load `(posix|os)\.system`"
    with pytest.raises(lm.SavingError, match=refused):
        cifar100.load_data()
    assert not (tmp_path / "pwned").exists()


def _ragged(n, top):
    seqs = np.empty(n, dtype=object)
    seqs[:] = [[int(w) for w in RNG.randint(1, top, RNG.randint(2, 9))] for _ in range(n)]
    return seqs


@pytest.fixture
def imdb_file(tmp_path):
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=_ragged(12, 40), y_train=RNG.randint(0, 2, 12),
             x_test=_ragged(8, 40), y_test=RNG.randint(0, 2, 8))
    return path


@pytest.mark.parametrize("kwargs", [
    {}, {"num_words": 20, "skip_top": 3}, {"maxlen": 9, "seed": 7},
    {"oov_char": None, "num_words": 15}, {"start_char": None, "index_from": 0}])
def test_imdb_options_match_keras(imdb_file, monkeypatch, kwargs):
    _keras_reads(monkeypatch, k_imdb, imdb_file)
    _assert_same(imdb.load_data(path=str(imdb_file), **kwargs),
                 keras.datasets.imdb.load_data(**kwargs))


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 20, "test_split": 0.5, "maxlen": 8}])
def test_reuters_options_match_keras(tmp_path, monkeypatch, kwargs):
    path = tmp_path / "reuters.npz"
    np.savez(path, x=_ragged(15, 30), y=RNG.randint(0, 46, 15))
    _keras_reads(monkeypatch, k_reuters, path)
    _assert_same(lm.datasets.reuters.load_data(path=str(path), **kwargs),
                 keras.datasets.reuters.load_data(**kwargs))
    assert lm.datasets.reuters.get_label_names() == keras.datasets.reuters.get_label_names()


def test_an_object_array_holding_a_gadget_runs_no_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hostile = np.empty(2, dtype=object)
    hostile[:] = [_Gadget(), [1, 2]]
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=hostile, y_train=np.zeros(2), x_test=hostile, y_test=np.zeros(2))
    with pytest.raises(lm.SavingError, match=r"imdb\.npz' member x_train\.npy.*Refusing to load"):
        imdb.load_data(path=str(path))
    assert not (tmp_path / "pwned").exists()


def test_word_indexes_read_a_local_file(tmp_path):
    path = tmp_path / "index.json"
    path.write_text('{"the": 1, "movie": 2}')
    assert imdb.get_word_index(str(path)) == {"the": 1, "movie": 2}
    assert lm.datasets.reuters.get_word_index(str(path)) == {"the": 1, "movie": 2}


@pytest.mark.parametrize("name, module, columns", [
    ("boston_housing", k_boston, 13), ("california_housing", k_california, 8)])
def test_regression_datasets_match_keras(tmp_path, monkeypatch, name, module, columns):
    path = tmp_path / f"{name}.npz"
    np.savez(path, x=RNG.rand(700, columns), y=RNG.rand(700))
    _keras_reads(monkeypatch, module, path)
    ours = getattr(lm.datasets, name).load_data(path=str(path), test_split=0.3, seed=5)
    _assert_same(ours, getattr(keras.datasets, name).load_data(test_split=0.3, seed=5))
    with pytest.raises(lm.ConfigurationError, match="test_split"):
        getattr(lm.datasets, name).load_data(path=str(path), test_split=1.0)


def test_california_small_version_matches_keras(tmp_path, monkeypatch):
    path = tmp_path / "california_housing.npz"
    np.savez(path, x=RNG.rand(700, 8), y=RNG.rand(700))
    _keras_reads(monkeypatch, k_california, path)
    _assert_same(lm.datasets.california_housing.load_data("small", path=str(path)),
                 keras.datasets.california_housing.load_data("small"))
