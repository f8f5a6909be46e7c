"""Write `codes-2026.txt`, the ICD-10-CM code list the plugin compiles in.

Input: the shared FY2026 table (`code`, `parent`, `leaf`, `description`; a header
line), from the CMS/NCHS tabular list as shipped in PyPI `simple-icd-10-cm` 1.5.0.
Output: one code a line, every level (3-character categories, subcategories and
billable codes alike), normalised as the plugin compares codes: surrounding
whitespace trimmed, ASCII letters upper-cased, dots removed; duplicates dropped;
sorted by byte value so that the plugin can binary-search it. Chapter rows (a
number such as `1`) and block rows (a range such as `A00-A09`) are left out:
they are headings of the classification, not codes.

    python3 plugins/icd-coding/data/codes.py ../shared/data/icd10cm/codes-2026.tsv \
        > plugins/icd-coding/data/codes-2026.txt
"""

import sys


def main():
    codes = set()
    with open(sys.argv[1], encoding="utf-8") as table:
        header = next(table).rstrip("\n").split("\t")
        assert header[0] == "code", header
        for line in table:
            code = line.split("\t", 1)[0].strip()
            if code.isdigit() or "-" in code:
                continue
            codes.add(code.upper().replace(".", ""))
    for code in sorted(codes, key=lambda c: c.encode("ascii")):
        print(code)


if __name__ == "__main__":
    main()
