//! The tokenizer of `rouge-score` (`rouge_score/tokenize.py`, version 0.1.2) with
//! `use_stemmer=True`, which reproduces ROUGE-1.5.5's `-m` preprocessing.
//!
//! The text is lowercased (Unicode lowercase, as Python's `str.lower`), every run
//! of characters outside `[a-z0-9]` becomes a separator, and each remaining run
//! is a token. Tokens longer than 3 characters are stemmed with NLTK's Porter
//! stemmer ([`crate::porter`]); shorter ones are kept as they are. Non-ASCII
//! letters are separators, except the two whose lowercase is ASCII: `İ` (U+0130,
//! lowercase `i` plus a combining dot) and the Kelvin sign `K` (U+212A, lowercase
//! `k`).

use crate::porter;

/// The ROUGE tokens of `text`, stemmed.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for letter in text.chars().flat_map(char::to_lowercase) {
        if letter.is_ascii_lowercase() || letter.is_ascii_digit() {
            current.push(letter);
        } else if !current.is_empty() {
            tokens.push(finish(std::mem::take(&mut current)));
        }
    }
    if !current.is_empty() {
        tokens.push(finish(current));
    }
    tokens
}

fn finish(token: String) -> String {
    if token.len() > 3 {
        porter::stem(&token)
    } else {
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected tokens printed by `tests/reference.py` with rouge-score 0.1.2 and
    /// nltk 3.10.4 (`tokenizers.DefaultTokenizer(use_stemmer=True).tokenize`).
    const TOKEN_CASES: &[(&str, &[&str])] = &[
        (
            "The patient's BP was 140/90 mm-Hg; HbA1c 7.2%.",
            &[
                "the", "patient", "s", "bp", "was", "140", "90", "mm", "hg", "hba1c", "7", "2",
            ],
        ),
        (
            "  Dying skies, studies & relational-databases\n",
            &["die", "sky", "studi", "relat", "databas"],
        ),
        (
            "Caf\u{e9} na\u{ef}ve r\u{e9}sum\u{e9} \u{2014} \u{fc}ber",
            &["caf", "na", "ve", "r", "sum", "ber"],
        ),
        (
            "\u{130}STANBUL 5 \u{212a}ELVIN",
            &["i", "stanbul", "5", "kelvin"],
        ),
        (
            "was has his wa ha hi abcd",
            &["was", "has", "his", "wa", "ha", "hi", "abcd"],
        ),
        ("", &[]),
        ("... --- !!!", &[]),
    ];

    #[test]
    fn tokenizes_as_rouge_score() {
        for &(text, expected) in TOKEN_CASES {
            assert_eq!(tokenize(text), expected, "tokens of {text:?}");
        }
    }
}
