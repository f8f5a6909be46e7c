//! `trial-matching`: a short patient description, a trial's inclusion and exclusion
//! criteria, whether each criterion is met, and whether the patient is eligible.
//!
//! Every criterion is decidable from the description: the age is always stated; each
//! measurement a criterion thresholds is always reported, never exactly at the threshold;
//! conditions and drugs are listed in full, so one that is not listed is absent (some absent
//! ones are also negated explicitly, "no history of gout"). `met` is computed from the
//! patient's facts after they are drawn, so the labels cannot drift from the text. About 40%
//! of records are eligible: the generator aims for eligibility, or picks one or two criteria
//! to violate.

use serde::Serialize;

use crate::Split;
use crate::concepts::{self, Condition, Course, Drug, Lab, Pool};
use crate::dice::Dice;
use crate::medication::Mention;
use crate::person::Sex;
use crate::text::{ListStyle, Sentence, capitalise, render_note};

#[derive(Debug, Serialize)]
struct Record {
    id: String,
    patient: String,
    trial: Trial,
    criteria: Vec<Label>,
    eligible: bool,
}

#[derive(Debug, Clone, Serialize)]
struct Trial {
    id: String,
    title: String,
    inclusion: Vec<String>,
    exclusion: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Label {
    index: usize,
    kind: Kind,
    met: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Inclusion,
    Exclusion,
}

/// What a criterion asserts about the patient.
#[derive(Debug, Clone, Copy)]
enum Test {
    AgeAtLeast(u32),
    AgeBelow(u32),
    AgeBetween(u32, u32),
    Has(&'static Condition),
    Takes(&'static Drug),
    /// Strictly above a threshold in tenths of the lab's unit.
    Above(&'static Lab, i32),
    /// Strictly below a threshold in tenths of the lab's unit.
    Below(&'static Lab, i32),
}

#[derive(Debug, Clone)]
struct Criterion {
    kind: Kind,
    test: Test,
}

/// A trial as written plus the tests behind its criteria, inclusion first.
#[derive(Debug)]
struct Design {
    trial: Trial,
    criteria: Vec<Criterion>,
}

/// What is true of a patient.
#[derive(Debug)]
struct Facts {
    age: u32,
    sex: Sex,
    conditions: Vec<&'static Condition>,
    drugs: Vec<&'static Drug>,
    labs: Vec<(&'static Lab, i32)>,
}

impl Test {
    fn holds(self, facts: &Facts) -> bool {
        match self {
            Test::AgeAtLeast(n) => facts.age >= n,
            Test::AgeBelow(n) => facts.age < n,
            Test::AgeBetween(lo, hi) => (lo..=hi).contains(&facts.age),
            Test::Has(condition) => facts.conditions.iter().any(|c| std::ptr::eq(*c, condition)),
            Test::Takes(drug) => facts.drugs.iter().any(|d| std::ptr::eq(*d, drug)),
            Test::Above(lab, threshold) => lab_value(facts, lab).is_some_and(|v| v > threshold),
            Test::Below(lab, threshold) => lab_value(facts, lab).is_some_and(|v| v < threshold),
        }
    }

    fn is_age(self) -> bool {
        matches!(
            self,
            Test::AgeAtLeast(_) | Test::AgeBelow(_) | Test::AgeBetween(..)
        )
    }

    fn lab(self) -> Option<&'static Lab> {
        match self {
            Test::Above(lab, _) | Test::Below(lab, _) => Some(lab),
            _ => None,
        }
    }

    /// The criterion as a trial protocol states it. Age criteria have one wording for
    /// training trials and another for held-out ones, so that no criterion text of a
    /// validation or test record appears in training.
    fn text(self, kind: Kind, pool: Pool, dice: &mut Dice) -> String {
        match (self, pool) {
            (Test::AgeAtLeast(n), Pool::Train) => format!("Aged {n} years or older"),
            (Test::AgeBelow(n), Pool::Train) => format!("Aged under {n} years"),
            (Test::AgeBetween(lo, hi), Pool::Train) => format!("Aged {lo} to {hi} years"),
            (Test::AgeAtLeast(n), Pool::HeldOut) => format!("At least {n} years of age"),
            (Test::AgeBelow(n), Pool::HeldOut) => format!("Younger than {n} years"),
            (Test::AgeBetween(lo, hi), Pool::HeldOut) => {
                format!("Between {lo} and {hi} years of age")
            }
            (Test::Has(condition), _) => {
                let lead = match kind {
                    Kind::Inclusion => {
                        dice.pick(&["Diagnosis of ", "Confirmed diagnosis of ", "Established "])
                    }
                    Kind::Exclusion => dice.pick(&["History of ", "Known ", "Prior diagnosis of "]),
                };
                format!("{lead}{}", condition.name())
            }
            (Test::Takes(drug), _) => {
                let lead = match kind {
                    Kind::Inclusion => dice.pick(&["Currently taking ", "On a stable dose of "]),
                    Kind::Exclusion => dice.pick(&["Current use of ", "Current treatment with "]),
                };
                format!("{lead}{}", drug.name)
            }
            (Test::Above(lab, threshold), _) => {
                let word = dice.pick(&["above", "greater than"]);
                format!("{} {word} {}", lab.name, with_unit(lab, threshold))
            }
            (Test::Below(lab, threshold), _) => {
                let word = dice.pick(&["below", "less than"]);
                format!("{} {word} {}", lab.name, with_unit(lab, threshold))
            }
        }
    }
}

fn lab_value(facts: &Facts, lab: &Lab) -> Option<i32> {
    facts
        .labs
        .iter()
        .find(|(l, _)| std::ptr::eq(*l, lab))
        .map(|(_, v)| *v)
}

/// A value in tenths written with the lab's decimals: 71 -> "7.1", 300 -> "30".
fn format_value(lab: &Lab, tenths: i32) -> String {
    if lab.decimals == 0 {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

fn with_unit(lab: &Lab, tenths: i32) -> String {
    let value = format_value(lab, tenths);
    if lab.unit == "%" {
        format!("{value}%")
    } else {
        format!("{value} {}", lab.unit)
    }
}

/// The index of the first criterion; criteria are numbered consecutively over the
/// inclusion list and then the exclusion list.
const FIRST_CRITERION_INDEX: usize = 1;

const TRIALS_TRAIN: usize = 50;
const TRIALS_HELD_OUT: usize = 12;
const TYPO_PERCENT: usize = 2;

pub fn generate(dice: &mut Dice, split: Split) -> Vec<String> {
    let pool = split.pool();
    let trial_count = if pool == Pool::Train {
        TRIALS_TRAIN
    } else {
        TRIALS_HELD_OUT
    };
    let designs: Vec<Design> = (1..=trial_count).map(|t| design(dice, split, t)).collect();
    (1..=split.count())
        .map(|n| {
            let design = &designs[dice.below(designs.len())];
            serde_json::to_string(&record(
                dice,
                pool,
                design,
                format!("trial-{}-{n:04}", split.name()),
            ))
            .expect("records serialise")
        })
        .collect()
}

fn design(dice: &mut Dice, split: Split, t: usize) -> Design {
    let pool = split.pool();
    let conditions = dice.sample(&concepts::conditions(pool, None), 4);
    let chronic = concepts::conditions(pool, Some(Course::Chronic));
    let main = dice.pick(&chronic);
    let others: Vec<&Condition> = conditions
        .into_iter()
        .filter(|c| !std::ptr::eq(*c, main))
        .collect();
    let drugs = dice.sample(&concepts::drugs(pool), 3);
    let labs = dice.sample(&concepts::labs(pool), 2);

    let mut inclusion = vec![
        match dice.weighted(&[45, 35, 20]) {
            0 => Test::AgeAtLeast(dice.pick(&[18, 40, 50, 60])),
            1 => {
                let (lo, hi) = dice.pick(&[(18, 65), (40, 75), (50, 80)]);
                Test::AgeBetween(lo, hi)
            }
            _ => Test::AgeBelow(dice.pick(&[65, 70, 75, 80])),
        },
        Test::Has(main),
    ];
    // Optional inclusion criteria use the first of each concept list, exclusions the rest,
    // so no concept is both required and excluded.
    let optional = [
        Test::Has(others[0]),
        Test::Takes(drugs[0]),
        threshold(labs[0], dice),
    ];
    let extra = dice.weighted(&[30, 45, 25]);
    inclusion.extend(dice.sample(&optional, extra));
    let mut exclusion_candidates = vec![
        Test::Has(others[1]),
        Test::Has(others[2]),
        Test::Takes(drugs[1]),
        threshold(labs[1], dice),
    ];
    if matches!(inclusion[0], Test::AgeAtLeast(_)) {
        exclusion_candidates.push(Test::AgeAtLeast(dice.pick(&[75, 80, 85])));
    }
    let exclusion_count = 1 + dice.below(3);
    let exclusion = dice.sample(&exclusion_candidates, exclusion_count);

    let criteria: Vec<Criterion> = inclusion
        .iter()
        .map(|&test| Criterion {
            kind: Kind::Inclusion,
            test,
        })
        .chain(exclusion.iter().map(|&test| Criterion {
            kind: Kind::Exclusion,
            test,
        }))
        .collect();
    let mut texts = |kind: Kind| -> Vec<String> {
        criteria
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.test.text(kind, pool, dice))
            .collect()
    };
    let inclusion_texts = texts(Kind::Inclusion);
    let exclusion_texts = texts(Kind::Exclusion);
    let drug = drugs[2].name;
    let condition = main.name();
    let title = match dice.below(4) {
        0 => format!(
            "{} versus placebo in adults with {condition}",
            capitalise(drug)
        ),
        1 => format!("A phase 2 study of {drug} in {condition}"),
        2 => format!(
            "{} outcomes with {drug}: a randomised trial",
            capitalise(condition)
        ),
        _ => format!("Early {drug} for {condition}"),
    };
    let prefix = match split {
        Split::Train => "TR",
        Split::Val => "VA",
        Split::Test => "TE",
    };
    let trial = Trial {
        id: format!("SYN-{prefix}-{t:03}"),
        title,
        inclusion: inclusion_texts,
        exclusion: exclusion_texts,
    };
    Design { trial, criteria }
}

fn threshold(lab: &'static Lab, dice: &mut Dice) -> Test {
    let value = dice.pick(lab.thresholds);
    if dice.chance(50) {
        Test::Above(lab, value)
    } else {
        Test::Below(lab, value)
    }
}

fn record(dice: &mut Dice, pool: Pool, design: &Design, id: String) -> Record {
    let facts = loop {
        let mut wanted: Vec<bool> = design
            .criteria
            .iter()
            .map(|c| c.kind == Kind::Inclusion)
            .collect();
        if !dice.chance(40) {
            let flips = if dice.chance(30) { 2 } else { 1 };
            let indices: Vec<usize> = (0..wanted.len()).collect();
            for i in dice.sample(&indices, flips) {
                wanted[i] = !wanted[i];
            }
        }
        if let Some(facts) = facts_for(dice, pool, &design.criteria, &wanted) {
            break facts;
        }
    };
    let criteria: Vec<Label> = design
        .criteria
        .iter()
        .enumerate()
        .map(|(i, c)| Label {
            index: FIRST_CRITERION_INDEX + i,
            kind: c.kind,
            met: c.test.holds(&facts),
        })
        .collect();
    let eligible = criteria
        .iter()
        .all(|l| l.met == (l.kind == Kind::Inclusion));
    Record {
        id,
        patient: describe(dice, &facts, &design.criteria),
        trial: design.trial.clone(),
        criteria,
        eligible,
    }
}

/// Facts under which each criterion's truth equals `wanted`, or `None` when the age or lab
/// constraints cannot be met together.
fn facts_for(
    dice: &mut Dice,
    pool: Pool,
    criteria: &[Criterion],
    wanted: &[bool],
) -> Option<Facts> {
    let sex = if dice.chance(50) {
        Sex::Male
    } else {
        Sex::Female
    };
    let mut facts = Facts {
        age: 0,
        sex,
        conditions: Vec::new(),
        drugs: Vec::new(),
        labs: Vec::new(),
    };
    let satisfied = |facts: &Facts, select: &dyn Fn(Test) -> bool| {
        criteria
            .iter()
            .zip(wanted)
            .filter(|(c, _)| select(c.test))
            .all(|(c, w)| c.test.holds(facts) == *w)
    };
    facts.age = (0..200).map(|_| dice.range(18, 94) as u32).find(|&age| {
        satisfied(
            &Facts {
                age,
                ..facts_shell(sex)
            },
            &|t: Test| t.is_age(),
        )
    })?;
    for (criterion, &want) in criteria.iter().zip(wanted) {
        match criterion.test {
            Test::Has(condition) if want => facts.conditions.push(condition),
            Test::Takes(drug) if want => facts.drugs.push(drug),
            _ => {}
        }
    }
    let mentioned_labs: Vec<&'static Lab> = criteria.iter().filter_map(|c| c.test.lab()).collect();
    for lab in &mentioned_labs {
        let value = (0..200).map(|_| draw_value(lab, dice)).find(|&value| {
            let probe = Facts {
                labs: vec![(*lab, value)],
                ..facts_shell(sex)
            };
            satisfied(&probe, &|t: Test| {
                t.lab().is_some_and(|l| std::ptr::eq(l, *lab))
            })
        })?;
        facts.labs.push((lab, value));
    }

    let named_conditions: Vec<&Condition> = criteria
        .iter()
        .filter_map(|c| {
            if let Test::Has(x) = c.test {
                Some(x)
            } else {
                None
            }
        })
        .collect();
    let spare_conditions: Vec<&'static Condition> =
        concepts::conditions(pool, Some(Course::Chronic))
            .into_iter()
            .filter(|c| !named_conditions.iter().any(|n| std::ptr::eq(*n, *c)))
            .collect();
    let extra = dice.weighted(&[35, 45, 20]);
    facts
        .conditions
        .extend(dice.sample(&spare_conditions, extra));
    let named_drugs: Vec<&Drug> = criteria
        .iter()
        .filter_map(|c| {
            if let Test::Takes(x) = c.test {
                Some(x)
            } else {
                None
            }
        })
        .collect();
    let spare_drugs: Vec<&'static Drug> = concepts::drugs(pool)
        .into_iter()
        .filter(|d| !named_drugs.iter().any(|n| std::ptr::eq(*n, *d)))
        .collect();
    let extra = dice.weighted(&[30, 40, 30]);
    facts.drugs.extend(dice.sample(&spare_drugs, extra));
    if dice.chance(40) {
        let spare_labs: Vec<&'static Lab> = concepts::labs(pool)
            .into_iter()
            .filter(|l| !mentioned_labs.iter().any(|m| std::ptr::eq(*m, *l)))
            .collect();
        let lab = dice.pick(&spare_labs);
        facts.labs.push((lab, draw_value(lab, dice)));
    }
    dice.shuffle(&mut facts.conditions);
    dice.shuffle(&mut facts.drugs);
    Some(facts)
}

fn facts_shell(sex: Sex) -> Facts {
    Facts {
        age: 0,
        sex,
        conditions: Vec::new(),
        drugs: Vec::new(),
        labs: Vec::new(),
    }
}

/// A value in tenths within the lab's range, never equal to one of its thresholds, so
/// "above" and "below" always decide.
fn draw_value(lab: &Lab, dice: &mut Dice) -> i32 {
    loop {
        let value = if lab.decimals == 0 {
            dice.range(lab.range.0 / 10, lab.range.1 / 10) * 10
        } else {
            dice.range(lab.range.0, lab.range.1)
        };
        if !lab.thresholds.contains(&value) {
            return value;
        }
    }
}

/// The patient as a clinician would describe them for screening.
fn describe(dice: &mut Dice, facts: &Facts, criteria: &[Criterion]) -> String {
    let conditions: Vec<String> = facts
        .conditions
        .iter()
        .map(|c| dice.pick(c.forms).to_owned())
        .collect();
    let who = match dice.below(4) {
        0 => format!("{}-year-old {}", facts.age, facts.sex.noun()),
        1 => format!(
            "{}{}",
            facts.age,
            if facts.sex == Sex::Male { "M" } else { "F" }
        ),
        2 => format!("{}, {},", capitalise(facts.sex.noun()), facts.age),
        _ => format!(
            "{} y/o {}",
            facts.age,
            if facts.sex == Sex::Male {
                "male"
            } else {
                "female"
            }
        ),
    };
    let opening = if conditions.is_empty() {
        Sentence::new()
            .key(who)
            .fill(" with no significant past medical history.")
    } else {
        match dice.below(3) {
            0 => Sentence::new()
                .key(who)
                .fill(" with ")
                .list(&conditions, ListStyle::And)
                .fill("."),
            1 => Sentence::new()
                .key(who)
                .fill(". PMH: ")
                .list(&conditions, ListStyle::Comma)
                .fill("."),
            _ => Sentence::new()
                .key(who)
                .fill(" known ")
                .list(&conditions, ListStyle::And)
                .fill("."),
        }
    };
    let mut rest = Vec::new();
    if !facts.labs.is_empty() {
        let readings: Vec<String> = facts
            .labs
            .iter()
            .map(|(lab, value)| {
                let label = dice.pick(lab.labels);
                let value = if lab.label_unit {
                    with_unit(lab, *value)
                } else {
                    format_value(lab, *value)
                };
                format!("{label} {value}")
            })
            .collect();
        let lead = dice.pick(&["Recent labs: ", "Latest results: ", "Bloods and obs: "]);
        rest.push(
            Sentence::new()
                .fill(lead)
                .list(&readings, ListStyle::Comma)
                .fill("."),
        );
    }
    rest.push(if facts.drugs.is_empty() {
        Sentence::new().fill(dice.pick(&["No regular medications.", "Nil regular meds."]))
    } else {
        let texts: Vec<String> = facts
            .drugs
            .iter()
            .map(|d| Mention::draw(d, dice, 50).text)
            .collect();
        let lead = dice.pick(&["Medications: ", "Current meds: ", "Takes "]);
        Sentence::new()
            .fill(lead)
            .list(&texts, ListStyle::And)
            .fill(".")
    });
    for criterion in criteria {
        match criterion.test {
            Test::Has(condition)
                if !facts.conditions.iter().any(|c| std::ptr::eq(*c, condition))
                    && dice.chance(40) =>
            {
                let form = dice.pick(condition.forms).to_owned();
                rest.push(Sentence::new().key("No history of ").key(form).fill("."));
            }
            Test::Takes(drug)
                if !facts.drugs.iter().any(|d| std::ptr::eq(*d, drug)) && dice.chance(30) =>
            {
                rest.push(Sentence::new().key("Not taking ").key(drug.name).fill("."));
            }
            _ => {}
        }
    }
    if dice.chance(40) {
        rest.push(Sentence::new().fill(dice.pick(&[
            "Non-smoker.",
            "Ex-smoker.",
            "Independent with daily activities.",
            "ECOG 1.",
        ])));
    }
    dice.shuffle(&mut rest);
    let mut sentences = vec![opening];
    sentences.extend(rest);
    render_note(&sentences, dice, TYPO_PERCENT)
}
