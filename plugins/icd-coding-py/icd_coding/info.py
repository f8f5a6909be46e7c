"""What the plugin declares about itself: metrics, output schema, hints.

Everything but the id, version and description is the Rust plugin's declaration, word for
word, so that the two are interchangeable in a recipe."""

from .format import SYSTEM_PROMPT
from .score import (
    CATEGORY_F1,
    EXACT_MATCH,
    INVALID_CODE_RATE,
    JSON_VALID,
    MACRO_F1,
    MICRO_F1,
    MICRO_PRECISION,
    MICRO_RECALL,
    SCHEMA_VALID,
)

ID = "icd-coding-py"
VERSION = "0.1.0"
DESCRIPTION = (
    "Assign ICD-10-CM (FY2026) codes to a clinical note; set-based precision, recall and "
    "F1 (the Python port of icd-coding)."
)

# A JSON array of strings. Whether each string is a code is a task rule (`validate`),
# since codes are matched after normalisation.
OUTPUT_SCHEMA = r"""{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "ICD-10-CM codes",
  "description": "The ICD-10-CM codes the note supports, e.g. [\"E11.9\",\"I10\"]; [] when none. Codes are compared after trimming, upper-casing and removing the dot; a repeated code counts once.",
  "type": "array",
  "items": { "type": "string" }
}"""

# (name, higher is better, description), in the Rust plugin's order.
METRICS = [
    (MICRO_PRECISION, True, "Correct codes / predicted codes, counts pooled over records (micro)."),
    (MICRO_RECALL, True, "Correct codes / gold codes, counts pooled over records (micro)."),
    (
        MICRO_F1,
        True,
        "2tp / (2tp + fp + fn) over code sets, counts pooled over records (micro); per "
        "record 0 when the output is not a JSON array of strings.",
    ),
    (
        MACRO_F1,
        True,
        "Corpus only: mean over the codes in any gold set of each code's F1 from its pooled "
        "counts.",
    ),
    (
        CATEGORY_F1,
        True,
        "Micro F1 over sets of 3-character categories (e.g. E11), counts pooled over records.",
    ),
    (EXACT_MATCH, True, "Share of records whose predicted code set equals the gold set."),
    (
        INVALID_CODE_RATE,
        False,
        "Predicted codes that exist at no level of ICD-10-CM / predicted codes, counts pooled "
        "over records.",
    ),
    (
        JSON_VALID,
        True,
        "Share of records whose output parses as JSON (a Markdown code fence allowed).",
    ),
    (SCHEMA_VALID, True, "Share of records whose output is a JSON array of strings."),
]

MAX_NEW_TOKENS = 128
STOP = ["\n\n"]
