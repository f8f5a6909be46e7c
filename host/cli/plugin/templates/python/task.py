"""The task itself, in plain Python: no bindings, so `tests/` runs it natively.

The skeleton's task labels a clinical note (`{"id", "note", "label"}` records; the answer
is `{"label": "..."}`): small enough to read in a minute, complete enough to build, check
and score. Replace it with yours; keep this module free of `wit_world` so it stays testable.

To add a metric, add a `Metric` to `METRICS`: `info` declares it, `score` computes it for
every record and `aggregate` averages it; nothing else changes.
"""

import json
from dataclasses import dataclass
from typing import Callable, Optional

OUTPUT_SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {"label": {"type": "string", "minLength": 1}},
        "required": ["label"],
        "additionalProperties": False,
    }
)

SYSTEM_PROMPT = 'Read the clinical note and answer with its label as JSON: {"label": "..."}.'


class RecordError(Exception):
    """A record the task cannot use: `field` is a JSON Pointer ("" for the whole record)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field or 'record'}: {reason}")
        self.field = field
        self.reason = reason


@dataclass
class Record:
    note: str
    label: str


@dataclass
class Metric:
    """A per-record metric: `compute(predicted_label, record)`, where the label is None
    when the prediction is not a JSON object with a string `label`."""

    name: str
    higher_is_better: bool
    description: str
    compute: Callable[[Optional[str], Record], float]


METRICS = [
    Metric(
        "exact_match",
        True,
        "1 when the predicted label equals the record's, else 0",
        lambda predicted, record: float(predicted == record.label),
    ),
    # A new metric: one more entry here.
]


def parse_record(text: str) -> Record:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError("", f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise RecordError("", "expected a JSON object")
    fields = {}
    for name in ("note", "label"):
        if name not in value:
            raise RecordError(f"/{name}", "missing")
        if not isinstance(value[name], str):
            raise RecordError(f"/{name}", "expected a string")
        fields[name] = value[name]
    return Record(**fields)


def target(record: Record) -> str:
    """The completion a run trains on: the answer a perfect model gives."""
    return json.dumps({"label": record.label})


def predicted_label(prediction: str) -> Optional[str]:
    """The label of a prediction, or None when it is not `{"label": "..."}` JSON."""
    try:
        value = json.loads(prediction)
    except json.JSONDecodeError:
        return None
    if isinstance(value, dict) and isinstance(value.get("label"), str):
        return value["label"]
    return None


def score(prediction: str, record: Record) -> list[tuple[str, float]]:
    label = predicted_label(prediction)
    return [(metric.name, metric.compute(label, record)) for metric in METRICS]


def aggregate(scores: list[dict[str, float]]) -> list[tuple[str, float]]:
    """Each metric's mean over the records (0 for none)."""
    return [
        (metric.name, sum(s[metric.name] for s in scores) / len(scores) if scores else 0.0)
        for metric in METRICS
    ]


def reward(prediction: str, record: Record) -> float:
    return float(predicted_label(prediction) == record.label)


def violation(prediction: str) -> Optional[tuple[str, str]]:
    """The first rule the prediction breaks, as (JSON Pointer, reason), or None."""
    if predicted_label(prediction) is None:
        return ("", 'expected a JSON object with a string "label"')
    return None
