//! `fhir-extraction`: a short note (40 to 90 words) and the `ClinicalNoteExtract` resource a
//! model must produce from it.
//!
//! Every string in an extract is a verbatim substring of its note; negated symptoms ("denies
//! chest pain") and negated history ("no hx of gout") are written into the note and left out
//! of the extract; medications are listed in the order the note mentions them.

use serde::Serialize;

use crate::Split;
use crate::concepts::{self, Condition, Course, Symptom};
use crate::dice::Dice;
use crate::medication::{Medication, Mention};
use crate::person::{Person, Sex};
use crate::site::{Profile, Site};
use crate::text::{Duration, ListStyle, Sentence, render_note, word_count};

#[derive(Debug, Serialize)]
struct Record {
    id: String,
    note: String,
    extract: Extract,
}

#[derive(Debug, Serialize)]
struct Extract {
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    patient: Patient,
    complaints: Vec<String>,
    conditions: Vec<String>,
    medications: Vec<Medication>,
}

#[derive(Debug, Serialize)]
struct Patient {
    name: Option<String>,
    #[serde(rename = "ageYears")]
    age_years: Option<u32>,
    sex: Option<Sex>,
}

/// A sentence and the extract values it contributes, so that values can be listed in the
/// order their sentences end up in.
#[derive(Debug, Default)]
struct Block {
    sentence: Sentence,
    complaints: Vec<String>,
    conditions: Vec<String>,
    medications: Vec<Medication>,
}

impl Block {
    fn text(sentence: Sentence) -> Self {
        Block {
            sentence,
            ..Block::default()
        }
    }
}

const TYPO_PERCENT: usize = 2;

/// The shipped dataset's split: the general mix of notes.
pub fn generate(dice: &mut Dice, split: Split) -> Vec<String> {
    records(dice, &Profile::GENERAL, split, "fhir", split.count())
}

/// One split of a federated site's notes, `count` records with ids `fed-<site>-<split>-0001`.
pub fn generate_site(dice: &mut Dice, site: &Site, split: Split, count: usize) -> Vec<String> {
    records(dice, &site.profile, split, &format!("fed-{}", site.name), count)
}

fn records(dice: &mut Dice, profile: &Profile, split: Split, prefix: &str, count: usize) -> Vec<String> {
    (1..=count)
        .map(|n| {
            let record = loop {
                let record = draw(dice, profile, split, format!("{prefix}-{}-{n:04}", split.name()));
                if profile.words.contains(&word_count(&record.note)) {
                    break record;
                }
            };
            serde_json::to_string(&record).expect("records serialise")
        })
        .collect()
}

