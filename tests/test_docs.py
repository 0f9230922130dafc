"""Every ```python block of the guides in docs/ runs, in order, in one namespace per page, so
the claims the guides make (written as asserts) hold."""
import pathlib
import re

import pytest

import lamina as lm

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
PAGES = ["freezing.md", "coming_from_keras.md", "per_group_optimizers.md",
         "custom_train_step.md", "saving.md", "lora.md", "preprocessing.md",
         "categorical_preprocessing.md"]


@pytest.mark.parametrize("page", PAGES)
def test_guide_code_runs(page, capsys):
    text = (DOCS / page).read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert blocks, f"{page} has no python blocks"
    lm.reset_names()
    namespace = {"__name__": f"docs_{page}"}
    for index, block in enumerate(blocks):
        try:
            exec(compile(block, f"{page}[block {index}]", "exec"), namespace)
        except Exception as err:  # name the block in the failure
            raise AssertionError(f"{page}, block {index} failed: {err!r}\n{block}") from err
