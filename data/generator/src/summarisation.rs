//! `summarisation`: an encounter note (60 to 150 words) and a one- or two-sentence summary.
//!
//! The summary restates the encounter in plain words: abbreviations spelled out ("HTN"
//! becomes "hypertension"), durations written in full ("2/7" becomes "2 days"), negatives,
//! observations and social history left out. It names the patient's age and sex, the
//! background, the presenting symptoms, the diagnosis, the treatment started and where the
//! patient went next.

use serde::Serialize;

use crate::Split;
use crate::concepts::{self, Condition, Course, Drug, Symptom};
use crate::dice::Dice;
use crate::medication::Mention;
use crate::person::{Person, Stated};
use crate::text::{
    Duration, ListStyle, Sentence, capitalise, pad, render_note, sentence_words, word_count,
};

#[derive(Debug, Serialize)]
struct Record {
    id: String,
    note: String,
    summary: String,
}

const WORDS: std::ops::RangeInclusive<usize> = 60..=150;
const TYPO_PERCENT: usize = 2;

pub fn generate(dice: &mut Dice, split: Split) -> Vec<String> {
    (1..=split.count())
        .map(|n| {
            let record = loop {
                let record = draw(dice, split, n);
                if WORDS.contains(&word_count(&record.note)) {
                    break record;
                }
            };
            serde_json::to_string(&record).expect("records serialise")
        })
        .collect()
}

/// Where the patient goes after the encounter: as the note writes it and as the summary does.
const DISPOSITIONS: &[(&str, &str)] = &[
    ("Discharged home with safety-net advice.", "discharged home"),
    ("Admitted under the medical team.", "admitted"),
    ("GP review in 1/52.", "to be reviewed in 1 week"),
    ("Review in clinic in 2 weeks.", "to be reviewed in 2 weeks"),
    ("Home, to return if worsening.", "discharged home"),
    ("Admit for obs overnight.", "admitted for observation"),
];

const SETTINGS: &[&str] = &[
    "ED",
    "the emergency department",
    "GP surgery",
    "urgent care",
    "clinic",
    "AMU",
];

