"""`image_dataset_from_directory` and `text_dataset_from_directory` (Keras's), returning
`SampleDataset`s of numpy batches instead of `tf.data` datasets (lamina has no
TensorFlow). Files are listed, labelled, shuffled and split exactly as Keras does
(`index_directory`); they are read when their batch is asked for. Images are decoded and
resized with Pillow (`lamina.utils.load_img`), so resized pixel values can differ slightly
from TensorFlow's resize; images already of `image_size` are identical.
"""
import os

import numpy as np

from lamina import config
from lamina.errors import ConfigurationError, InputSpecError
from lamina.utils.images import img_to_array, load_img, pil_image
from lamina.utils.sample_dataset import SampleDataset

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def _valid_files(directory, follow_links, formats):
    for root, _, names in sorted(os.walk(directory, followlinks=follow_links),
                                 key=lambda entry: entry[0]):
        for name in sorted(names):
            if name.lower().endswith(formats):
                yield os.path.join(root, name)


def _class_dirs(directory, labels, class_names):
    if labels != "inferred":
        if class_names is not None:
            raise ConfigurationError(
                "class_names can be given only with labels='inferred' (the class names are "
                "then the subfolder names to use, in order).")
        return [""]
    subdirs = [d for d in sorted(os.listdir(directory))
               if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
    if class_names is None:
        return subdirs
    if not set(class_names) <= set(subdirs):
        raise ConfigurationError(
            f"class_names {list(class_names)} are not all subfolders of '{directory}'; "
            f"expected names among {subdirs}.")
    return list(class_names)


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None,
                    follow_links=False, verbose=True):
    """(file paths, labels or None, class names or None), in Keras's order."""
    if not os.path.isdir(directory):
        raise InputSpecError(f"'{directory}' is not a folder.")
    subdirs = _class_dirs(directory, labels, class_names)
    paths, found = [], []
    for index, subdir in enumerate(subdirs):
        files = list(_valid_files(os.path.join(directory, subdir), follow_links, formats))
        paths += files
        found += [index] * len(files)
    if labels == "inferred":
        labels, names = np.asarray(found, dtype="int32"), subdirs
    elif labels is None:
        names = None
    else:
        if len(labels) != len(paths):
            raise InputSpecError(
                f"Expected one label per file: {len(labels)} labels for {len(paths)} files "
                f"in '{directory}'.")
        names = [str(label) for label in sorted(set(labels))]
    if verbose:
        print(f"Found {len(paths)} files." if labels is None else
              f"Found {len(paths)} files belonging to {len(names or [])} classes.")
    if shuffle:
        seed = np.random.randint(1_000_000) if seed is None else seed
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            labels = np.array(labels)
            np.random.RandomState(seed).shuffle(labels)
    return paths, labels, names


def _check_options(label_mode, labels, validation_split, subset, shuffle, seed):
    if label_mode not in ("int", "categorical", "binary", None):
        raise ConfigurationError(
            "label_mode must be 'int', 'categorical', 'binary' or None, received "
            f"{label_mode!r}.")
    if validation_split and not 0 < validation_split < 1:
        raise ConfigurationError(f"validation_split must be in (0, 1), received "
                                 f"{validation_split}.")
    if bool(validation_split) != bool(subset):
        raise ConfigurationError("Give validation_split and subset together.")
    if subset not in (None, "training", "validation", "both"):
        raise ConfigurationError(
            f"subset must be 'training', 'validation' or 'both', received {subset!r}.")
    if validation_split and shuffle and seed is None:
        raise ConfigurationError(
            "With validation_split and shuffle=True, give a seed so that the training and "
            "validation subsets do not overlap.")


def _subsets(paths, labels, validation_split, subset):
    """[(paths, labels)] for the subset(s) asked for, Keras's cut (the last part is the
    validation subset)."""
    if not validation_split:
        return [(paths, labels)]
    n_val = int(validation_split * len(paths))
    cut = len(paths) - n_val

    def part(a, b):
        return paths[a:b], None if labels is None else labels[a:b]

    parts = {"training": part(0, cut), "validation": part(cut, len(paths))}
    return [parts["training"], parts["validation"]] if subset == "both" else [parts[subset]]


def encode_labels(labels, label_mode, num_classes):
    """Labels as Keras gives them: int32, float32 one-hot, or float32 (n, 1) for binary."""
    labels = np.asarray(labels)
    if label_mode == "categorical":
        if labels.size and not 0 <= labels.min() <= labels.max() < num_classes:
            raise InputSpecError(
                f"label_mode='categorical' needs labels in [0, {num_classes}) (one per class "
                f"name), received labels from {labels.min()} to {labels.max()}.")
        return np.eye(num_classes, dtype="float32")[labels]
    if label_mode == "binary":
        return labels.astype("float32")[:, None]
    return labels.astype("int32")


# TensorFlow's resize methods as Pillow's (area averaging is Pillow's box filter)
_RESAMPLE = {"bilinear": "bilinear", "nearest": "nearest", "bicubic": "bicubic",
             "area": "box", "lanczos3": "lanczos", "lanczos5": "lanczos"}


