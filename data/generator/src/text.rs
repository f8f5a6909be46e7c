//! Building note text: sentences of protected and noisy spans, lists, and typos.
//!
//! A note is assembled from spans. *Key* spans carry what a target is derived from (a
//! symptom, a drug and its dose, an age, a negation cue) and are written exactly as given, so
//! an extracted value is always a verbatim substring of the note. *Filler* spans are the words
//! around them, and only those receive typos: real notes are full of slips, but a typo inside
//! a value would make the gold answer ambiguous.

use crate::dice::Dice;

#[derive(Debug, Clone)]
enum Span {
    Key(String),
    Fill(String),
}

/// One sentence of a note, rendered with its spans in order.
#[derive(Debug, Clone, Default)]
pub struct Sentence {
    spans: Vec<Span>,
}

impl Sentence {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends text that must appear verbatim.
    pub fn key(mut self, text: impl Into<String>) -> Self {
        self.spans.push(Span::Key(text.into()));
        self
    }

    /// Appends connecting words that may receive a typo.
    pub fn fill(mut self, text: impl Into<String>) -> Self {
        self.spans.push(Span::Fill(text.into()));
        self
    }

    /// Appends `items` as keys joined in one of several list styles.
    pub fn list(mut self, items: &[String], style: ListStyle) -> Self {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                let last = i + 1 == items.len();
                let separator = match style {
                    ListStyle::And if last => " and ",
                    ListStyle::Or if last => " or ",
                    ListStyle::And | ListStyle::Or | ListStyle::Comma => ", ",
                    ListStyle::Semicolon => "; ",
                };
                self.spans.push(Span::Fill(separator.to_owned()));
            }
            self.spans.push(Span::Key(item.clone()));
        }
        self
    }

    /// The text as written, without typos.
    pub fn plain(&self) -> String {
        self.spans
            .iter()
            .map(|span| match span {
                Span::Key(text) | Span::Fill(text) => text.as_str(),
            })
            .collect()
    }

    /// The text with filler words given a typo each with probability `typo_percent`/100.
    pub fn render(&self, dice: &mut Dice, typo_percent: usize) -> String {
        let mut out = String::new();
        for span in &self.spans {
            match span {
                Span::Key(text) => out.push_str(text),
                Span::Fill(text) => {
                    let words: Vec<String> = text
                        .split(' ')
                        .map(|word| {
                            if typo_percent > 0 && dice.chance(typo_percent) {
                                swap_letters(word, dice)
                            } else {
                                word.to_owned()
                            }
                        })
                        .collect();
                    out.push_str(&words.join(" "));
                }
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy)]
pub enum ListStyle {
    /// `a, b and c`
    And,
    /// `a, b or c`
    Or,
    /// `a, b, c`
    Comma,
    /// `a; b; c`
    Semicolon,
}

impl ListStyle {
    /// `And` half the time, otherwise one of the plain separators.
    pub fn any(dice: &mut Dice) -> Self {
        dice.pick(&[
            ListStyle::And,
            ListStyle::And,
            ListStyle::Comma,
            ListStyle::Semicolon,
        ])
    }
}

/// Renders sentences into one note separated by single spaces.
pub fn render_note(sentences: &[Sentence], dice: &mut Dice, typo_percent: usize) -> String {
    let rendered: Vec<String> = sentences
        .iter()
        .map(|s| s.render(dice, typo_percent))
        .collect();
    rendered.join(" ")
}

/// Swaps two adjacent inner letters of a word of five or more ASCII letters (the first and
/// last letters stay, as in most real slips); other words are returned unchanged.
fn swap_letters(word: &str, dice: &mut Dice) -> String {
    let bytes = word.as_bytes();
    if bytes.len() < 5 || !bytes.iter().all(u8::is_ascii_alphabetic) {
        return word.to_owned();
    }
    let candidates: Vec<usize> = (1..bytes.len() - 2)
        .filter(|&i| bytes[i] != bytes[i + 1])
        .collect();
    if candidates.is_empty() {
        return word.to_owned();
    }
    let at = dice.pick(&candidates);
    let mut swapped = bytes.to_vec();
    swapped.swap(at, at + 1);
    String::from_utf8(swapped).expect("swapping two ASCII letters keeps the text ASCII")
}

/// Words in `sentences` once rendered (typos never add or remove a word).
pub fn sentence_words(sentences: &[Sentence]) -> usize {
    sentences.iter().map(|s| word_count(&s.plain())).sum()
}

/// Adds sentences from `fillers` not yet used, each at a random position in `sentences`,
/// until there are at least `min_words` words or the fillers run out.
pub fn pad(sentences: &mut Vec<Sentence>, fillers: &[&str], min_words: usize, dice: &mut Dice) {
    let mut unused: Vec<&str> = fillers.to_vec();
    dice.shuffle(&mut unused);
    while sentence_words(sentences) < min_words {
        let Some(filler) = unused.pop() else { return };
        let at = dice.below(sentences.len() + 1);
        sentences.insert(at, Sentence::new().fill(filler));
    }
}

/// Number of whitespace-separated words.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// `text` with its first letter upper-cased.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// A duration as notes write it and as a summary spells it out.
#[derive(Debug, Clone)]
pub struct Duration {
    pub written: String,
    pub spelled: String,
}

impl Duration {
    pub fn draw(dice: &mut Dice) -> Self {
        let days = dice.pick(&[1, 2, 3, 4, 5, 7, 10, 14]);
        let spelled = match days {
            1 => "1 day".to_owned(),
            7 => "1 week".to_owned(),
            14 => "2 weeks".to_owned(),
            n => format!("{n} days"),
        };
        let written = match (days, dice.below(3)) {
            (7, 0) => "1/52".to_owned(),
            (14, 0) => "2/52".to_owned(),
            (n, 0) if n < 7 => format!("{n}/7"),
            (n, 1) => format!("{n}d"),
            _ => spelled.clone(),
        };
        Duration { written, spelled }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_never_altered_even_when_every_filler_word_gets_a_typo() {
        let mut dice = Dice::new(5, 0);
        let sentence = Sentence::new()
            .fill("Patient presents with ")
            .list(
                &["shortness of breath".to_owned(), "palpitations".to_owned()],
                ListStyle::And,
            )
            .fill(" overnight.");
        for _ in 0..20 {
            let text = sentence.render(&mut dice, 100);
            assert!(text.contains("shortness of breath"), "{text}");
            assert!(text.contains("palpitations"), "{text}");
            assert!(
                !text.contains("Patient presents"),
                "expected typos in filler: {text}"
            );
        }
    }

    #[test]
    fn typo_keeps_the_letters_of_the_word() {
        let mut dice = Dice::new(9, 0);
        let swapped = swap_letters("presents", &mut dice);
        assert_ne!(swapped, "presents");
        let mut a: Vec<u8> = swapped.bytes().collect();
        let mut b: Vec<u8> = "presents".bytes().collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
        assert_eq!(swap_letters("with", &mut dice), "with");
        assert_eq!(swap_letters("38.2C", &mut dice), "38.2C");
    }

    #[test]
    fn lists_join_with_the_chosen_style() {
        let items = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let mut dice = Dice::new(0, 0);
        let and = Sentence::new()
            .list(&items, ListStyle::And)
            .render(&mut dice, 0);
        let semi = Sentence::new()
            .list(&items, ListStyle::Semicolon)
            .render(&mut dice, 0);
        assert_eq!(and, "a, b and c");
        assert_eq!(semi, "a; b; c");
    }
}
