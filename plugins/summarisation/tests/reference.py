"""Print the expected values of the summarisation plugin's ROUGE tests.

Computed with Google's `rouge-score` (PyPI, 0.1.2) and NLTK 3.10.4, the reference
implementation the plugin reproduces: `RougeScorer(["rouge1", "rouge2", "rougeL"],
use_stemmer=True).score(reference, prediction)`, F-measures, plus the tokens of
`DefaultTokenizer(use_stemmer=True)`. The printed Rust literals are pasted into
`src/tokenize.rs` (TOKEN_CASES) and `src/score.rs` (ROUGE_CASES, AGGREGATE).

    python3 -m venv .venv && .venv/bin/pip install rouge-score==0.1.2 nltk==3.10.4
    .venv/bin/python plugins/summarisation/tests/reference.py
"""

import json
from importlib.metadata import version

from rouge_score import rouge_scorer, tokenizers

TOKEN_CASES = [
    "The patient's BP was 140/90 mm-Hg; HbA1c 7.2%.",
    "  Dying skies, studies & relational-databases\n",
    "Café naïve résumé — über",
    "İSTANBUL 5 \u212aELVIN",
    "was has his wa ha hi abcd",
    "",
    "... --- !!!",
]

# (reference, prediction)
ROUGE_CASES = [
    ("Admitted with pneumonia, treated with IV antibiotics and discharged home.",
     "Admitted with pneumonia, treated with IV antibiotics and discharged home."),
    ("The patient was admitted with community-acquired pneumonia and treated with IV antibiotics.",
     "Patient admitted for pneumonia; treated with intravenous antibiotics and discharged."),
    ("Studies of dying patients' relational databases",
     "study of the die patient relate database"),
    ("skies innings outings news proceeding generalizations",
     "sky inning outing news proceed general"),
    ("BP 140/90, HR 88 bpm, SpO2 97% on 2L.",
     "BP was 140/90 with HR 88 and SpO2 of 97 % on 2 L"),
    ("the cat the cat the cat",
     "the the the the cat"),
    ("Stable for discharge.", ""),
    ("Stable.", "!!!"),
    ("Stable", "stable condition"),
    ("\u0130leus and \u212aelvin-scale caf\u00e9", "ileus kelvin cafe"),
    ("hypertension diabetes", "fracture of femur"),
    ("was has dies lies", "wa ha die lie"),
    ("72-year-old man with type 2 diabetes mellitus and hypertension presented with 2 days of "
     "crushing chest pain; ECG showed ST elevation in leads II, III and aVF. He underwent "
     "primary PCI to the RCA and was discharged on aspirin, ticagrelor, atorvastatin and ramipril.",
     "A 72 year old diabetic, hypertensive man had chest pain for two days with inferior ST "
     "elevation; the RCA was stented (primary PCI). Discharge medications: aspirin, ticagrelor, "
     "atorvastatin, ramipril."),
    ("HbA1c 7.2% (previously 8.1%)", "hba1c improved from 8.1 to 7.2"),
    ("a b c d e f", "f e d c b a"),
    ("Generally hopeful; conditional relationally operational hospitalizations",
     "general hope condition relation operation hospitalization"),
]

# Records of the aggregate test: indices into ROUGE_CASES, in dataset order.
AGGREGATE = [1, 2, 4, 6, 12]


def rust_str(text):
    """A Rust string literal: JSON escapes, with non-ASCII as `\\u{..}`."""
    body = json.dumps(text, ensure_ascii=False)[1:-1]
    return '"' + "".join(c if ord(c) < 128 else f"\\u{{{ord(c):x}}}" for c in body) + '"'


def main():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    tokenizer = tokenizers.DefaultTokenizer(use_stemmer=True)
    print(f"// rouge-score {version('rouge-score')}, nltk {version('nltk')}")
    print("TOKEN_CASES")
    for text in TOKEN_CASES:
        tokens = ", ".join(rust_str(t) for t in tokenizer.tokenize(text))
        print(f"({rust_str(text)}, &[{tokens}]),")
    print("ROUGE_CASES: (reference, prediction, rouge1, rouge2, rougeL, prediction tokens, reference tokens)")
    rows = []
    for reference, prediction in ROUGE_CASES:
        s = scorer.score(reference, prediction)
        n_pred = len(tokenizer.tokenize(prediction))
        n_ref = len(tokenizer.tokenize(reference))
        rows.append((s["rouge1"].fmeasure, s["rouge2"].fmeasure, s["rougeL"].fmeasure, n_pred, n_ref))
        print(f"({rust_str(reference)}, {rust_str(prediction)}, "
              f"{float(s['rouge1'].fmeasure)!r}, {float(s['rouge2'].fmeasure)!r}, "
              f"{float(s['rougeL'].fmeasure)!r}, {n_pred}, {n_ref}),")
    print("AGGREGATE: mean rouge1, rouge2, rougeL summed in order; pooled length ratio")
    picked = [rows[i] for i in AGGREGATE]
    means = []
    for column in range(3):
        total = 0.0
        for row in picked:
            total += row[column]
        means.append(total / len(picked))
    ratio = sum(r[3] for r in picked) / sum(r[4] for r in picked)
    print(", ".join(repr(float(v)) for v in means + [ratio]))


if __name__ == "__main__":
    main()
