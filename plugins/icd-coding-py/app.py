"""The component's export: the contract's six functions over the `icd_coding` package.

componentize-py generates the `wit_world` bindings from `wit/` while it builds, and looks
for this module's `Task` class as the export of the interface `rapha:task/task@0.1.0`. This
file only converts: records are parsed here, the package's plain values become the WIT
records, and its exceptions become `Err(task-error)`. The contract is PLUGINS.md at the
repository root; `wit/` is its reference.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import (
    Count,
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
    TaskError_Other,
    TaskInfo,
    Violation,
)

from icd_coding import errors
from icd_coding import format as formatting
from icd_coding import info as declaration
from icd_coding import prediction as predictions
from icd_coding import record as records
from icd_coding import score as scoring


def _task_error(error: errors.TaskError) -> Err:
    """The WIT `task-error` case of one of the package's errors."""
    if isinstance(error, errors.InvalidJson):
        return Err(TaskError_InvalidJson(error.message))
    if isinstance(error, errors.MissingField):
        return Err(TaskError_MissingField(error.field))
    if isinstance(error, errors.InvalidField):
        return Err(TaskError_InvalidField(FieldError(field=error.field, reason=error.reason)))
    return Err(TaskError_Other(str(error)))


class Task(exports.Task):
    """The ICD coding task (`icd-coding-py`), the Rust `icd-coding` plugin's twin."""

    def info(self) -> TaskInfo:
        return TaskInfo(
            id=declaration.ID,
            version=declaration.VERSION,
            description=declaration.DESCRIPTION,
            metrics=[
                MetricInfo(name=name, higher_is_better=higher, description=description)
                for name, higher, description in declaration.METRICS
            ],
            output_schema=declaration.OUTPUT_SCHEMA,
            generation=GenerationHints(max_new_tokens=declaration.MAX_NEW_TOKENS, stop=list(declaration.STOP)),
            system_prompt=formatting.SYSTEM_PROMPT,
        )

    def format_example(self, example: str) -> FormattedExample:
        try:
            system, user, completion = formatting.format_example(records.parse_example(example))
        except errors.TaskError as error:
            raise _task_error(error) from None
        return FormattedExample(
            messages=[Message(role=Role.SYSTEM, content=system), Message(role=Role.USER, content=user)],
            completion=completion,
        )

    def score(self, prediction: str, example: str) -> ExampleScore:
        try:
            metrics, counts = scoring.score(prediction, records.parse_example(example))
        except errors.TaskError as error:
            raise _task_error(error) from None
        return ExampleScore(
            metrics=[Metric(name=name, value=value) for name, value in metrics],
            counts=[Count(key=key, value=value) for key, value in counts],
        )

    def aggregate(self, scores: list[ExampleScore]) -> list[Metric]:
        try:
            metrics = scoring.aggregate(scores)
        except errors.TaskError as error:
            raise _task_error(error) from None
        return [Metric(name=name, value=value) for name, value in metrics]

    def reward(self, prediction: str, example: str) -> float:
        try:
            return scoring.reward(prediction, records.parse_example(example))
        except errors.TaskError as error:
            raise _task_error(error) from None

    def validate(self, prediction: str) -> None:
        violation = predictions.validate(prediction)
        if violation is not None:
            path, reason = violation
            raise Err(Violation(path=path, reason=reason))
