//! Who a note is about: an invented name, an age and a sex, any of which a note may omit,
//! and the ways notes open by naming them ("Tomas Okafor, 67M", "52 y/o female", "Pt").

use std::ops::RangeInclusive;

use serde::Serialize;

use crate::concepts::{FEMALE_FIRST_NAMES, LAST_NAMES, MALE_FIRST_NAMES};
use crate::dice::Dice;
use crate::text::{Sentence, capitalise};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn noun(self) -> &'static str {
        match self {
            Sex::Male => "man",
            Sex::Female => "woman",
        }
    }

    pub fn pronoun(self) -> &'static str {
        match self {
            Sex::Male => "He",
            Sex::Female => "She",
        }
    }
}

/// How often each part of the identity is stated, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stated {
    pub name: usize,
    pub age: usize,
    pub sex: usize,
}

/// What a note states about its patient; `None` means the note does not say.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: Option<String>,
    pub age: Option<u32>,
    pub sex: Option<Sex>,
    /// Under 18, whether or not the note states the age.
    pub child: bool,
}

impl Person {
    /// An adult (18 to 94).
    pub fn draw(dice: &mut Dice, stated: Stated) -> Self {
        Person::draw_aged(dice, stated, &(18..=94))
    }

    pub fn draw_aged(dice: &mut Dice, stated: Stated, ages: &RangeInclusive<i32>) -> Self {
        let sex = if dice.chance(50) {
            Sex::Male
        } else {
            Sex::Female
        };
        let first = match sex {
            Sex::Male => dice.pick(MALE_FIRST_NAMES),
            Sex::Female => dice.pick(FEMALE_FIRST_NAMES),
        };
        let last = dice.pick(LAST_NAMES);
        let name = dice.chance(stated.name).then(|| format!("{first} {last}"));
        let age = dice.range(*ages.start(), *ages.end()) as u32;
        Person {
            name,
            age: dice.chance(stated.age).then_some(age),
            sex: dice.chance(stated.sex).then_some(sex),
            child: age < 18,
        }
    }

    /// An optional header sentence and the subject that opens the first sentence, e.g.
    /// (`None`, "Tomas Okafor, 67 y/o male,") or ("Name: Tomas Okafor. Age: 67.", "Pt").
    /// The subject carries no trailing space; the caller appends the predicate.
    pub fn opening(&self, dice: &mut Dice) -> (Option<Sentence>, Sentence) {
        if dice.chance(15) && (self.name.is_some() || self.age.is_some()) {
            return (Some(self.header(dice)), Sentence::new().fill("Pt"));
        }
        let core = self.core(dice);
        let parenthesised = self.age.is_some() && dice.chance(50);
        let subject = match (&self.name, core) {
            (Some(name), Some(core)) if parenthesised => {
                Sentence::new().key(format!("{name} ({core})"))
            }
            (Some(name), Some(core)) => Sentence::new()
                .key(name.clone())
                .fill(", ")
                .key(core)
                .fill(","),
            (Some(name), None) => Sentence::new().key(name.clone()),
            (None, Some(core)) => Sentence::new().key(capitalise(&core)),
            (None, None) => Sentence::new().fill(dice.pick(&["Pt", "Patient"])),
        };
        (None, subject)
    }

    /// "Name: Tomas Okafor. Age: 67. Sex: M." with only the parts that are stated.
    fn header(&self, dice: &mut Dice) -> Sentence {
        let mut header = Sentence::new();
        let mut parts = 0;
        if let Some(name) = &self.name {
            header = header
                .fill(dice.pick(&["Name: ", "Patient: "]))
                .key(name.clone())
                .fill(".");
            parts += 1;
        }
        if let Some(age) = self.age {
            let separator = if parts > 0 { " " } else { "" };
            header = header.fill(separator).key(format!("Age: {age}."));
            parts += 1;
        }
        if let Some(sex) = self.sex {
            let separator = if parts > 0 { " " } else { "" };
            let letter = match sex {
                Sex::Male => "M",
                Sex::Female => "F",
            };
            header = header.fill(separator).key(format!("Sex: {letter}."));
        }
        header
    }

    /// The plain and the polite noun for the patient: "woman" and "lady", or "girl" twice
    /// for a child (whose age the note may not state, so the true age decides).
    fn nouns(&self, sex: Sex) -> (&'static str, &'static str) {
        match (self.child, sex) {
            (true, Sex::Male) => ("boy", "boy"),
            (true, Sex::Female) => ("girl", "girl"),
            (false, Sex::Male) => ("man", "gentleman"),
            (false, Sex::Female) => ("woman", "lady"),
        }
    }

    /// The age-and-sex phrase ("67 y/o male", "67F", "woman aged 67"), or `None` when the
    /// note states neither.
    fn core(&self, dice: &mut Dice) -> Option<String> {
        let phrase = match (self.age, self.sex) {
            (Some(age), Some(sex)) => {
                let (word, letter) = match sex {
                    Sex::Male => ("male", "M"),
                    Sex::Female => ("female", "F"),
                };
                let (noun, polite) = self.nouns(sex);
                match dice.below(6) {
                    0 => format!("{age} y/o {word}"),
                    1 => format!("{age}yo {letter}"),
                    2 => format!("{age}-year-old {noun}"),
                    3 => format!("{age}{letter}"),
                    4 => format!("{noun} aged {age}"),
                    _ => format!("{age} year old {polite}"),
                }
            }
            (Some(age), None) => match dice.below(4) {
                0 => format!("{age} y/o pt"),
                1 => format!("pt aged {age}"),
                2 => format!("{age}-year-old patient"),
                _ => format!("{age}yo"),
            },
            (None, Some(sex)) => {
                let word = match sex {
                    Sex::Male => "male",
                    Sex::Female => "female",
                };
                let (noun, polite) = self.nouns(sex);
                match dice.below(3) {
                    0 => format!("{word} pt"),
                    1 => noun.to_owned(),
                    _ => polite.to_owned(),
                }
            }
            (None, None) => return None,
        };
        Some(phrase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_states_exactly_what_the_person_states() {
        let mut dice = Dice::new(11, 0);
        for _ in 0..200 {
            let person = Person::draw(
                &mut dice,
                Stated {
                    name: 50,
                    age: 50,
                    sex: 50,
                },
            );
            let (header, subject) = person.opening(&mut dice);
            let text = header.map(|h| h.render(&mut dice, 0)).unwrap_or_default()
                + " "
                + &subject.render(&mut dice, 0);
            if let Some(name) = &person.name {
                assert!(text.contains(name.as_str()), "{text}");
            }
            let has_digit = text.bytes().any(|b| b.is_ascii_digit());
            assert_eq!(has_digit, person.age.is_some(), "{text}");
        }
    }
}
