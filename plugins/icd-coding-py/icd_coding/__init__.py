"""The `icd-coding` task of rapha-host, in Python: a port of `plugins/icd-coding` (Rust).

A record is `{"id", "note", "codes": [..]}`; the model answers with a JSON array of
ICD-10-CM codes, compared with the gold codes as sets after normalisation. Metrics: micro
precision, recall and F1, macro-F1 over the corpus's gold codes, micro F1 at the
3-character category level, exact set match, the rate of codes that do not exist, and JSON
and schema validity. The reward is the record's micro F1. The FY2026 code list is compiled
in (the module `icd_codes_2026`, which `gen_codes.py` writes at build time).

Every function gives the same result as the Rust plugin, to the last bit of every float:
the same JSON acceptance (`strict_json`), the same normal form, the same order of counts
and the same order of summation.

Modules, each the twin of the Rust module of the same name: `codes` (the code list and
normal form), `record` and `prediction` (reading each side), `score` (the metrics and
their corpus values), `format` (the training pair), `info` (the declaration); and for
what the Rust SDK provides: `strict_json` (JSON as serde_json reads it), `metrics`
(ratios and Rust's order of summation) and `errors` (the contract's `task-error` cases). None of them
imports the component bindings, so all run natively under `test.sh`; `app.py` converts.
"""
