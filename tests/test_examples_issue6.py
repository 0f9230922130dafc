"""Issue 6's examples (transfer learning with gradual unfreezing, DCGAN, siamese, multi-task):
each `main(quick=True)` runs a few steps in-process and returns the facts it verified on the
weights; every claim must hold. One slow full run per example asserts the reported figures."""
import importlib.util
import pathlib
import shutil

import pytest

pytest.importorskip("sklearn.datasets")

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"

FACTS = {
    "transfer_digits": {
        "flags_untouched", "only_head_b_trains", "frozen_backbone_bitwise_unchanged",
        "task_a_accuracy_kept", "head_has_optimizer_state", "head_optimizer_state_kept",
        "backbone_fine_tuned", "all_train_at_the_end"},
    "dcgan_digits": {
        "d_flag_true", "combined_trains_only_g", "d_trained_by_d_step",
        "d_bitwise_unchanged_by_combined", "g_trained_through_frozen_d", "png_written"},
    "siamese": {
        "one_set_of_encoder_weights", "encoder_trained", "branches_identical",
        "pair_score_symmetric", "explain_layer_lists_holders"},
    "multitask": {
        "per_output_losses_in_history", "total_is_sum_of_outputs", "freeze_named_in_explain",
        "frozen_head_bitwise_unchanged", "trunk_and_digit_head_trained",
        "both_losses_still_logged"},
}
FULL_RUN_FACTS = {
    "transfer_digits": {"frozen_backbone_transfers", "fine_tuning_reaches_95"},
    "dcgan_digits": {"samples_classified_confidently", "samples_cover_many_classes",
                     "pixel_statistics_match"},
    "siamese": {"pair_accuracy_at_least_0_94"},
    "multitask": {"both_tasks_learned"},
}
# model graphs are PNGs drawn by Graphviz's `dot`, or their DOT source on a machine without it
GRAPH = "png" if shutil.which("dot") else "dot"
OUTPUTS = {  # files each example writes into its output folder
    "transfer_digits": {f"model_a.{GRAPH}", f"model_b.{GRAPH}"},
    "dcgan_digits": {"samples.png"},
    "siamese": {f"siamese.{GRAPH}"},
    "multitask": {f"multitask.{GRAPH}"},
}


def load(name):
    spec = importlib.util.spec_from_file_location(f"lamina_example_{name}",
                                                  EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(facts, expected):
    failed = [name for name, ok in facts.items() if ok is not True]
    assert not failed, f"claims that did not hold: {failed}"
    assert set(facts) == expected, f"facts: {sorted(facts)}"


def check_outputs(out_dir, name):
    written = {p.name for p in out_dir.iterdir() if p.stat().st_size > 0}
    assert OUTPUTS[name] <= written, f"{name} wrote {sorted(written)}"


@pytest.mark.parametrize("name", sorted(FACTS))
def test_example_quick(name, tmp_path):
    check(load(name).main(quick=True, out_dir=str(tmp_path)), FACTS[name])
    check_outputs(tmp_path, name)


def test_dcgan_png_is_a_grid_of_64_samples(tmp_path):
    matplotlib_image = pytest.importorskip("matplotlib.image")
    module = load("dcgan_digits")
    rng = __import__("numpy").random.default_rng(0)
    images = rng.uniform(-1, 1, size=(64, 8, 8, 1)).astype("float32")
    path = module.save_grid(images, str(tmp_path / "grid.png"))
    height, width = matplotlib_image.imread(path).shape[:2]
    assert (width, height) == (8 * 80, 8 * 80)  # 8 x 8 one-inch cells at 80 dpi


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FACTS))
def test_example_full_run(name, tmp_path):
    check(load(name).main(out_dir=str(tmp_path)), FACTS[name] | FULL_RUN_FACTS[name])
    check_outputs(tmp_path, name)