fn draw(dice: &mut Dice, profile: &Profile, split: Split, id: String) -> Record {
    let pool = split.pool();
    let person = Person::draw_aged(dice, profile.stated, &profile.ages);
    let symptoms = profile.favour(concepts::symptoms(pool), Symptom::name, dice);
    let conditions = profile.favour(concepts::conditions(pool, Some(Course::Chronic)), Condition::name, dice);
    let diagnosis = dice.chance(30).then(|| {
        let acute = profile.favour(concepts::conditions(pool, Some(Course::Acute)), Condition::name, dice);
        dice.pick(&acute)
    });
    let drugs = profile.favour(concepts::drugs(pool), |drug| drug.name, dice);

    let complaint_count = dice.weighted(&[10, 35, 35, 20]);
    let negated_count = dice.weighted(&[40, 40, 20]);
    let chosen = dice.sample(&symptoms, complaint_count + negated_count);
    let (complaints, negated) = chosen.split_at(complaint_count.min(chosen.len()));
    let condition_count = dice.weighted(&[20, 35, 30, 15]);
    let chosen_conditions = dice.sample(&conditions, condition_count + 1);
    let (history, ruled_out) = chosen_conditions.split_at(condition_count);
    let medication_count = dice.weighted(&[15, 25, 30, 20, 10]);
    let mut mentions: Vec<Mention> = dice
        .sample(&drugs, medication_count)
        .into_iter()
        .map(|drug| Mention::draw(drug, dice, 80))
        .collect();

    let mut first = Vec::new();
    let mut middle = Vec::new();
    let (header, subject) = person.opening(dice);
    if let Some(header) = header {
        first.push(Block::text(header));
    }
    let complaint_forms: Vec<String> = complaints.iter().map(|s| profile.form(s.forms, dice)).collect();
    if complaint_forms.is_empty() || dice.chance(60) {
        first.push(opening_with_complaints(subject, &complaint_forms, dice));
    } else {
        first.push(Block::text(subject.fill(dice.pick(&[
            " seen in clinic.",
            " reviewed today.",
            " attends.",
        ]))));
        first.push(complaint_sentence(&complaint_forms, dice));
    }
    if !negated.is_empty() {
        middle.push(Block::text(negation(negated, person.sex, profile, dice)));
    }
    if !ruled_out.is_empty() && dice.chance(25) {
        middle.push(Block::text(negated_history(ruled_out[0], profile, dice)));
    }
    if let Some(block) = history_block(history, profile, dice) {
        middle.push(block);
    }
    if let Some(condition) = diagnosis {
        let name = profile.form(condition.forms, dice);
        let lead = dice.pick(&["Impression: ", "Dx: ", "Likely ", "Assessment: "]);
        let sentence = Sentence::new().fill(lead).key(name.clone()).fill(".");
        middle.push(Block {
            sentence,
            conditions: vec![name],
            ..Block::default()
        });
    }
    let started = (mentions.len() > 1 && dice.chance(25))
        .then(|| mentions.pop())
        .flatten();
    if let Some(block) = medication_block(mentions, dice) {
        middle.push(block);
    }
    if !profile.terse && dice.chance(50) {
        middle.push(Block::text(Sentence::new().fill(dice.pick(OBSERVATIONS))));
    }
    if !profile.terse && dice.chance(30) {
        middle.push(Block::text(Sentence::new().fill(dice.pick(SOCIAL))));
    }
    dice.shuffle(&mut middle);
    let mut last = Vec::new();
    if let Some(mention) = started {
        let sentence = match dice.below(3) {
            0 => Sentence::new()
                .fill("Plan: start ")
                .key(mention.text)
                .fill("."),
            1 => Sentence::new()
                .fill("Started ")
                .key(mention.text)
                .fill(" today."),
            _ => Sentence::new()
                .fill("Commenced on ")
                .key(mention.text)
                .fill(", review in 2 weeks."),
        };
        last.push(Block {
            sentence,
            medications: vec![mention.medication],
            ..Block::default()
        });
    } else if !profile.terse && dice.chance(60) {
        last.push(Block::text(Sentence::new().fill(dice.pick(PLANS))));
    }

    let words = |blocks: &[Block]| {
        blocks
            .iter()
            .map(|b| word_count(&b.sentence.plain()))
            .sum::<usize>()
    };
    let mut fillers = PADDING.to_vec();
    dice.shuffle(&mut fillers);
    while words(&first) + words(&middle) + words(&last) < *profile.words.start() {
        let Some(filler) = fillers.pop() else { break };
        let at = dice.below(middle.len() + 1);
        middle.insert(at, Block::text(Sentence::new().fill(filler)));
    }
    let blocks: Vec<Block> = first.into_iter().chain(middle).chain(last).collect();
    let sentences: Vec<Sentence> = blocks.iter().map(|b| b.sentence.clone()).collect();
    let note = render_note(&sentences, dice, TYPO_PERCENT);
    let mut extract = Extract {
        resource_type: "ClinicalNoteExtract",
        patient: Patient {
            name: person.name,
            age_years: person.age,
            sex: person.sex,
        },
        complaints: Vec::new(),
        conditions: Vec::new(),
        medications: Vec::new(),
    };
    for block in blocks {
        extract.complaints.extend(block.complaints);
        extract.conditions.extend(block.conditions);
        extract.medications.extend(block.medications);
    }
    Record {
        id,
        note,
        extract,
    }
}

fn opening_with_complaints(subject: Sentence, complaints: &[String], dice: &mut Dice) -> Block {
    let sentence = if complaints.is_empty() {
        subject.fill(dice.pick(&[
            " attends for routine review.",
            " seen for medication review.",
            " here for follow-up of chronic conditions.",
            " reviewed in clinic today, no new complaints.",
        ]))
    } else {
        let verb = dice.pick(&[
            " presents with ",
            " c/o ",
            " complaining of ",
            " reports ",
            " attends with ",
        ]);
        let sentence = subject.fill(verb).list(complaints, ListStyle::any(dice));
        match dice.below(3) {
            0 => sentence.fill(format!(" x {}.", Duration::draw(dice).written)),
            1 => sentence.fill(format!(" for {}.", Duration::draw(dice).written)),
            _ => sentence.fill("."),
        }
    };
    Block {
        sentence,
        complaints: complaints.to_vec(),
        ..Block::default()
    }
}

fn complaint_sentence(complaints: &[String], dice: &mut Dice) -> Block {
    let lead = dice.pick(&[
        "C/o ",
        "Presenting complaint: ",
        "Main issues: ",
        "PC: ",
        "Reports ",
    ]);
    let sentence = Sentence::new()
        .fill(lead)
        .list(complaints, ListStyle::any(dice))
        .fill(".");
    Block {
        sentence,
        complaints: complaints.to_vec(),
        ..Block::default()
    }
}

