//! `icd-coding`: a note and the billable ICD-10-CM codes of the conditions it affirms.
//!
//! Codes cover the background conditions and the diagnosis made at the encounter, in the
//! order the note first mentions them. Conditions the note negates or rules out ("no hx of
//! gout", "PE ruled out") and symptoms are not coded; drugs are noise.

use serde::Serialize;

use crate::Split;
use crate::concepts::{self, Condition, Course};
use crate::dice::Dice;
use crate::medication::Mention;
use crate::person::{Person, Stated};
use crate::text::{ListStyle, Sentence, render_note};

#[derive(Debug, Serialize)]
struct Record {
    id: String,
    note: String,
    codes: Vec<&'static str>,
}

/// A sentence and the conditions it affirms.
struct Block {
    sentence: Sentence,
    affirmed: Vec<&'static Condition>,
}

const TYPO_PERCENT: usize = 2;

pub fn generate(dice: &mut Dice, split: Split) -> Vec<String> {
    (1..=split.count())
        .map(|n| serde_json::to_string(&draw(dice, split, n)).expect("records serialise"))
        .collect()
}

fn draw(dice: &mut Dice, split: Split, n: usize) -> Record {
    let pool = split.pool();
    let person = Person::draw(
        dice,
        Stated {
            name: 30,
            age: 85,
            sex: 95,
        },
    );
    let acute = dice
        .chance(70)
        .then(|| dice.pick(&concepts::conditions(pool, Some(Course::Acute))));
    let chronic_count = if acute.is_some() {
        dice.weighted(&[20, 35, 30, 15])
    } else {
        1 + dice.weighted(&[40, 40, 20])
    };
    let chronic = concepts::conditions(pool, Some(Course::Chronic));
    let drawn = dice.sample(&chronic, chronic_count + 2);
    let (history, spare) = drawn.split_at(chronic_count);
    let negated: Vec<&Condition> = spare[..dice.weighted(&[60, 30, 10])].to_vec();

    let mut blocks = Vec::new();
    let (header, subject) = person.opening(dice);
    if let Some(header) = header {
        blocks.push(Block {
            sentence: header,
            affirmed: Vec::new(),
        });
    }
    let opening = match acute {
        Some(condition) => {
            let count = 1 + dice.below(condition.symptoms.len().min(2));
            let forms: Vec<String> = dice
                .sample(condition.symptoms, count)
                .into_iter()
                .map(|name| dice.pick(concepts::symptom(name).forms).to_owned())
                .collect();
            let verb = dice.pick(&[" presents with ", " c/o ", " admitted with ", " seen with "]);
            subject.fill(verb).list(&forms, ListStyle::And).fill(".")
        }
        None => subject.fill(dice.pick(&[
            " attends for annual review.",
            " seen for chronic disease review.",
            " reviewed in clinic.",
        ])),
    };
    blocks.push(Block {
        sentence: opening,
        affirmed: Vec::new(),
    });

    let mut middle = Vec::new();
    if !history.is_empty() {
        middle.push(history_block(history, dice));
    }
    for condition in &negated {
        middle.push(Block {
            sentence: negation(condition, dice),
            affirmed: Vec::new(),
        });
    }
    if dice.chance(60) {
        let drugs = concepts::drugs(pool);
        let count = 1 + dice.below(3);
        let texts: Vec<String> = dice
            .sample(&drugs, count)
            .into_iter()
            .map(|d| Mention::draw(d, dice, 70).text)
            .collect();
        let lead = dice.pick(&["Meds: ", "DHx: ", "On "]);
        middle.push(Block {
            sentence: Sentence::new()
                .fill(lead)
                .list(&texts, ListStyle::Comma)
                .fill("."),
            affirmed: Vec::new(),
        });
    }
    dice.shuffle(&mut middle);
    if let Some(condition) = acute {
        let form = dice.pick(condition.forms).to_owned();
        let lead = dice.pick(&["Impression: ", "Dx: ", "Diagnosed with ", "Assessment: "]);
        let block = Block {
            sentence: Sentence::new().fill(lead).key(form).fill("."),
            affirmed: vec![condition],
        };
        let at = if dice.chance(50) { middle.len() } else { 0 };
        middle.insert(at, block);
    }
    blocks.extend(middle);
    blocks.push(Block {
        sentence: Sentence::new().fill(dice.pick(PLANS)),
        affirmed: Vec::new(),
    });

    let sentences: Vec<Sentence> = blocks.iter().map(|b| b.sentence.clone()).collect();
    let note = render_note(&sentences, dice, TYPO_PERCENT);
    let mut codes = Vec::new();
    for condition in blocks.iter().flat_map(|b| &b.affirmed) {
        if !codes.contains(&condition.code) {
            codes.push(condition.code);
        }
    }
    Record {
        id: format!("icd-{}-{n:04}", split.name()),
        note,
        codes,
    }
}

fn history_block(history: &[&'static Condition], dice: &mut Dice) -> Block {
    let forms: Vec<String> = history
        .iter()
        .map(|c| dice.pick(c.forms).to_owned())
        .collect();
    let sentence = match dice.below(5) {
        0 => Sentence::new()
            .fill("PMH: ")
            .list(&forms, ListStyle::Comma)
            .fill("."),
        1 => Sentence::new()
            .fill("Hx of ")
            .list(&forms, ListStyle::And)
            .fill("."),
        2 => Sentence::new()
            .fill("Known ")
            .list(&forms, ListStyle::And)
            .fill("."),
        3 => Sentence::new()
            .fill("Background: ")
            .list(&forms, ListStyle::Semicolon)
            .fill("."),
        _ => Sentence::new()
            .fill("Long-standing ")
            .list(&forms, ListStyle::And)
            .fill(", well controlled."),
    };
    Block {
        sentence,
        affirmed: history.to_vec(),
    }
}

fn negation(condition: &Condition, dice: &mut Dice) -> Sentence {
    let form = dice.pick(condition.forms).to_owned();
    match dice.below(4) {
        0 => Sentence::new().key("No hx of ").key(form).fill("."),
        1 => Sentence::new().key(form).key(" ruled out").fill("."),
        2 => Sentence::new().key("No evidence of ").key(form).fill("."),
        _ => Sentence::new()
            .key("Denies history of ")
            .key(form)
            .fill("."),
    }
}

const PLANS: &[&str] = &[
    "Plan: continue current management, review in 3 months.",
    "Bloods requested, follow up in clinic.",
    "Safety-netting advice given.",
    "Plan discussed with patient, who agrees.",
    "Referred for specialist opinion.",
];
