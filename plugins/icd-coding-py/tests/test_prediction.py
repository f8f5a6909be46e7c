"""Reading and validating predictions; the twin of the Rust `prediction` tests."""

import unittest

from icd_coding.prediction import NOT_CODE_LIST, NOT_JSON, parse, validate


class PredictionTest(unittest.TestCase):
    def test_reads_plain_and_fenced_arrays_counting_duplicates_once(self):
        self.assertEqual(parse('["E11.9","I10"]'), {"E119", "I10"})
        self.assertEqual(parse('```json\n["e11.9", "E119", " i10 "]\n```'), {"E119", "I10"})
        self.assertEqual(parse("[]"), frozenset())
        self.assertEqual(parse('["", "U99"]'), {"", "U99"})

    def test_tells_invalid_json_from_the_wrong_shape(self):
        self.assertIs(parse("E11.9, I10"), NOT_JSON)
        self.assertIs(parse('Codes: ["E11.9"]'), NOT_JSON)
        self.assertIs(parse('{"codes": ["E11.9"]}'), NOT_CODE_LIST)
        self.assertIs(parse('["E11.9", 5]'), NOT_CODE_LIST)
        self.assertIs(parse('"E11.9"'), NOT_CODE_LIST)

    def test_validates_and_names_the_first_violation(self):
        self.assertIsNone(validate('["E11.9", "i10", "E11", "S72.001A"]'))
        self.assertIsNone(validate("[]"))
        self.assertEqual(
            validate('["E11.9", "I10", "E11.99", "nope"]'),
            ("/2", "code `E11.99` does not exist in ICD-10-CM"),
        )
        self.assertEqual(validate('["E11.9", null]'), ("/1", "expected a string, found null"))
        self.assertEqual(
            validate('{"codes": []}'),
            ("", "expected a JSON array of ICD-10-CM code strings, found an object"),
        )
        self.assertEqual(
            validate("E11.9"),
            ("", "expected a JSON array of ICD-10-CM code strings, found text that is not JSON"),
        )


if __name__ == "__main__":
    unittest.main()
