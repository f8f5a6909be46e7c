"""Per-record metrics of a code list and their corpus values.

Codes are compared in normal form (`codes.normalise`) as sets: a code predicted or
listed twice counts once. An output that is not a JSON array of strings predicts the
empty set. For one record, with G the gold set and P the predicted set: tp = |G ∩ P|,
fp = |P \\ G|, fn = |G \\ P|.

Per record (`metrics` of `score`):
- `micro_precision` = tp / (tp + fp), 0 when nothing is predicted;
- `micro_recall` = tp / (tp + fn), 0 when G is empty;
- `micro_f1` = 2·tp / (2·tp + fp + fn), 1 when G and P are both empty, and 0 whenever the
  output is not a JSON array of strings (also the reward);
- `category_f1`: the same F1 over the sets of 3-character categories of G and of P (every
  predicted string, valid or not, truncated to 3 characters); 0 when the output is not an
  array of strings;
- `exact_match`: 1 when the output is an array of strings and P = G, else 0;
- `invalid_code_rate`: codes of P that exist at no level of ICD-10-CM / |P|, 0 when P is
  empty;
- `json_valid`: 1 when the output parses as JSON (a code fence allowed);
- `schema_valid`: 1 when it is a JSON array of strings.

Over a corpus, from the counts each record returns (integers, so sums are exact): micro
precision, recall and F1 and category F1 from the pooled tp, fp, fn; `invalid_code_rate`
= Σ invalid / Σ |P| (0 when nothing was predicted); `exact_match`, `json_valid` and
`schema_valid` as the fraction of records. `macro_f1` = the mean, over every code that
occurs in some record's gold set, of that code's F1 from its pooled tp, fp and fn (counts
`code/<code>/tp|fp|fn`), summed in ascending order of the normalised code; when no record
has a gold code it is 1 if no existing code was predicted and 0 otherwise. Only existing
codes get per-code counts. An empty corpus has no metrics.

Metrics and counts come in the Rust plugin's order, and every sum adds in its order.
"""

from . import prediction, record
from .codes import category, exists
from .errors import Other
from .metrics import f1, precision, recall, rust_sum

MICRO_PRECISION = "micro_precision"
MICRO_RECALL = "micro_recall"
MICRO_F1 = "micro_f1"
MACRO_F1 = "macro_f1"
CATEGORY_F1 = "category_f1"
EXACT_MATCH = "exact_match"
INVALID_CODE_RATE = "invalid_code_rate"
JSON_VALID = "json_valid"
SCHEMA_VALID = "schema_valid"

TP = "tp"
FP = "fp"
FN = "fn"
CATEGORY_TP = "category/tp"
CATEGORY_FP = "category/fp"
CATEGORY_FN = "category/fn"
PREDICTED_CODES = "predicted_codes"
INVALID_CODES = "invalid_codes"
CODE_PREFIX = "code/"


def _confusion(gold: frozenset, predicted: frozenset):
    """(tp, fp, fn) of one comparison of sets, as floats."""
    tp = len(gold & predicted)
    return float(tp), float(len(predicted) - tp), float(len(gold) - tp)


def _categories(codes: frozenset) -> frozenset:
    return frozenset(category(code) for code in codes)


def _indicator(condition: bool) -> float:
    return 1.0 if condition else 0.0


def score(prediction_text: str, example: dict):
    """Score a model's output (raw text) against the record's gold codes: the metrics and
    the counts, each a list of `(name, value)` in the Rust plugin's order."""
    gold = frozenset(record.gold_codes(example))
    parsed = prediction.parse(prediction_text)
    json_valid = parsed is not prediction.NOT_JSON
    well_formed = isinstance(parsed, frozenset)
    predicted = parsed if well_formed else frozenset()
    tp, fp, fn = _confusion(gold, predicted)
    category_tp, category_fp, category_fn = _confusion(_categories(gold), _categories(predicted))
    invalid = float(sum(1 for code in predicted if not exists(code)))
    predicted_count = float(len(predicted))
    exact = well_formed and predicted == gold

    metrics = [
        (MICRO_PRECISION, precision(tp, fp)),
        (MICRO_RECALL, recall(tp, fn)),
        (MICRO_F1, f1(tp, fp, fn) if well_formed else 0.0),
        (CATEGORY_F1, f1(category_tp, category_fp, category_fn) if well_formed else 0.0),
        (EXACT_MATCH, _indicator(exact)),
        (INVALID_CODE_RATE, invalid / predicted_count if predicted else 0.0),
        (JSON_VALID, _indicator(json_valid)),
        (SCHEMA_VALID, _indicator(well_formed)),
    ]
    counts = [
        (JSON_VALID, _indicator(json_valid)),
        (SCHEMA_VALID, _indicator(well_formed)),
        (EXACT_MATCH, _indicator(exact)),
        (TP, tp),
        (FP, fp),
        (FN, fn),
        (CATEGORY_TP, category_tp),
        (CATEGORY_FP, category_fp),
        (CATEGORY_FN, category_fn),
        (PREDICTED_CODES, predicted_count),
        (INVALID_CODES, invalid),
    ]
    # Python orders strings by code point, as Rust's `BTreeSet<String>` by UTF-8 bytes.
    for code in sorted(gold | predicted):
        if code in gold:
            kind = TP if code in predicted else FN
        elif exists(code):
            kind = FP
        else:
            continue
        counts.append((f"{CODE_PREFIX}{code}/{kind}", 1.0))
    return metrics, counts


