"""Per-record metrics and corpus values; the twin of the Rust `score` tests, with the same
hand computations."""

import json
import unittest
from types import SimpleNamespace

from icd_coding.errors import InvalidField, Other
from icd_coding.metrics import f1, precision, recall, rust_sum
from icd_coding.record import parse_example
from icd_coding.score import aggregate, reward, score


def example(gold):
    return parse_example(json.dumps({"id": "r", "note": "note", "codes": gold}))


def as_score(counts):
    """An `example-score` as the bindings hand it over: `counts` of objects."""
    return SimpleNamespace(metrics=[], counts=[SimpleNamespace(key=k, value=v) for k, v in counts])


def corpus():
    """The five records of the corpus tests, each with its hand computation."""
    return [
        # A: G = {E119, I10, N183}, P = {E1165, I10, N1830}: tp 1 (I10), fp 2, fn 2;
        #    P = R = 1/3, F1 = 2/(2+4) = 1/3. Categories {E11, I10, N18} both: F1 = 1.
        (example(["E11.9", "I10", "N18.3"]), '["E11.65","I10","N18.30"]'),
        # B: G = {J189}, P = {J189, E1199} (duplicate J18.9 counted once, E11.99 does not
        #    exist): tp 1, fp 1, fn 0; P = 1/2, R = 1, F1 = 2/3; invalid 1/2.
        #    Categories {J18} vs {J18, E11}: F1 = 2/3.
        (example(["J18.9"]), '```json\n["j18.9", "J18.9", "E11.99"]\n```'),
        # C: not JSON: P = ∅, fn 1, every F1 0, json_valid 0.
        (example(["I10"]), "I10"),
        # D: G = P = ∅: F1 = 1 by convention, P = R = 0, exact match.
        (example([]), "[]"),
        # E: G = P = {E119, I10} in another order and notation: exact match.
        (example(["E11.9", "I10"]), '["i10", "E119"]'),
    ]


NAMES = [
    "micro_precision", "micro_recall", "micro_f1", "category_f1",
    "exact_match", "invalid_code_rate", "json_valid", "schema_valid",
]