fn negation(negated: &[&Symptom], sex: Option<Sex>, profile: &Profile, dice: &mut Dice) -> Sentence {
    let forms: Vec<String> = negated.iter().map(|s| profile.form(s.forms, dice)).collect();
    match (dice.below(5), sex) {
        (0, Some(sex)) => Sentence::new()
            .key(format!("{} denies ", sex.pronoun()))
            .list(&forms, ListStyle::Or)
            .fill("."),
        (1, _) => Sentence::new()
            .key("No ")
            .list(&forms, ListStyle::Or)
            .fill("."),
        (2, _) => Sentence::new()
            .key("Negative for ")
            .list(&forms, ListStyle::Or)
            .fill("."),
        (3, _) => Sentence::new()
            .key("No ")
            .list(&forms, ListStyle::Or)
            .key(" reported")
            .fill("."),
        _ => Sentence::new()
            .key("Denies ")
            .list(&forms, ListStyle::Or)
            .fill("."),
    }
}

fn negated_history(condition: &Condition, profile: &Profile, dice: &mut Dice) -> Sentence {
    let name = profile.form(condition.forms, dice);
    match dice.below(3) {
        0 => Sentence::new().key("No hx of ").key(name).fill("."),
        1 => Sentence::new().key("No history of ").key(name).fill("."),
        _ => Sentence::new()
            .key("Denies any history of ")
            .key(name)
            .fill("."),
    }
}

fn history_block(history: &[&Condition], profile: &Profile, dice: &mut Dice) -> Option<Block> {
    if history.is_empty() {
        return dice.chance(50).then(|| {
            Block::text(Sentence::new().fill(dice.pick(&[
                "No significant PMH.",
                "PMH nil.",
                "No past medical history.",
            ])))
        });
    }
    let names: Vec<String> = history.iter().map(|c| profile.form(c.forms, dice)).collect();
    let sentence = match dice.below(7) {
        0 => Sentence::new()
            .fill("PMH: ")
            .list(&names, ListStyle::Comma)
            .fill("."),
        1 => Sentence::new()
            .fill("Hx of ")
            .list(&names, ListStyle::And)
            .fill("."),
        2 => Sentence::new()
            .fill("Background: ")
            .list(&names, ListStyle::any(dice))
            .fill("."),
        3 => Sentence::new()
            .fill("Known ")
            .list(&names, ListStyle::And)
            .fill("."),
        4 => Sentence::new()
            .fill("PMHx: ")
            .list(&names, ListStyle::Semicolon)
            .fill("."),
        5 => Sentence::new()
            .fill("Past history includes ")
            .list(&names, ListStyle::And)
            .fill("."),
        _ => Sentence::new()
            .fill("Hx: ")
            .list(&names, ListStyle::Comma)
            .fill("."),
    };
    Some(Block {
        sentence,
        conditions: names,
        ..Block::default()
    })
}

fn medication_block(mentions: Vec<Mention>, dice: &mut Dice) -> Option<Block> {
    if mentions.is_empty() {
        return dice.chance(40).then(|| {
            Block::text(Sentence::new().fill(dice.pick(&[
                "No regular meds.",
                "Nil regular medications.",
                "NKDA, no regular meds.",
            ])))
        });
    }
    let texts: Vec<String> = mentions.iter().map(|m| m.text.clone()).collect();
    let lead = dice.pick(&[
        "Meds: ",
        "Current meds: ",
        "Takes ",
        "On ",
        "Regular medications: ",
        "DHx: ",
    ]);
    let style = if lead == "Takes " || lead == "On " {
        ListStyle::And
    } else {
        ListStyle::any(dice)
    };
    let sentence = Sentence::new().fill(lead).list(&texts, style).fill(".");
    Some(Block {
        sentence,
        medications: mentions.into_iter().map(|m| m.medication).collect(),
        ..Block::default()
    })
}

const OBSERVATIONS: &[&str] = &[
    "Obs: BP 138/84, HR 78, T 36.9.",
    "HR 92, sats 96% on air.",
    "Chest clear on auscultation.",
    "Abdo soft, non-tender.",
    "Afebrile, obs within normal limits.",
    "BP 151/92 in clinic today.",
    "Looks well, alert and orientated.",
];

const SOCIAL: &[&str] = &[
    "Lives with family.",
    "Non-smoker.",
    "Ex-smoker, independent with ADLs.",
    "Lives alone, mobile with a stick.",
    "Occasional alcohol.",
];

/// Sentences that carry no extract value, added until a note reaches its minimum length.
const PADDING: &[&str] = &[
    "NKDA.",
    "Seen with daughter today.",
    "Systemic enquiry otherwise unremarkable.",
    "Independent with ADLs.",
    "Eating and drinking normally.",
    "Sleeping well overall.",
    "Keen to avoid hospital admission.",
    "Discussed with senior colleague.",
    "Observations stable throughout.",
    "Previous letters reviewed.",
];

const PLANS: &[&str] = &[
    "Plan: bloods and review in 1/52.",
    "Safety-netting advice given.",
    "Review in 2 weeks.",
    "Routine bloods requested, follow up with results.",
    "Advised fluids and rest, return if worse.",
];
