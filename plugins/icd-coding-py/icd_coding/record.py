"""The fields of an ICD coding record: `{"id", "note", "codes": [..]}`."""

from . import strict_json
from .codes import exists, normalise
from .errors import InvalidField, InvalidJson, MissingField
from .strict_json import json_kind, trim


def parse_example(text: str) -> dict:
    """A record's JSON text as an object, as `rapha_task_sdk::parse_example`."""
    try:
        value = strict_json.parse(text)
    except strict_json.NotJson as error:
        raise InvalidJson(f"record: {error}") from error
    if not isinstance(value, dict):
        raise InvalidJson(f"record: expected a JSON object, found {json_kind(value)}")
    return value


def required_str(example: dict, field: str) -> str:
    """A required string field of a record, or the error that names it."""
    if field not in example:
        raise MissingField(f"/{field}")
    value = example[field]
    if not isinstance(value, str):
        raise InvalidField(f"/{field}", f"expected a string, found {json_kind(value)}")
    return value


def note(example: dict) -> str:
    """The clinical note to code: a string with at least one non-space character."""
    text = required_str(example, "note")
    if not trim(text):
        raise InvalidField("/note", "expected a non-empty string, found only whitespace")
    return text


def gold_codes(example: dict) -> list:
    """The gold codes, normalised, in record order, each once (a repeated code keeps its
    first place). Every code must exist in ICD-10-CM: a gold set the model could never
    match exactly is a data error, named by its element. An empty array is a valid record
    (a note that supports no code)."""
    if "codes" not in example:
        raise MissingField("/codes")
    items = example["codes"]
    if not isinstance(items, list):
        raise InvalidField(
            "/codes", f"expected an array of ICD-10-CM code strings, found {json_kind(items)}"
        )
    codes = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidField(f"/codes/{index}", f"expected a string, found {json_kind(item)}")
        normalised = normalise(item)
        if not exists(normalised):
            raise InvalidField(f"/codes/{index}", f"code `{item}` does not exist in ICD-10-CM")
        if normalised not in codes:
            codes.append(normalised)
    return codes
