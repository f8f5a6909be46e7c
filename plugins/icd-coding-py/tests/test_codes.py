"""The code list, its search and the normal form; the twin of the Rust `codes` tests."""

import re
import unittest

from icd_codes_2026 import TABLE

from icd_coding.codes import category, dotted, exists, normalise


class CodesTest(unittest.TestCase):
    def test_embedded_table_is_sorted_unique_and_normalised(self):
        codes = TABLE.splitlines()
        # `wc -l plugins/icd-coding/data/codes-2026.txt`.
        self.assertEqual(len(codes), 98_186)
        self.assertTrue(all(a < b for a, b in zip(codes, codes[1:])), "sorted, no duplicates")
        well_formed = re.compile(r"[A-Z][A-Z0-9]{2,6}")
        for code in codes:
            self.assertTrue(well_formed.fullmatch(code), code)

    def test_binary_search_finds_every_code_and_nothing_else(self):
        """Every line is found, and so is nothing between two lines: each code with a
        character appended, or with its last character dropped when that is not a code."""
        codes = frozenset(TABLE.splitlines())
        for code in codes:
            self.assertTrue(exists(code), code)
        # Every 7th code for the neighbours, to stay within seconds.
        for code in sorted(codes)[::7]:
            for suffix in ("0", "Z", "~", " "):
                self.assertEqual(exists(code + suffix), code + suffix in codes, code + suffix)
            self.assertEqual(exists(code[:-1]), code[:-1] in codes, code[:-1])
        for code in ("", "\n", "A", "0", "~", "ZZZZZZZZ", "A00\nA000"):
            self.assertFalse(exists(code), repr(code))

    def test_finds_codes_at_every_level_and_nothing_else(self):
        for code in ("E11", "E116", "E1165", "E119", "I10", "A000", "S72001A", "QA00101", "Z9989"):
            self.assertTrue(exists(code), code)
        for code in ("A00-A09", "1", "E11.9", "e119", "E1199", "U99", "E1", "", "I1O"):
            self.assertFalse(exists(code), code)

    def test_normalises_trims_upper_cases_and_drops_dots(self):
        self.assertEqual(normalise(" e11.9\n"), "E119")
        self.assertEqual(normalise("S72.001a"), "S72001A")
        self.assertEqual(normalise("I.1.0"), "I10")
        self.assertEqual(normalise("é11"), "é11")
        self.assertEqual(normalise("E11 9"), "E11 9")
        # Only ASCII letters change case, as Rust's `to_ascii_uppercase`.
        self.assertEqual(normalise("ßi10"), "ßI10")
        # Rust's `trim` removes U+00A0 and U+3000 but not U+001C, unlike `str.strip`.
        self.assertEqual(normalise("\u00a0i10\u3000"), "I10")
        self.assertEqual(normalise("\x1ci10"), "\x1cI10")

    def test_splits_categories_and_writes_the_dot(self):
        self.assertEqual(category("E119"), "E11")
        self.assertEqual(category("I10"), "I10")
        self.assertEqual(category("E1"), "E1")
        self.assertEqual(category("éé11"), "éé1")
        self.assertEqual(dotted("E119"), "E11.9")
        self.assertEqual(dotted("S72001A"), "S72.001A")
        self.assertEqual(dotted("I10"), "I10")


if __name__ == "__main__":
    unittest.main()
