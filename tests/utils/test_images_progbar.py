"""Image helpers (Pillow) and `Progbar`, against Keras 3 on the same inputs."""
import io
import re

import keras
import numpy as np
import pytest

import lamina as lm


@pytest.fixture(autouse=True)
def _default_format():
    yield
    lm.config.set_image_data_format("channels_last")


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("scale", [True, False])
def test_array_to_img_and_back_match_keras(channels, scale):
    x = np.random.RandomState(channels).uniform(0, 255, (5, 7, channels))
    ours = lm.utils.array_to_img(x, scale=scale)
    theirs = keras.utils.array_to_img(x, scale=scale)
    assert ours.mode == theirs.mode and ours.size == theirs.size == (7, 5)
    np.testing.assert_array_equal(lm.utils.img_to_array(ours), keras.utils.img_to_array(theirs))
    for data_format in ("channels_first", "channels_last"):
        a = lm.utils.img_to_array(ours, data_format=data_format, dtype="uint8")
        b = keras.utils.img_to_array(theirs, data_format=data_format, dtype="uint8")
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_image_data_format_setting_reaches_the_image_helpers():
    x = np.arange(2 * 3 * 4, dtype="float32").reshape(3, 2, 4)  # channels first, 3 ch.
    lm.config.set_image_data_format("channels_first")
    img = lm.utils.array_to_img(x)
    assert img.size == (4, 2)
    assert lm.utils.img_to_array(img).shape == (3, 2, 4)


def test_array_to_img_refuses_bad_ranks_and_channels():
    with pytest.raises(lm.InputSpecError, match="rank-3"):
        lm.utils.array_to_img(np.zeros((2, 2)))
    with pytest.raises(lm.InputSpecError, match="1, 3 or 4 channels"):
        lm.utils.array_to_img(np.zeros((2, 2, 2)))


@pytest.mark.parametrize("kwargs", [
    {}, {"color_mode": "grayscale"}, {"color_mode": "rgba"},
    {"target_size": (6, 4)}, {"target_size": (5, 5), "interpolation": "bilinear"},
    {"target_size": (4, 4), "keep_aspect_ratio": True, "interpolation": "bicubic"}])
def test_save_img_and_load_img_match_keras(tmp_path, kwargs):
    x = np.random.RandomState(0).randint(0, 255, (9, 12, 3)).astype("float32")
    lm.utils.save_img(tmp_path / "a.png", x, scale=False)
    keras.utils.save_img(tmp_path / "b.png", x, scale=False)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    ours = lm.utils.load_img(str(tmp_path / "a.png"), **kwargs)
    theirs = keras.utils.load_img(str(tmp_path / "a.png"), **kwargs)
    assert ours.mode == theirs.mode and ours.size == theirs.size
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    data = io.BytesIO((tmp_path / "a.png").read_bytes())
    np.testing.assert_array_equal(np.asarray(lm.utils.load_img(data)), np.asarray(x, "uint8"))


def test_save_img_rgba_as_jpeg_warns_and_converts(tmp_path):
    with pytest.warns(UserWarning, match="RGBA"):
        lm.utils.save_img(tmp_path / "a.jpg", np.ones((4, 4, 4)) * 100)
    assert lm.utils.load_img(tmp_path / "a.jpg").mode == "RGB"


def test_load_img_errors():
    with pytest.raises(lm.ConfigurationError, match="color_mode"):
        lm.utils.load_img(io.BytesIO(_png()), color_mode="cmyk")
    with pytest.raises(lm.ConfigurationError, match="interpolation"):
        lm.utils.load_img(io.BytesIO(_png()), target_size=(2, 2), interpolation="area")
    with pytest.raises(TypeError, match="io.BytesIO"):
        lm.utils.load_img(3)


def _png():
    out = io.BytesIO()
    lm.utils.array_to_img(np.ones((3, 3, 3))).save(out, format="png")
    return out.getvalue()


def _run_bar(module, stream, verbose, updates, **kwargs):
    bar = module.utils.Progbar(4, verbose=verbose, **kwargs)
    if stream is not None:
        bar.stream = stream
    for method, step, values in updates:
        getattr(bar, method)(step, values)
    return bar


UPDATES = [("update", 1, [("loss", 4.0), ("acc", 0.5)]),
           ("update", 3, [("loss", 2.0), ("acc", 0.25)]),
           ("add", 1, [("loss", 1.0), ("acc", 1.0)])]


@pytest.mark.parametrize("stateful", [None, ["acc"]])
def test_progbar_final_line_matches_keras_without_timings(capsys, stateful):
    _run_bar(keras, None, 2, UPDATES, stateful_metrics=stateful)
    theirs = capsys.readouterr().out
    _run_bar(lm, None, 2, UPDATES, stateful_metrics=stateful)
    ours = capsys.readouterr().out

    def strip(text):
        return re.sub(r" - \d+s - \d+[mu]?s/step", "", text)

    assert strip(ours) == strip(theirs)
    # the averages by hand: loss over 4 steps weighted by steps (finalize keeps the last)
    assert "loss: 1.0000" in ours


def test_progbar_averages_weight_each_value_by_its_steps():
    bar = lm.utils.Progbar(10, verbose=0, stateful_metrics=["lr"])
    bar.update(2, [("loss", 1.0), ("lr", 0.1)])
    bar.update(5, [("loss", 2.0), ("lr", 0.2)])
    assert bar.averages() == {"loss": pytest.approx((2 * 1.0 + 3 * 2.0) / 5), "lr": 0.2}
    assert bar._seen_so_far == 5
    bar.add(5)
    assert bar._seen_so_far == 10


def test_progbar_draws_a_bar_on_a_terminal_and_one_line_elsewhere():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, log = Tty(), io.StringIO()
    for stream in (tty, log):
        bar = lm.utils.Progbar(3, width=6, interval=0, stream=stream, unit_name="batch")
        for step in (1, 2, 3):
            bar.update(step, [("loss", 0.5)])
    assert tty.getvalue().count("\r") == 3 and "3/3 [======]" in tty.getvalue()
    assert log.getvalue().count("\n") == 1 and log.getvalue().startswith("3/3 [======]")
    assert "/batch - loss: 0.5000" in log.getvalue()


def test_progbar_refuses_both_metric_lists():
    with pytest.raises(lm.ConfigurationError, match="not both"):
        lm.utils.Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])