def _padded(path, color_mode, size, interpolation):
    """The image scaled to fit `size` (height, width) whole, centred on a black canvas."""
    img = load_img(path, color_mode=color_mode)
    (width, height), (target_h, target_w) = img.size, size
    scale = min(target_w / width, target_h / height)
    inner = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = pil_image()
    img = img.resize(inner, getattr(image.Resampling, interpolation.upper()))
    canvas = image.new(img.mode, (target_w, target_h))
    canvas.paste(img, ((target_w - inner[0]) // 2, (target_h - inner[1]) // 2))
    return canvas


def _image_reader(paths, labels, label_mode, num_classes, options):
    color_mode, size, interpolation, crop, pad, data_format = options

    def image(path):
        if pad:
            img = _padded(path, color_mode, size, interpolation)
        else:
            img = load_img(path, color_mode=color_mode, target_size=size,
                           interpolation=interpolation, keep_aspect_ratio=crop)
        return img_to_array(img, data_format=data_format, dtype="float32")

    encoded = None if labels is None or label_mode is None else encode_labels(
        labels, label_mode, num_classes)

    def read(indices, single):
        x = np.stack([image(paths[i]) for i in indices])
        out = x if encoded is None else (x, encoded[indices])
        if single:
            return out[0] if encoded is None else (out[0][0], out[1][0])
        return out

    return read


def _datasets(parts, make, batch_size, shuffle, seed, class_names, subset):
    out = []
    for paths, labels in parts:
        ds = SampleDataset(len(paths), make(paths, labels), batch_size, shuffle, seed)
        ds.class_names, ds.file_paths = class_names, list(paths)
        out.append(ds)
    return out if subset == "both" else out[0]


def _check_classes(label_mode, class_names):
    if label_mode == "binary" and class_names is not None and len(class_names) != 2:
        raise ConfigurationError(
            f"label_mode='binary' needs exactly 2 classes, found {len(class_names)}: "
            f"{class_names}. Use label_mode='categorical' or 'int'.")


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, format="tf",
                                 verbose=True):
    """Batches `(images, labels)` (float32 images of `image_size`, labels per `label_mode`)
    from a folder with one subfolder per class, Keras's arguments; a `SampleDataset` (two
    with `subset="both"`) with `class_names` and `file_paths`. `format` is accepted for
    Keras compatibility: the result is always a SampleDataset."""
    del format
    _check_options(label_mode, labels, validation_split, subset, shuffle, seed)
    if color_mode not in ("rgb", "rgba", "grayscale"):
        raise ConfigurationError(
            f"color_mode must be 'rgb', 'rgba' or 'grayscale', received {color_mode!r}.")
    if interpolation not in _RESAMPLE:
        raise ConfigurationError(f"interpolation must be one of {sorted(_RESAMPLE)}, "
                                 f"received {interpolation!r}.")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ConfigurationError("Give crop_to_aspect_ratio or pad_to_aspect_ratio, not both.")
    label_mode = None if labels is None else label_mode
    paths, labels, class_names = index_directory(
        directory, labels, IMAGE_FORMATS, class_names, shuffle, seed, follow_links, verbose)
    _check_classes(label_mode, class_names)
    options = (color_mode, tuple(image_size), _RESAMPLE[interpolation], crop_to_aspect_ratio,
               pad_to_aspect_ratio, config.standardize_data_format(data_format))
    num_classes = len(class_names) if class_names else 0

    def make(paths, labels):
        return _image_reader(paths, labels, label_mode, num_classes, options)

    parts = _subsets(paths, labels, validation_split, subset)
    return _datasets(parts, make, batch_size, shuffle, seed, class_names, subset)


def _text_reader(paths, labels, label_mode, num_classes, max_length):
    encoded = None if labels is None or label_mode is None else encode_labels(
        labels, label_mode, num_classes)

    def text(path):
        with open(path, encoding="utf-8") as f:
            content = f.read()
        return content if max_length is None else content[:max_length]

    def read(indices, single):
        x = np.array([text(paths[i]) for i in indices], dtype=object)
        if single:
            return x[0] if encoded is None else (x[0], encoded[indices[0]])
        return x if encoded is None else (x, encoded[indices])

    return read


def text_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                class_names=None, batch_size=32, max_length=None, shuffle=True,
                                seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """Batches `(texts, labels)` from the `.txt` files of a folder with one subfolder per
    class, Keras's arguments; texts are a numpy object array of `str` (Keras gives
    `tf.string` bytes), cut to `max_length` characters when given."""
    del format
    _check_options(label_mode, labels, validation_split, subset, shuffle, seed)
    label_mode = None if labels is None else label_mode
    paths, labels, class_names = index_directory(
        directory, labels, (".txt",), class_names, shuffle, seed, follow_links, verbose)
    _check_classes(label_mode, class_names)
    num_classes = len(class_names) if class_names else 0

    def make(paths, labels):
        return _text_reader(paths, labels, label_mode, num_classes, max_length)

    parts = _subsets(paths, labels, validation_split, subset)
    return _datasets(parts, make, batch_size, shuffle, seed, class_names, subset)
