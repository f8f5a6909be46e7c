"""Reading records; the twin of the Rust `record` tests."""

import unittest

from icd_coding.errors import InvalidField, InvalidJson, MissingField
from icd_coding.record import gold_codes, note, parse_example


def codes_of(text):
    try:
        return gold_codes(parse_example(text))
    except MissingField as error:
        return error.field, "missing"
    except InvalidField as error:
        return error.field, error.reason


class RecordTest(unittest.TestCase):
    def test_normalises_and_deduplicates_gold_codes_in_order(self):
        self.assertEqual(codes_of('{"codes": ["i10", " E11.9", "I10", "E119"]}'), ["I10", "E119"])
        self.assertEqual(codes_of('{"codes": []}'), [])

    def test_names_the_unusable_gold_field(self):
        self.assertEqual(codes_of('{"note": "x"}'), ("/codes", "missing"))
        self.assertEqual(
            codes_of('{"codes": "E11.9"}'),
            ("/codes", "expected an array of ICD-10-CM code strings, found a string"),
        )
        self.assertEqual(
            codes_of('{"codes": ["E11.9", 250.0]}'), ("/codes/1", "expected a string, found a number")
        )
        self.assertEqual(
            codes_of('{"codes": ["E11.9", "I10", "E11.99"]}'),
            ("/codes/2", "code `E11.99` does not exist in ICD-10-CM"),
        )
        with self.assertRaises(InvalidField) as caught:
            note(parse_example('{"note": " \\n", "codes": []}'))
        self.assertEqual(caught.exception.field, "/note")
        with self.assertRaises(InvalidField) as caught:
            note(parse_example('{"note": 3}'))
        self.assertEqual(caught.exception.reason, "expected a string, found a number")

    def test_a_record_must_be_a_json_object(self):
        with self.assertRaises(InvalidJson) as caught:
            parse_example("[1]")
        self.assertEqual(caught.exception.message, "record: expected a JSON object, found an array")
        with self.assertRaises(InvalidJson):
            parse_example("{")


if __name__ == "__main__":
    unittest.main()
