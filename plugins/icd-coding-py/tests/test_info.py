"""The declaration."""

import json
import re
import unittest

from icd_coding import info
from icd_coding.score import aggregate, score
from icd_coding.record import parse_example


class InfoTest(unittest.TestCase):
    def test_declares_valid_metric_names_and_an_array_schema(self):
        self.assertEqual(info.ID, "icd-coding-py")
        for name, _, _ in info.METRICS:
            self.assertTrue(re.fullmatch(r"[a-z0-9_-]{1,48}", name), name)
        schema = json.loads(info.OUTPUT_SCHEMA)
        self.assertEqual(schema["$schema"], "https://json-schema.org/draft/2020-12/schema")
        self.assertEqual(schema["type"], "array")
        self.assertEqual(schema["items"]["type"], "string")

    def test_declares_every_metric_score_and_aggregate_return(self):
        declared = [name for name, _, _ in info.METRICS]
        example = parse_example('{"note": "n", "codes": ["I10"]}')
        metrics, counts = score('["I10"]', example)

        class Score:
            def __init__(self, counts):
                self.counts = [type("Count", (), {"key": k, "value": v})() for k, v in counts]

        returned = [name for name, _ in metrics] + [name for name, _ in aggregate([Score(counts)])]
        self.assertLessEqual(set(returned), set(declared))
        self.assertEqual([name for name, _ in aggregate([Score(counts)])], declared)


if __name__ == "__main__":
    unittest.main()
