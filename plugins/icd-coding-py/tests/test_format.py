"""The training pair; the twin of the Rust `format` tests."""

import unittest

from icd_coding.errors import MissingField
from icd_coding.format import SYSTEM_PROMPT, format_example
from icd_coding.prediction import validate
from icd_coding.record import parse_example
from icd_coding.score import score


class FormatTest(unittest.TestCase):
    def test_completion_is_the_canonical_compact_code_array(self):
        example = parse_example(
            '{"id": "c1", "note": " T2DM, HTN.\\n", "codes": ["e11.9", "I10", "E119", "s72.001a"]}'
        )
        system, user, completion = format_example(example)
        self.assertEqual(completion, '["E11.9","I10","S72.001A"]')
        self.assertEqual(system, SYSTEM_PROMPT)
        self.assertEqual(user, "Assign the ICD-10-CM codes for this clinical note.\n\nNote:\nT2DM, HTN.")

    def test_completion_validates_and_scores_perfectly(self):
        """The WIT contract: the completion is a perfect prediction for its record."""
        for codes in ('["I10", "E11.9"]', "[]"):
            example = parse_example(f'{{"note": "n", "codes": {codes}}}')
            completion = format_example(example)[2]
            self.assertIsNone(validate(completion), completion)
            metrics = dict(score(completion, example)[0])
            for name in ("micro_f1", "exact_match", "category_f1", "schema_valid"):
                self.assertEqual(metrics[name], 1.0, f"{name} of {completion}")

    def test_refuses_a_record_without_codes(self):
        with self.assertRaises(MissingField) as caught:
            format_example(parse_example('{"id": "c1", "note": "n"}'))
        self.assertEqual(caught.exception.field, "/codes")


if __name__ == "__main__":
    unittest.main()
