"""Native tests of `task.py` (`python3 -m unittest`): no toolchain, no component."""

import json
import unittest
from pathlib import Path

import task

DATA = Path(__file__).resolve().parent.parent / "data"


def records() -> list[str]:
    return (DATA / "val.jsonl").read_text(encoding="utf-8").splitlines()


class FormatTest(unittest.TestCase):
    def test_the_target_is_the_records_label_as_json(self):
        for line in records():
            parsed = task.parse_record(line)
            self.assertEqual(json.loads(task.target(parsed)), {"label": json.loads(line)["label"]})

    def test_a_record_without_a_label_names_the_field(self):
        with self.assertRaises(task.RecordError) as raised:
            task.parse_record('{"id": "x", "note": "text"}')
        self.assertEqual((raised.exception.field, raised.exception.reason), ("/label", "missing"))

    def test_a_record_that_is_not_json_is_refused(self):
        with self.assertRaises(task.RecordError) as raised:
            task.parse_record("note: text")
        self.assertEqual(raised.exception.field, "")


class ScoreTest(unittest.TestCase):
    record = task.Record(note="Chest pain.", label="urgent")

    def exact_match(self, prediction: str) -> float:
        return dict(task.score(prediction, self.record))["exact_match"]

    def test_every_metric_is_scored_in_order(self):
        names = [name for name, _ in task.score(task.target(self.record), self.record)]
        self.assertEqual(names, [metric.name for metric in task.METRICS])

    def test_exact_match(self):
        self.assertEqual(self.exact_match(task.target(self.record)), 1.0)
        self.assertEqual(self.exact_match('{"label": "routine"}'), 0.0)
        self.assertEqual(self.exact_match("urgent"), 0.0)

    def test_the_target_earns_a_perfect_reward_and_passes_validate(self):
        self.assertEqual(task.reward(task.target(self.record), self.record), 1.0)
        self.assertIsNone(task.violation(task.target(self.record)))
        self.assertEqual(task.violation("[]")[0], "")

    def test_aggregate_is_each_metrics_mean(self):
        scores = [dict(task.score(p, self.record)) for p in (task.target(self.record), "no")]
        self.assertEqual(dict(task.aggregate(scores))["exact_match"], 0.5)
        self.assertEqual(dict(task.aggregate([]))["exact_match"], 0.0)


if __name__ == "__main__":
    unittest.main()
