"""ICD-10-CM FY2026 codes, compiled in, and the normal form codes are compared in.

The table is the Rust plugin's own `plugins/icd-coding/data/codes-2026.txt` (every code at
every level, normalised, unique, sorted by byte value, one a line), which `gen_codes.py`
turns into the module `icd_codes_2026` at build time. A plugin has no file access, so the
text is part of the component: componentize-py imports this module while it builds, and
the component starts from that snapshot. As in the Rust plugin, lookups binary-search the
text itself rather than build a set: nothing is allocated, and the snapshot holds only the
text.
"""

from icd_codes_2026 import TABLE

from .strict_json import trim

# ASCII letters only, as Rust's `char::to_ascii_uppercase` (`str.upper` maps `ß` to `SS`).
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", ".")


def normalise(code: str) -> str:
    """The form codes are compared in: surrounding Unicode white space trimmed, ASCII
    letters upper-cased, every `.` removed; nothing else changes. So `" e11.9 "` and
    `"E119"` are the same code."""
    return trim(code).translate(_ASCII_UPPER)


def exists(normalised: str) -> bool:
    """Whether a normalised code exists in ICD-10-CM at any level.

    The Rust plugin's search, step for step: the table is ASCII, so a character index is
    a byte index, and Python compares strings by code point, which orders them as Rust
    orders their UTF-8 bytes."""
    # Invariant: `TABLE[low:high]` is a run of whole lines, sorted.
    low, high = 0, len(TABLE)
    while low < high:
        middle = low + (high - low) // 2
        before = TABLE.rfind("\n", low, middle)
        start = low if before < 0 else before + 1
        after = TABLE.find("\n", middle, high)
        end = high if after < 0 else after
        line = TABLE[start:end]
        if line == normalised:
            return True
        if line < normalised:
            low = end + 1
        else:
            high = start
    return False


def category(normalised: str) -> str:
    """The 3-character category of a normalised code: its first three characters, or the
    whole code when it is shorter."""
    return normalised[:3]


def dotted(normalised: str) -> str:
    """The conventional written form of a normalised code: a dot after the category when
    there is more (`E119` → `E11.9`, `I10` → `I10`)."""
    head = category(normalised)
    tail = normalised[len(head):]
    return f"{head}.{tail}" if tail else head
