"""JSON acceptance as serde_json's. Every expectation here is what the Rust plugin (serde_json
1.0.154) answered for the same text, asked through its `validate` export."""

import unittest

from icd_coding.strict_json import json_kind, parse_prediction_json, trim


def is_json(text):
    return parse_prediction_json(text)[0]


class StrictJsonTest(unittest.TestCase):
    def test_numbers_overflow_where_serde_json_arithmetic_overflows(self):
        for text, accepted in [
            ("1.7976931348623157e308", True),
            # Python's correctly rounded parse gives f64::MAX; serde_json's steps overflow.
            ("1.7976931348623158e308", False),
            ("17976931348623157" + "0" * 292, False),
            ("1" * 309, True),
            ("1e308", True),
            ("1e309", False),
            ("-1e309", False),
            ("10e308", False),
            ("0.1e309", True),
            ("0e99999999999", True),
            ("1e-99999999999", True),
            ("18446744073709551616e290", False),
            ("1844674407370955161.5e300", False),
            ("1e2147483648", False),
            ("0e2147483648", True),
            ("1e-2147483649", True),
            ("1." + "9" * 30 + "e308", False),
            ("0." + "0" * 400 + "1e400", True),
        ]:
            self.assertEqual(is_json(text), accepted, text[:40])

    def test_refuses_what_python_alone_would_accept(self):
        for text in ("NaN", "[Infinity]", "[-Infinity]", "[١]", '["\\ud800"]', '["\\udc00"]', '{"\\ud800": 1}'):
            self.assertFalse(is_json(text), text)
        self.assertTrue(is_json('["\\ud83d\\ude00"]'))

    def test_nesting_stops_at_serde_jsons_recursion_limit(self):
        self.assertTrue(is_json("[" * 127 + "]" * 127))
        self.assertFalse(is_json("[" * 128 + "]" * 128))
        self.assertFalse(is_json('{"a":' * 128 + "1" + "}" * 128))
        self.assertTrue(is_json('["' + "[" * 200 + '"]'), "brackets inside a string do not nest")
        self.assertFalse(is_json("[" * 5000))

    def test_trims_rusts_white_space_and_one_fence(self):
        self.assertEqual(trim("\u00a0x\u3000\u0085"), "x")
        self.assertEqual(trim("\x1cx\u200b"), "\x1cx\u200b")
        self.assertFalse(is_json("\x1c[]"))
        self.assertTrue(is_json("\u00a0[]\u2029"))
        self.assertEqual(parse_prediction_json('```json\n["I10"]\n```'), (True, ["I10"]))
        self.assertEqual(parse_prediction_json("```\ntrue\n```"), (True, True))
        self.assertEqual(parse_prediction_json("``````"), (False, None))
        self.assertEqual(parse_prediction_json("```JSON\n[]\n```"), (False, None))
        self.assertEqual(parse_prediction_json("Here you go: [1]"), (False, None))
        self.assertEqual(parse_prediction_json(""), (False, None))

    def test_names_json_kinds(self):
        self.assertEqual(
            [json_kind(v) for v in (None, True, 1, 1.5, "s", [], {})],
            ["null", "a boolean", "a number", "a number", "a string", "an array", "an object"],
        )


if __name__ == "__main__":
    unittest.main()
