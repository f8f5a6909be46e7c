//! Hospitals whose notes differ the way real ones do, for the federated trial: each site
//! writes `fhir-extraction` records from its own [`Profile`] (which patients it sees, which
//! conditions and drugs dominate, how tersely its clinicians write), with its own train,
//! validation and test files. The three test files together are the federation's shared
//! test set; each one alone is that site's own distribution, where its weakest-site gain is
//! measured.
//!
//! A profile skews *which* concepts a note draws, never the pools: a site's training notes
//! still use only [`Pool::Train`](crate::concepts::Pool::Train) concepts and its validation
//! and test notes only held-out ones.

use std::ops::RangeInclusive;

use crate::dice::Dice;
use crate::person::Stated;

/// How one site's notes are drawn.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Ages of the patients the site sees.
    pub ages: RangeInclusive<i32>,
    /// How often a note states the name, age and sex.
    pub stated: Stated,
    /// Canonical names of the conditions, drugs and symptoms the site sees most; empty for
    /// the general mix.
    pub focus: &'static [&'static str],
    /// Shortest surface forms (abbreviations) and no sentence without an extract value.
    pub terse: bool,
    /// Note length in words.
    pub words: RangeInclusive<usize>,
}

/// How many focused concepts a draw list is topped up with from the rest of the pool, so a
/// focused site still sees some of everything.
const OTHERS: usize = 2;

impl Profile {
    /// The shipped `fhir-extraction` dataset's mix.
    pub const GENERAL: Profile = Profile {
        ages: 18..=94,
        stated: Stated {
            name: 60,
            age: 73,
            sex: 88,
        },
        focus: &[],
        terse: false,
        words: 40..=90,
    };

    /// The concepts a note of this site draws from: `items` itself for the general mix,
    /// otherwise the focused ones plus [`OTHERS`] drawn from the rest.
    pub fn favour<T: Copy>(&self, items: Vec<T>, name: fn(T) -> &'static str, dice: &mut Dice) -> Vec<T> {
        if self.focus.is_empty() {
            return items;
        }
        let (mut focused, rest): (Vec<T>, Vec<T>) =
            items.into_iter().partition(|item| self.focus.contains(&name(*item)));
        focused.extend(dice.sample(&rest, OTHERS));
        focused
    }

    /// The surface form a note writes: any of `forms`, or the shortest for a terse site.
    pub fn form(&self, forms: &[&'static str], dice: &mut Dice) -> String {
        let form = if self.terse {
            forms.iter().copied().min_by_key(|f| f.len()).expect("concepts have forms")
        } else {
            dice.pick(forms)
        };
        form.to_owned()
    }
}

/// One hospital of the federated trial and the size of its files.
#[derive(Debug, Clone)]
pub struct Site {
    /// The site's name: its folder under `data/federation/` and part of every record id.
    pub name: &'static str,
    pub profile: Profile,
    pub train: usize,
    pub val: usize,
    pub test: usize,
}

/// The three sites: a cardiology centre with the most notes, a children's hospital with the
/// fewest (ages often unrecorded) and a general practice that writes in abbreviations.
pub fn sites() -> [Site; 3] {
    [
        Site {
            name: "cardiology",
            profile: Profile {
                focus: CARDIOLOGY,
                ages: 40..=94,
                ..Profile::GENERAL
            },
            train: 300,
            val: 24,
            test: 24,
        },
        Site {
            name: "paediatric",
            profile: Profile {
                focus: PAEDIATRIC,
                ages: 1..=16,
                stated: Stated {
                    name: 60,
                    age: 35,
                    sex: 88,
                },
                ..Profile::GENERAL
            },
            train: 120,
            val: 24,
            test: 24,
        },
        Site {
            name: "terse",
            profile: Profile {
                terse: true,
                words: 15..=45,
                ..Profile::GENERAL
            },
            train: 180,
            val: 24,
            test: 24,
        },
    ]
}

/// Heart and vessels: conditions, drugs and symptoms of both pools.
#[rustfmt::skip]
const CARDIOLOGY: &[&str] = &[
    "hypertension", "atrial fibrillation", "heart failure", "coronary artery disease",
    "peripheral vascular disease", "aortic stenosis", "pulmonary hypertension",
    "pulmonary embolism", "deep vein thrombosis",
    "lisinopril", "amlodipine", "atorvastatin", "metoprolol", "furosemide", "aspirin",
    "warfarin", "apixaban", "ramipril", "bisoprolol", "valsartan", "carvedilol",
    "rosuvastatin", "clopidogrel", "rivaroxaban", "spironolactone", "digoxin",
    "chest pain", "shortness of breath", "palpitations", "dizziness", "ankle swelling",
    "syncope", "pleuritic pain", "calf swelling",
];

/// Childhood illness: conditions, drugs and symptoms of both pools.
#[rustfmt::skip]
const PAEDIATRIC: &[&str] = &[
    "asthma", "epilepsy", "migraine", "otitis media", "gastroenteritis",
    "upper respiratory tract infection", "atopic dermatitis", "allergic rhinitis",
    "type 1 diabetes", "acute sinusitis",
    "salbutamol", "amoxicillin", "paracetamol", "ibuprofen", "ondansetron", "prednisolone",
    "montelukast", "levetiracetam", "insulin aspart", "co-amoxiclav", "metoclopramide",
    "fever", "cough", "ear pain", "sore throat", "rash", "vomiting", "wheeze",
    "nasal congestion", "facial pain", "loss of appetite", "constipation", "itching",
];
