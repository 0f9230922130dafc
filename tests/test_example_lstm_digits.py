"""The LSTM digits example: a quick smoke run of every claim, and the full run's accuracy."""
import pytest
from test_examples import check, load

FACTS = {"reads_8_rows_of_8_pixels", "lstm_weights_keras_layout", "loss_decreased",
         "frozen_lstm_bitwise_unchanged", "flag_untouched_head_trains"}


def test_lstm_digits_example_quick():
    check(load("lstm_digits").main(quick=True), FACTS)


@pytest.mark.slow
def test_lstm_digits_example_reaches_90_percent_on_held_out_digits():
    check(load("lstm_digits").main(quick=False), FACTS | {"test_accuracy_at_least_0.9"})