fn draw(dice: &mut Dice, split: Split, n: usize) -> Record {
    let pool = split.pool();
    let person = Person::draw(
        dice,
        Stated {
            name: 45,
            age: 82,
            sex: 92,
        },
    );
    let diagnosis: &Condition = dice.pick(&concepts::conditions(pool, Some(Course::Acute)));
    let symptom_count = 1 + dice.below(diagnosis.symptoms.len().min(3));
    let presenting: Vec<&Symptom> = dice
        .sample(diagnosis.symptoms, symptom_count)
        .into_iter()
        .map(concepts::symptom)
        .collect();
    let others: Vec<&Symptom> = concepts::symptoms(pool)
        .into_iter()
        .filter(|s| !presenting.iter().any(|p| p.name() == s.name()))
        .collect();
    let negated_count = dice.weighted(&[25, 50, 25]);
    let negated = dice.sample(&others, negated_count);
    let history_count = dice.weighted(&[20, 35, 30, 15]);
    let history = dice.sample(
        &concepts::conditions(pool, Some(Course::Chronic)),
        history_count,
    );
    let treatment = concepts::drug(dice.pick(diagnosis.treatments));
    let others: Vec<&Drug> = concepts::drugs(pool)
        .into_iter()
        .filter(|d| !std::ptr::eq(*d, treatment))
        .collect();
    let regular_count = dice.weighted(&[25, 30, 30, 15]);
    let regular: Vec<Mention> = dice
        .sample(&others, regular_count)
        .into_iter()
        .map(|d| Mention::draw(d, dice, 75))
        .collect();
    let treatment = Mention::draw(treatment, dice, 100);
    let duration = Duration::draw(dice);
    let (disposition_note, disposition_summary) = dice.pick(DISPOSITIONS);

    let symptom_forms: Vec<String> = presenting
        .iter()
        .map(|s| dice.pick(s.forms).to_owned())
        .collect();
    let history_forms: Vec<String> = history
        .iter()
        .map(|c| dice.pick(c.forms).to_owned())
        .collect();
    let diagnosis_form = dice.pick(diagnosis.forms).to_owned();

    let mut sentences = Vec::new();
    let (header, subject) = person.opening(dice);
    sentences.extend(header);
    let setting = dice.pick(SETTINGS);
    sentences.push(match dice.below(3) {
        0 => subject
            .fill(format!(
                " seen in {setting} with {} hx of ",
                duration.written
            ))
            .list(&symptom_forms, ListStyle::And)
            .fill("."),
        1 => subject
            .fill(format!(" presented to {setting} c/o "))
            .list(&symptom_forms, ListStyle::any(dice))
            .fill(format!(" for {}.", duration.written)),
        _ => subject
            .fill(format!(" attends {setting}: {} of ", duration.written))
            .list(&symptom_forms, ListStyle::And)
            .fill("."),
    });

    let mut middle = Vec::new();
    middle.push(Sentence::new().fill(dice.pick(HISTORY_DETAILS)));
    if !negated.is_empty() {
        let forms: Vec<String> = negated
            .iter()
            .map(|s| dice.pick(s.forms).to_owned())
            .collect();
        let lead = dice.pick(&["Denies ", "No ", "Negative for "]);
        middle.push(
            Sentence::new()
                .key(lead)
                .list(&forms, ListStyle::Or)
                .fill("."),
        );
    }
    middle.push(if history_forms.is_empty() {
        Sentence::new().fill(dice.pick(&["No significant PMH.", "PMH nil of note."]))
    } else {
        let lead = dice.pick(&["PMH: ", "Background of ", "Hx: ", "Known "]);
        Sentence::new()
            .fill(lead)
            .list(&history_forms, ListStyle::any(dice))
            .fill(".")
    });
    let regular_texts: Vec<String> = regular.iter().map(|m| m.text.clone()).collect();
    middle.push(if regular_texts.is_empty() {
        Sentence::new().fill(dice.pick(&["No regular meds.", "Nil regular medications."]))
    } else {
        Sentence::new()
            .fill(dice.pick(&["Meds: ", "DHx: ", "Regular meds: "]))
            .list(&regular_texts, ListStyle::Comma)
            .fill(".")
    });
    if dice.chance(50) {
        middle.push(Sentence::new().fill(dice.pick(SOCIAL)));
    }
    dice.shuffle(&mut middle);
    let mut tail = vec![Sentence::new().fill(dice.pick(EXAMINATIONS))];
    if dice.chance(50) {
        tail.push(Sentence::new().fill(dice.pick(INVESTIGATIONS)));
    }
    let impression = dice.pick(&["Impression: ", "Dx: ", "Likely ", "Working diagnosis: "]);
    tail.push(
        Sentence::new()
            .fill(impression)
            .key(diagnosis_form)
            .fill("."),
    );
    let start = dice.pick(&["Started ", "Commenced ", "Rx: "]);
    tail.push(
        Sentence::new()
            .fill(start)
            .key(treatment.text.clone())
            .fill("."),
    );
    tail.push(Sentence::new().fill(disposition_note));
    let fixed = sentence_words(&sentences) + sentence_words(&tail);
    pad(
        &mut middle,
        PADDING,
        WORDS.start().saturating_sub(fixed),
        dice,
    );
    sentences.extend(middle);
    sentences.extend(tail);
    let note = render_note(&sentences, dice, TYPO_PERCENT);

    let who = match (person.age, person.sex) {
        (Some(age), Some(sex)) => format!("{age}-year-old {}", sex.noun()),
        (Some(age), None) => format!("{age}-year-old patient"),
        (None, Some(sex)) => capitalise(sex.noun()),
        (None, None) => "Patient".to_owned(),
    };
    let symptoms = list_and(&presenting.iter().map(|s| s.name()).collect::<Vec<_>>());
    let background = list_and(&history.iter().map(|c| c.name()).collect::<Vec<_>>());
    let treatment = treatment.medication.name.to_ascii_lowercase();
    let diagnosis = diagnosis.name();
    let summary = if history.is_empty() || dice.chance(60) {
        let background = if history.is_empty() {
            "no significant past history".to_owned()
        } else {
            background
        };
        format!(
            "{who} with {background} presenting with {} of {symptoms}. Diagnosed with {diagnosis}, started on {treatment} and {disposition_summary}.",
            duration.spelled
        )
    } else {
        format!(
            "{who} with {} of {symptoms} on a background of {background}, diagnosed with {diagnosis}; started on {treatment} and {disposition_summary}.",
            duration.spelled
        )
    };
    Record {
        id: format!("summ-{}-{n:04}", split.name()),
        note,
        summary,
    }
}

/// `a`, `a and b`, `a, b and c`.
fn list_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

const HISTORY_DETAILS: &[&str] = &[
    "Symptoms gradually worsening since onset.",
    "Tried simple analgesia with little effect.",
    "No recent travel or sick contacts.",
    "Eating and drinking less than usual.",
    "Symptoms worse at night, disturbing sleep.",
    "Came in after advice from the out of hours service.",
    "First episode of this kind, no similar previous presentations.",
];

/// Sentences the summary leaves out, added until a note reaches its minimum length.
const PADDING: &[&str] = &[
    "No known drug allergies.",
    "Accompanied by a family member.",
    "Pain score 6/10 on arrival.",
    "Systemic enquiry otherwise unremarkable.",
    "Fluid intake reduced over the last day.",
    "Mobilising independently on the ward.",
    "Previous discharge letters reviewed.",
    "Discussed with the registrar.",
    "Collateral history from partner.",
    "Vaccinations up to date.",
];

const SOCIAL: &[&str] = &[
    "Lives with partner, independent.",
    "Non-smoker, occasional alcohol.",
    "Ex-smoker, lives alone.",
    "Works as a teacher, fully independent.",
    "Lives in a care home, mobilises with a frame.",
];

const EXAMINATIONS: &[&str] = &[
    "O/E: T 38.1, HR 104, BP 128/76, RR 20, sats 95% on air.",
    "On examination alert, obs T 37.4, HR 88, BP 136/82.",
    "O/E looks unwell, HR 112, RR 22, sats 94% on air.",
    "Examination otherwise unremarkable, obs stable.",
    "O/E comfortable at rest, HR 76, BP 142/88, afebrile.",
];

const INVESTIGATIONS: &[&str] = &[
    "Bloods: raised CRP, WCC 14.2.",
    "Bloods sent, results awaited.",
    "Urine dip and bloods done.",
    "ECG sinus rhythm, bloods unremarkable.",
    "Imaging requested.",
];
