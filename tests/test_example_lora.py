"""The LoRA example (examples/lora_transformer.py) in its quick form: every claim it prints
must hold (adaptation helps, the base stays bitwise frozen, adapters save alone, reload and
merge to the same predictions)."""
from test_examples import check, load


def test_lora_transformer_example():
    facts = load("lora_transformer").main(quick=True)
    check(facts, {"lora_improves_task_b", "base_bitwise_frozen", "trains_a_small_fraction",
                  "adapter_file_small", "reloaded_equal", "merged_equal"})
