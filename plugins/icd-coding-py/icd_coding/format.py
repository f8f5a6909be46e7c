"""An ICD coding record as a training pair: the system prompt and the note as messages,
and the gold codes as a compact JSON array as the completion."""

import json

from . import record
from .codes import dotted
from .strict_json import trim

SYSTEM_PROMPT = (
    "You are a clinical coder. Read the clinical note you are given and list the "
    "ICD-10-CM codes of the diagnoses it documents, each at the most specific level the "
    "note supports. Answer with a JSON array of code strings and nothing else, for "
    'example ["E11.9","I10"]; answer [] when no code applies.'
)
"""The system prompt used when a recipe sets none."""


def format_example(example: dict):
    """`(system, user, completion)`: the system message is `SYSTEM_PROMPT`, and the
    completion is the gold codes in record order, each once, in their dotted upper-case
    form, as a JSON array without spaces (`["E11.9","I10"]`), so the model learns one
    canonical notation whatever the dataset's spelling. Every code is in the table, so
    ASCII letters, digits and dots: `json.dumps` writes them as serde_json does."""
    note = record.note(example)
    codes = [dotted(code) for code in record.gold_codes(example)]
    completion = json.dumps(codes, separators=(",", ":"))
    user = f"Assign the ICD-10-CM codes for this clinical note.\n\nNote:\n{trim(note)}"
    return SYSTEM_PROMPT, user, completion
