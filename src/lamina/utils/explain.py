"""`explain(model)`: for each variable, is it trained when `model` trains, and why not.

Built on `lamina.trainability.resolve`, the same resolution the training step uses.
"""
import dataclasses

import numpy as np

from lamina import trainability


@dataclasses.dataclass(frozen=True)
class VariableReport:
    variable: object
    path: str  # use path of the layer that owns the variable (first one found)
    trained: bool
    reasons: tuple  # empty when trained; one entry per closed use path otherwise

    @property
    def name(self):
        return self.variable.path


class TrainabilityReport:
    """Rows of `VariableReport`, in `model.weights` order. `str()` renders a table."""

    def __init__(self, model):
        resolution = trainability.resolve(model)
        self.model = model
        self.rows = [
            VariableReport(v, resolution.paths[v.uid][0].names, resolution.is_trained(v),
                           resolution.reasons(v))
            for v in resolution.variables if v.kind == "weight"
        ]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def why(self, variable):
        """The report row of `variable` (a Variable or its path "layer/name")."""
        for row in self.rows:
            if row.variable is variable or row.name == variable:
                return row
        raise KeyError(
            f"Model '{self.model.name}' has no weight {getattr(variable, 'path', variable)!r}; "
            f"weights: {[row.name for row in self.rows]}."
        )

    def __str__(self):
        lines = [f"Trainability of '{self.model.name}' (what a training step of it updates):"]
        for row in self.rows:
            size = int(np.prod(row.variable.shape))
            status = "trained" if row.trained else "frozen"
            lines.append(f"  {row.name:<40} {size:>10,}  {status}")
            lines.extend(f"      because {reason}" for reason in row.reasons)
        return "\n".join(lines)

    __repr__ = __str__


def explain(model):
    """A `TrainabilityReport` for `model` (see DESIGN rule 9)."""
    return TrainabilityReport(model)