def reward(prediction_text: str, example: dict) -> float:
    """The reward: the record's `micro_f1` (0 when the output is not a JSON array of
    strings), in [0, 1]."""
    metrics, _ = score(prediction_text, example)
    return dict(metrics)[MICRO_F1]


def aggregate(scores) -> list:
    """Corpus metrics from per-record scores, in dataset order, as `(name, value)`.

    `scores` are the contract's `example-score` records: anything with `counts`, each with
    `key` and `value`. One pass over the counts pools every total: each total still adds
    its values in dataset order, from -0.0, as the Rust plugin's `sum_count` does, so the
    sums are the same bits as nine separate passes (an interpreter pays per pass)."""
    if not scores:
        return []
    records = float(len(scores))
    totals = dict.fromkeys(_POOLED, -0.0)
    per_code = {}
    for score_ in scores:
        for count in score_.counts:
            key = count.key
            if key in totals:
                totals[key] += count.value
            elif key.startswith(CODE_PREFIX):
                _add_code_count(per_code, key, count.value)
    tp, fp, fn = totals[TP], totals[FP], totals[FN]
    predicted = totals[PREDICTED_CODES]
    return [
        (MICRO_PRECISION, precision(tp, fp)),
        (MICRO_RECALL, recall(tp, fn)),
        (MICRO_F1, f1(tp, fp, fn)),
        (MACRO_F1, _macro_f1(per_code)),
        (CATEGORY_F1, f1(totals[CATEGORY_TP], totals[CATEGORY_FP], totals[CATEGORY_FN])),
        (EXACT_MATCH, totals[EXACT_MATCH] / records),
        (INVALID_CODE_RATE, 0.0 if predicted == 0.0 else totals[INVALID_CODES] / predicted),
        (JSON_VALID, totals[JSON_VALID] / records),
        (SCHEMA_VALID, totals[SCHEMA_VALID] / records),
    ]


# The counts `aggregate` pools over the corpus.
_POOLED = (
    JSON_VALID, SCHEMA_VALID, EXACT_MATCH, TP, FP, FN,
    CATEGORY_TP, CATEGORY_FP, CATEGORY_FN, PREDICTED_CODES, INVALID_CODES,
)
_KINDS = (TP, FP, FN)


def _add_code_count(per_code: dict, key: str, value: float) -> None:
    """Add a `code/<code>/tp|fp|fn` count to its code's `[tp, fp, fn]`, in record order."""
    code, slash, kind = key[len(CODE_PREFIX):].rpartition("/")
    if not slash or kind not in _KINDS:
        raise Other(f"aggregate: count `{key}`: expected `code/<code>/tp|fp|fn`")
    per_code.setdefault(code, [0.0, 0.0, 0.0])[_KINDS.index(kind)] += value


def _macro_f1(per_code: dict) -> float:
    """Macro-F1 over the codes of the corpus's gold sets, from the per-code counts."""
    # Rust's `BTreeMap<&str, _>` walks its codes in byte order: code point order here.
    confusions = [per_code[code] for code in sorted(per_code)]
    gold_codes = [c for c in confusions if c[0] + c[2] > 0.0]
    if not gold_codes:
        return f1(0.0, rust_sum(c[1] for c in confusions), 0.0)
    total = 0.0
    for tp, fp, fn in gold_codes:
        total += f1(tp, fp, fn)
    return total / float(len(gold_codes))
