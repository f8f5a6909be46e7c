"""The `{{id}}` task plugin for rapha-host: the contract's glue around `task.py`.

The contract, with an example of each function, is PLUGINS.md in the rapha-host
repository; the WIT files in `wit/` (from `rapha-host plugin wit`) are its reference.

componentize-py generates the `wit_world` bindings from `wit/` when it builds: a WIT
record is a dataclass, `result<T, E>` returns T or raises `Err(E)`, and the variant
`task-error` is one class per case (`TaskError_Other`, `TaskError_MissingField`, ...).
Keep every function pure (PLUGINS.md, "Determinism"): no state between calls, no clock,
no randomness. Use only the standard library; the plugin gets no I/O. Import every module
at the top of a file: componentize-py bundles what the build imports, so an import inside
a function fails with `ModuleNotFoundError` when the host calls it.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    ExampleScore,
    FieldError,
    FormattedExample,
    GenerationHints,
    Message,
    Metric,
    MetricInfo,
    Role,
    TaskError_InvalidField,
    TaskError_InvalidJson,
    TaskError_MissingField,
    TaskInfo,
    Violation,
)

import task


def record(example: str) -> task.Record:
    """The record, or the contract's error naming what is wrong with it."""
    try:
        return task.parse_record(example)
    except task.RecordError as error:
        if error.field == "":
            raise Err(TaskError_InvalidJson(error.reason)) from None
        if error.reason == "missing":
            raise Err(TaskError_MissingField(error.field)) from None
        raise Err(TaskError_InvalidField(FieldError(field=error.field, reason=error.reason))) from None


class Task(exports.Task):
    """The export of the world `task-plugin`: componentize-py looks for this class."""

    def info(self) -> TaskInfo:
        return TaskInfo(
            id="{{id}}",
            version="0.1.0",
            description="Label a clinical note (the skeleton's task: replace it with yours).",
            metrics=[MetricInfo(m.name, m.higher_is_better, m.description) for m in task.METRICS],
            output_schema=task.OUTPUT_SCHEMA,
            generation=GenerationHints(max_new_tokens=32, stop=[]),
            system_prompt=task.SYSTEM_PROMPT,
        )

    def format_example(self, example: str) -> FormattedExample:
        parsed = record(example)
        return FormattedExample(
            messages=[Message(role=Role.USER, content=parsed.note)],
            completion=task.target(parsed),
        )

    def score(self, prediction: str, example: str) -> ExampleScore:
        metrics = task.score(prediction, record(example))
        return ExampleScore(metrics=[Metric(name, value) for name, value in metrics], counts=[])

    def aggregate(self, scores: list[ExampleScore]) -> list[Metric]:
        values = [{metric.name: metric.value for metric in s.metrics} for s in scores]
        return [Metric(name, value) for name, value in task.aggregate(values)]

    def reward(self, prediction: str, example: str) -> float:
        return task.reward(prediction, record(example))

    def validate(self, prediction: str) -> None:
        broken = task.violation(prediction)
        if broken is not None:
            raise Err(Violation(path=broken[0], reason=broken[1]))