class ScoreTest(unittest.TestCase):
    def test_scores_each_record_as_computed_by_hand(self):
        expected = [
            [1 / 3, 1 / 3, 1 / 3, 1.0, 0.0, 0.0, 1.0, 1.0],
            [0.5, 1.0, 2 / 3, 2 / 3, 0.0, 0.5, 1.0, 1.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0],
            [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        ]
        for index, ((record, prediction), values) in enumerate(zip(corpus(), expected)):
            metrics = dict(score(prediction, record)[0])
            for name, value in zip(NAMES, values):
                self.assertAlmostEqual(metrics[name], value, delta=1e-12, msg=f"record {index}, {name}")
            self.assertEqual(reward(prediction, record), values[2], f"reward of record {index}")

    def test_metrics_and_counts_come_in_the_rust_plugins_order(self):
        record, prediction = corpus()[0]
        metrics, counts = score(prediction, record)
        self.assertEqual([name for name, _ in metrics], NAMES)
        self.assertEqual(
            [key for key, _ in counts],
            [
                "json_valid", "schema_valid", "exact_match", "tp", "fp", "fn",
                "category/tp", "category/fp", "category/fn", "predicted_codes", "invalid_codes",
                "code/E1165/fp", "code/E119/fn", "code/I10/tp", "code/N183/fn", "code/N1830/fp",
            ],
        )

    def test_counts_each_existing_code_once_per_record(self):
        record, prediction = corpus()[1]
        keys = [key for key, _ in score(prediction, record)[1]]
        self.assertIn("code/J189/tp", keys)
        self.assertFalse(any("E1199" in key for key in keys), keys)

    def test_aggregates_micro_from_pooled_counts_and_macro_over_gold_codes(self):
        """Pooled over A–E: tp 4, fp 3, fn 3, so micro P = R = F1 = 4/7, below the mean of
        per-record F1s 0.6. Macro over E119 (2/3), I10 (4/5), J189 (1), N183 (0): 37/60.
        Categories: tp 6, fp 1, fn 1: 6/7. Exact 2/5; JSON- and schema-valid 4/5; invalid 1/7."""
        scores = [score(prediction, record) for record, prediction in corpus()]
        metrics = aggregate([as_score(counts) for _, counts in scores])
        expected = [
            ("micro_precision", 4 / 7), ("micro_recall", 4 / 7), ("micro_f1", 4 / 7),
            ("macro_f1", 37 / 60), ("category_f1", 6 / 7), ("exact_match", 0.4),
            ("invalid_code_rate", 1 / 7), ("json_valid", 0.8), ("schema_valid", 0.8),
        ]
        self.assertEqual([name for name, _ in metrics], [name for name, _ in expected])
        for (name, got), (_, value) in zip(metrics, expected):
            self.assertAlmostEqual(got, value, delta=1e-12, msg=name)

    def test_macro_f1_without_gold_codes_follows_the_empty_set_convention(self):
        nothing = [as_score(score("[]", example([]))[1])]
        self.assertEqual(dict(aggregate(nothing))["macro_f1"], 1.0)
        invented = [as_score(score('["I10"]', example([]))[1])]
        self.assertEqual(dict(aggregate(invented))["macro_f1"], 0.0)
        self.assertEqual(reward("no codes", example([])), 0.0)

    def test_an_empty_prediction_finds_nothing(self):
        for prediction, valid in (("[]", 1.0), ("", 0.0)):
            metrics, counts = score(prediction, example(["I10"]))
            metrics = dict(metrics)
            for name, value in [
                ("micro_precision", 0.0), ("micro_recall", 0.0), ("micro_f1", 0.0),
                ("exact_match", 0.0), ("invalid_code_rate", 0.0),
                ("json_valid", valid), ("schema_valid", valid),
            ]:
                self.assertEqual(metrics[name], value, f"{name} of {prediction!r}")
            self.assertEqual(dict(counts)["fn"], 1.0)

    def test_an_empty_corpus_has_no_metrics(self):
        self.assertEqual(aggregate([]), [])

    def test_sums_as_rust_does(self):
        """Rust's `f64` sum starts from -0.0 and adds in order (no compensation): a record
        without counts gives -0.0 where the Rust plugin does."""
        self.assertEqual(str(rust_sum([])), "-0.0")
        self.assertEqual(rust_sum([1e16, 1.0, -1e16]), 0.0)
        self.assertEqual(str(dict(aggregate([as_score([])]))["exact_match"]), "-0.0")
        # Pooled per key, in record order, other keys ignored.
        pooled = aggregate([as_score([("tp", 1.0), ("fp", 9.0)]), as_score([("tp", 2.5), ("fn", 0.5)])])
        self.assertEqual(dict(pooled)["micro_recall"], 3.5 / 4.0)

    def test_ratio_conventions(self):
        self.assertEqual((precision(0.0, 0.0), recall(0.0, 0.0), f1(0.0, 0.0, 0.0)), (0.0, 0.0, 1.0))
        self.assertEqual(f1(0.0, 2.0, 0.0), 0.0)
        p, r = precision(3.0, 1.0), recall(3.0, 2.0)
        self.assertAlmostEqual(f1(3.0, 1.0, 2.0), 2 * p * r / (p + r), delta=1e-15)

    def test_refuses_a_malformed_per_code_count(self):
        for key in ("code/I10/tn", "code/I10"):
            with self.assertRaises(Other) as caught:
                aggregate([as_score([(key, 1.0)])])
            self.assertIn(f"`{key}`", caught.exception.message)

    def test_refuses_a_record_with_an_unknown_gold_code(self):
        with self.assertRaises(InvalidField) as caught:
            score("[]", example(["I10", "E11.99"]))
        self.assertEqual(caught.exception.field, "/codes/1")


if __name__ == "__main__":
    unittest.main()
