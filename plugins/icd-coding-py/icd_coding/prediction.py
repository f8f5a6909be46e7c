"""A model's output read as a set of ICD-10-CM codes.

The output must be one JSON array of strings, optionally inside a Markdown code fence
(`strict_json.parse_prediction_json`). Each string is a predicted code after `normalise`;
a code predicted twice counts once. Empty or unknown strings are kept as predicted codes:
they are false positives and count as invalid codes.
"""

from .codes import exists, normalise
from .strict_json import json_kind, parse_prediction_json

NOT_JSON = "not-json"
"""`parse`'s verdict on text that is not JSON at all."""
NOT_CODE_LIST = "not-code-list"
"""`parse`'s verdict on JSON that is not an array of strings."""


def parse(text: str):
    """`NOT_JSON`, `NOT_CODE_LIST`, or the predicted codes as a `frozenset`, normalised."""
    is_json, value = parse_prediction_json(text)
    if not is_json:
        return NOT_JSON
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return NOT_CODE_LIST
    return frozenset(normalise(item) for item in value)


def validate(text: str):
    """The first rule the output breaks, as `(path, reason)`, or None: it must be a JSON
    array of strings, each an ICD-10-CM code (at any level) once normalised."""
    is_json, value = parse_prediction_json(text)
    if not is_json:
        return "", "expected a JSON array of ICD-10-CM code strings, found text that is not JSON"
    if not isinstance(value, list):
        return "", f"expected a JSON array of ICD-10-CM code strings, found {json_kind(value)}"
    for index, item in enumerate(value):
        if not isinstance(item, str):
            return f"/{index}", f"expected a string, found {json_kind(item)}"
        if not exists(normalise(item)):
            return f"/{index}", f"code `{item}` does not exist in ICD-10-CM"
    return None
