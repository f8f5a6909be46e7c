"""The `{{id}}` task plugin for rapha-host.

Every function of the contract is here: `info` is a valid declaration to edit, and the
others fail with "not implemented" until you fill them in. The contract, with an example
of each function, is PLUGINS.md in the rapha-host repository; the WIT files in `wit/`
(from `rapha-host plugin wit`) are its reference.

componentize-py generates the `wit_world` bindings from `wit/` when it builds: a WIT
record is a dataclass, `result<T, E>` returns T or raises `Err(E)`, and the variant
`task-error` is one class per case (`TaskError_Other`, `TaskError_MissingField`, ...).
Keep every function pure (PLUGINS.md, "Determinism"): no state between calls, no clock,
no randomness. Use only the standard library (e.g. `json`); the plugin gets no I/O.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    ExampleScore,
    FormattedExample,
    GenerationHints,
    Metric,
    MetricInfo,
    TaskError_Other,
    TaskInfo,
    Violation,
)


def not_implemented(function: str) -> Err:
    """The error every unfinished function raises, naming itself."""
    return Err(TaskError_Other(f"not implemented: fill in `{function}` in app.py"))


class Task(exports.Task):
    """The export of the world `task-plugin`: componentize-py looks for this class."""

    def info(self) -> TaskInfo:
        return TaskInfo(
            id="{{id}}",
            version="0.1.0",
            description="Describe the task in one line.",
            metrics=[
                MetricInfo(
                    name="placeholder",
                    higher_is_better=True,
                    description="Replace with the task's metrics.",
                )
            ],
            output_schema='{"type":"string"}',
            generation=GenerationHints(max_new_tokens=256, stop=[]),
            system_prompt="Describe what the model should do.",
        )

    def format_example(self, example: str) -> FormattedExample:
        raise not_implemented("format_example")

    def score(self, prediction: str, example: str) -> ExampleScore:
        raise not_implemented("score")

    def aggregate(self, scores: list[ExampleScore]) -> list[Metric]:
        raise not_implemented("aggregate")

    def reward(self, prediction: str, example: str) -> float:
        raise not_implemented("reward")

    def validate(self, prediction: str) -> None:
        raise Err(Violation(path="", reason="not implemented: fill in `validate` in app.py"))
