//! The clinical vocabulary the notes are built from, each concept assigned to one pool.
//!
//! Training records draw only from [`Pool::Train`]; validation and test records only from
//! [`Pool::HeldOut`]. A model that scores well on the held-out sets has therefore learnt the
//! task (find, copy, code, compare) rather than memorised the training concepts. Every
//! surface form is plain ASCII and unique across all concepts, so a value seen in an output
//! names exactly one concept.

/// Which records may use a concept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// Training records only.
    Train,
    /// Validation and test records only.
    HeldOut,
}

/// Whether a condition is the reason for an encounter or part of the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Course {
    /// A new diagnosis made at the encounter (pneumonia, pulmonary embolism).
    Acute,
    /// Long-standing history (hypertension, Crohn's disease).
    Chronic,
}

/// A diagnosis with its billable ICD-10-CM code.
#[derive(Debug)]
pub struct Condition {
    /// Billable (leaf) ICD-10-CM code, written with the dot as in the CMS table.
    pub code: &'static str,
    /// The CMS description of `code`, kept so a reader can check the mapping.
    pub description: &'static str,
    /// How the condition is written in notes; the first is the canonical name used in
    /// summaries and trial criteria.
    pub forms: &'static [&'static str],
    pub course: Course,
    pub pool: Pool,
    /// Symptoms (by canonical name) that an acute presentation of this condition brings.
    pub symptoms: &'static [&'static str],
    /// Drugs (by name, from the same pool) started for an acute presentation.
    pub treatments: &'static [&'static str],
}

impl Condition {
    pub fn name(&self) -> &'static str {
        self.forms[0]
    }
}

/// A drug with the strengths it is prescribed at.
#[derive(Debug)]
pub struct Drug {
    pub name: &'static str,
    /// Strengths as written in notes: the number as text (so `0.5` stays `0.5`) and its unit.
    pub doses: &'static [(&'static str, &'static str)],
    pub pool: Pool,
}

/// A presenting symptom.
#[derive(Debug)]
pub struct Symptom {
    /// How the symptom is written in notes; the first is the canonical name.
    pub forms: &'static [&'static str],
    pub pool: Pool,
}

impl Symptom {
    pub fn name(&self) -> &'static str {
        self.forms[0]
    }
}

/// A laboratory or clinical measurement that trial criteria can threshold.
#[derive(Debug)]
pub struct Lab {
    /// Name used in trial criteria.
    pub name: &'static str,
    /// Unit written after values in criteria and, where `label_unit` is set, in patient text.
    pub unit: &'static str,
    /// Labels used in patient descriptions.
    pub labels: &'static [&'static str],
    /// Whether patient descriptions write the unit after the value.
    pub label_unit: bool,
    /// Range of plausible values in tenths of `unit`.
    pub range: (i32, i32),
    /// Number of decimals written (0 or 1); with 0, values are whole numbers.
    pub decimals: u8,
    /// Criterion thresholds in tenths of `unit`.
    pub thresholds: &'static [i32],
    pub pool: Pool,
}

use Course::{Acute, Chronic};
use Pool::{HeldOut, Train};

macro_rules! condition {
    ($code:literal, $description:literal, [$($form:literal),+], $course:expr, $pool:expr) => {
        condition!($code, $description, [$($form),+], $course, $pool, [], [])
    };
    ($code:literal, $description:literal, [$($form:literal),+], $course:expr, $pool:expr, [$($symptom:literal),*], [$($drug:literal),*]) => {
        Condition {
            code: $code,
            description: $description,
            forms: &[$($form),+],
            course: $course,
            pool: $pool,
            symptoms: &[$($symptom),*],
            treatments: &[$($drug),*],
        }
    };
}

/// Sixty conditions: 36 for training, 24 held out.
#[rustfmt::skip]
pub const CONDITIONS: &[Condition] = &[
    condition!("I10", "Essential (primary) hypertension", ["hypertension", "HTN", "high blood pressure"], Chronic, Train),
    condition!("E11.9", "Type 2 diabetes mellitus without complications", ["type 2 diabetes", "T2DM", "type 2 diabetes mellitus"], Chronic, Train),
    condition!("E78.5", "Hyperlipidemia, unspecified", ["hyperlipidaemia", "high cholesterol", "hyperlipidemia"], Chronic, Train),
    condition!("J45.909", "Unspecified asthma, uncomplicated", ["asthma"], Chronic, Train),
    condition!("J44.9", "Chronic obstructive pulmonary disease, unspecified", ["COPD", "chronic obstructive pulmonary disease"], Chronic, Train),
    condition!("I48.91", "Unspecified atrial fibrillation", ["atrial fibrillation", "AF", "afib"], Chronic, Train),
    condition!("I50.9", "Heart failure, unspecified", ["heart failure", "CHF"], Chronic, Train),
    condition!("N18.30", "Chronic kidney disease, stage 3 unspecified", ["chronic kidney disease stage 3", "CKD stage 3", "CKD3"], Chronic, Train),
    condition!("E03.9", "Hypothyroidism, unspecified", ["hypothyroidism", "underactive thyroid"], Chronic, Train),
    condition!("F32.A", "Depression, unspecified", ["depression", "depressive disorder"], Chronic, Train),
    condition!("F41.1", "Generalized anxiety disorder", ["generalised anxiety disorder", "GAD"], Chronic, Train),
    condition!("K21.9", "Gastro-esophageal reflux disease without esophagitis", ["gastro-oesophageal reflux disease", "GORD", "GERD"], Chronic, Train),
    condition!("M19.90", "Unspecified osteoarthritis, unspecified site", ["osteoarthritis", "OA"], Chronic, Train),
    condition!("G43.909", "Migraine, unspecified, not intractable, without status migrainosus", ["migraine", "migraines"], Chronic, Train),
    condition!("E66.9", "Obesity, unspecified", ["obesity"], Chronic, Train),
    condition!("I25.10", "Atherosclerotic heart disease of native coronary artery without angina pectoris", ["coronary artery disease", "CAD", "IHD"], Chronic, Train),
    condition!("D64.9", "Anemia, unspecified", ["anaemia", "anemia"], Chronic, Train),
    condition!("G47.33", "Obstructive sleep apnea (adult) (pediatric)", ["obstructive sleep apnoea", "OSA"], Chronic, Train),
    condition!("K57.30", "Diverticulosis of large intestine without perforation or abscess without bleeding", ["diverticulosis"], Chronic, Train),
    condition!("M81.0", "Age-related osteoporosis without current pathological fracture", ["osteoporosis"], Chronic, Train),
    condition!("E55.9", "Vitamin D deficiency, unspecified", ["vitamin D deficiency", "low vitamin D"], Chronic, Train),
    condition!("L40.0", "Psoriasis vulgaris", ["psoriasis"], Chronic, Train),
    condition!("M10.9", "Gout, unspecified", ["gout"], Chronic, Train),
    condition!("G40.909", "Epilepsy, unspecified, not intractable, without status epilepticus", ["epilepsy"], Chronic, Train),
    condition!("I73.9", "Peripheral vascular disease, unspecified", ["peripheral vascular disease", "PVD"], Chronic, Train),
    condition!("K58.9", "Irritable bowel syndrome, unspecified", ["irritable bowel syndrome", "IBS"], Chronic, Train),
    condition!("B18.2", "Chronic viral hepatitis C", ["chronic hepatitis C", "hep C", "HCV"], Chronic, Train),
    condition!("E05.90", "Thyrotoxicosis, unspecified without thyrotoxic crisis or storm", ["hyperthyroidism", "overactive thyroid"], Chronic, Train),
    condition!("G30.9", "Alzheimer's disease, unspecified", ["Alzheimer's disease", "Alzheimer's dementia"], Chronic, Train),
    condition!("J18.9", "Pneumonia, unspecified organism", ["pneumonia", "chest infection"], Acute, Train, ["cough", "fever", "shortness of breath", "chest pain"], ["amoxicillin"]),
    condition!("N39.0", "Urinary tract infection, site not specified", ["urinary tract infection", "UTI"], Acute, Train, ["dysuria", "fever", "abdominal pain"], ["nitrofurantoin"]),
    condition!("L03.90", "Cellulitis, unspecified", ["cellulitis"], Acute, Train, ["leg redness", "fever", "rash"], ["flucloxacillin"]),
    condition!("H66.90", "Otitis media, unspecified, unspecified ear", ["otitis media", "middle ear infection"], Acute, Train, ["ear pain", "fever", "headache"], ["amoxicillin", "paracetamol"]),
    condition!("A09", "Infectious gastroenteritis and colitis, unspecified", ["gastroenteritis", "viral gastro"], Acute, Train, ["diarrhoea", "vomiting", "nausea", "abdominal pain"], ["ondansetron"]),
    condition!("J06.9", "Acute upper respiratory infection, unspecified", ["upper respiratory tract infection", "URTI"], Acute, Train, ["sore throat", "cough", "fever", "headache"], ["paracetamol", "ibuprofen"]),
    condition!("K29.70", "Gastritis, unspecified, without bleeding", ["gastritis"], Acute, Train, ["abdominal pain", "nausea", "vomiting"], ["omeprazole"]),
    condition!("K50.90", "Crohn's disease, unspecified, without complications", ["Crohn's disease", "Crohn's"], Chronic, HeldOut),
    condition!("K51.90", "Ulcerative colitis, unspecified, without complications", ["ulcerative colitis", "UC"], Chronic, HeldOut),
    condition!("M06.9", "Rheumatoid arthritis, unspecified", ["rheumatoid arthritis", "RA"], Chronic, HeldOut),
    condition!("G20.A1", "Parkinson's disease without dyskinesia, without mention of fluctuations", ["Parkinson's disease", "Parkinson's"], Chronic, HeldOut),
    condition!("G35.A", "Relapsing-remitting multiple sclerosis", ["relapsing-remitting multiple sclerosis", "RRMS"], Chronic, HeldOut),
    condition!("E10.9", "Type 1 diabetes mellitus without complications", ["type 1 diabetes", "T1DM", "type 1 diabetes mellitus"], Chronic, HeldOut),
    condition!("J84.10", "Pulmonary fibrosis, unspecified", ["pulmonary fibrosis", "lung fibrosis"], Chronic, HeldOut),
    condition!("K74.60", "Unspecified cirrhosis of liver", ["liver cirrhosis", "cirrhosis"], Chronic, HeldOut),
    condition!("M32.9", "Systemic lupus erythematosus, unspecified", ["systemic lupus erythematosus", "SLE", "lupus"], Chronic, HeldOut),
    condition!("D50.9", "Iron deficiency anemia, unspecified", ["iron deficiency anaemia", "IDA"], Chronic, HeldOut),
    condition!("E21.3", "Hyperparathyroidism, unspecified", ["hyperparathyroidism"], Chronic, HeldOut),
    condition!("I35.0", "Nonrheumatic aortic (valve) stenosis", ["aortic stenosis", "AS"], Chronic, HeldOut),
    condition!("F31.9", "Bipolar disorder, unspecified", ["bipolar disorder", "bipolar affective disorder"], Chronic, HeldOut),
    condition!("L20.9", "Atopic dermatitis, unspecified", ["atopic dermatitis", "eczema"], Chronic, HeldOut),
    condition!("H40.9", "Unspecified glaucoma", ["glaucoma"], Chronic, HeldOut),
    condition!("J30.9", "Allergic rhinitis, unspecified", ["allergic rhinitis", "hay fever"], Chronic, HeldOut),
    condition!("M79.7", "Fibromyalgia", ["fibromyalgia"], Chronic, HeldOut),
    condition!("I27.20", "Pulmonary hypertension, unspecified", ["pulmonary hypertension", "pulm HTN"], Chronic, HeldOut),
    condition!("I26.99", "Other pulmonary embolism without acute cor pulmonale", ["pulmonary embolism", "PE"], Acute, HeldOut, ["pleuritic pain", "haemoptysis", "syncope"], ["rivaroxaban"]),
    condition!("I82.409", "Acute embolism and thrombosis of unspecified deep veins of unspecified lower extremity", ["deep vein thrombosis", "DVT"], Acute, HeldOut, ["calf pain", "calf swelling"], ["rivaroxaban"]),
    condition!("K85.90", "Acute pancreatitis without necrosis or infection, unspecified", ["acute pancreatitis"], Acute, HeldOut, ["epigastric pain", "loss of appetite", "chills"], ["metoclopramide"]),
    condition!("N20.0", "Calculus of kidney", ["kidney stones", "nephrolithiasis", "renal calculus"], Acute, HeldOut, ["flank pain", "haematuria", "chills"], ["diclofenac"]),
    condition!("J01.90", "Acute sinusitis, unspecified", ["acute sinusitis"], Acute, HeldOut, ["facial pain", "nasal congestion", "loss of appetite"], ["doxycycline"]),
    condition!("K81.0", "Acute cholecystitis", ["acute cholecystitis"], Acute, HeldOut, ["RUQ pain", "chills", "jaundice"], ["co-amoxiclav"]),
];

/// Forty-seven drugs: 26 for training, 21 held out.
#[rustfmt::skip]
pub const DRUGS: &[Drug] = &[
    Drug { name: "metformin", doses: &[("500", "mg"), ("850", "mg"), ("1000", "mg")], pool: Train },
    Drug { name: "lisinopril", doses: &[("5", "mg"), ("10", "mg"), ("20", "mg")], pool: Train },
    Drug { name: "amlodipine", doses: &[("5", "mg"), ("10", "mg")], pool: Train },
    Drug { name: "atorvastatin", doses: &[("20", "mg"), ("40", "mg"), ("80", "mg")], pool: Train },
    Drug { name: "simvastatin", doses: &[("20", "mg"), ("40", "mg")], pool: Train },
    Drug { name: "omeprazole", doses: &[("20", "mg"), ("40", "mg")], pool: Train },
    Drug { name: "salbutamol", doses: &[("100", "mcg"), ("200", "mcg")], pool: Train },
    Drug { name: "levothyroxine", doses: &[("50", "mcg"), ("75", "mcg"), ("100", "mcg")], pool: Train },
    Drug { name: "sertraline", doses: &[("50", "mg"), ("100", "mg")], pool: Train },
    Drug { name: "metoprolol", doses: &[("25", "mg"), ("50", "mg")], pool: Train },
    Drug { name: "furosemide", doses: &[("20", "mg"), ("40", "mg")], pool: Train },
    Drug { name: "aspirin", doses: &[("75", "mg"), ("81", "mg")], pool: Train },
    Drug { name: "warfarin", doses: &[("3", "mg"), ("5", "mg")], pool: Train },
    Drug { name: "apixaban", doses: &[("2.5", "mg"), ("5", "mg")], pool: Train },
    Drug { name: "insulin glargine", doses: &[("10", "units"), ("20", "units"), ("24", "units")], pool: Train },
    Drug { name: "paracetamol", doses: &[("500", "mg"), ("1", "g")], pool: Train },
    Drug { name: "ibuprofen", doses: &[("200", "mg"), ("400", "mg")], pool: Train },
    Drug { name: "allopurinol", doses: &[("100", "mg"), ("300", "mg")], pool: Train },
    Drug { name: "gabapentin", doses: &[("300", "mg"), ("600", "mg")], pool: Train },
    Drug { name: "amoxicillin", doses: &[("500", "mg"), ("1", "g")], pool: Train },
    Drug { name: "prednisolone", doses: &[("5", "mg"), ("30", "mg")], pool: Train },
    Drug { name: "ramipril", doses: &[("2.5", "mg"), ("5", "mg"), ("10", "mg")], pool: Train },
    Drug { name: "bisoprolol", doses: &[("2.5", "mg"), ("5", "mg")], pool: Train },
    Drug { name: "nitrofurantoin", doses: &[("50", "mg"), ("100", "mg")], pool: Train },
    Drug { name: "flucloxacillin", doses: &[("500", "mg"), ("1", "g")], pool: Train },
    Drug { name: "ondansetron", doses: &[("4", "mg"), ("8", "mg")], pool: Train },
    Drug { name: "valsartan", doses: &[("80", "mg"), ("160", "mg")], pool: HeldOut },
    Drug { name: "carvedilol", doses: &[("6.25", "mg"), ("12.5", "mg")], pool: HeldOut },
    Drug { name: "rosuvastatin", doses: &[("10", "mg"), ("20", "mg")], pool: HeldOut },
    Drug { name: "esomeprazole", doses: &[("20", "mg"), ("40", "mg")], pool: HeldOut },
    Drug { name: "empagliflozin", doses: &[("10", "mg"), ("25", "mg")], pool: HeldOut },
    Drug { name: "sitagliptin", doses: &[("50", "mg"), ("100", "mg")], pool: HeldOut },
    Drug { name: "clopidogrel", doses: &[("75", "mg")], pool: HeldOut },
    Drug { name: "rivaroxaban", doses: &[("15", "mg"), ("20", "mg")], pool: HeldOut },
    Drug { name: "spironolactone", doses: &[("25", "mg"), ("50", "mg")], pool: HeldOut },
    Drug { name: "duloxetine", doses: &[("30", "mg"), ("60", "mg")], pool: HeldOut },
    Drug { name: "montelukast", doses: &[("10", "mg")], pool: HeldOut },
    Drug { name: "methotrexate", doses: &[("10", "mg"), ("15", "mg")], pool: HeldOut },
    Drug { name: "hydroxychloroquine", doses: &[("200", "mg"), ("400", "mg")], pool: HeldOut },
    Drug { name: "levetiracetam", doses: &[("250", "mg"), ("500", "mg")], pool: HeldOut },
    Drug { name: "colchicine", doses: &[("0.5", "mg")], pool: HeldOut },
    Drug { name: "digoxin", doses: &[("62.5", "mcg"), ("125", "mcg")], pool: HeldOut },
    Drug { name: "doxycycline", doses: &[("100", "mg")], pool: HeldOut },
    Drug { name: "insulin aspart", doses: &[("6", "units"), ("8", "units")], pool: HeldOut },
    Drug { name: "diclofenac", doses: &[("50", "mg"), ("75", "mg")], pool: HeldOut },
    Drug { name: "co-amoxiclav", doses: &[("625", "mg")], pool: HeldOut },
    Drug { name: "metoclopramide", doses: &[("10", "mg")], pool: HeldOut },
];

/// Forty-three symptoms: 19 for training, 24 held out.
#[rustfmt::skip]
pub const SYMPTOMS: &[Symptom] = &[
    Symptom { forms: &["chest pain", "chest tightness"], pool: Train },
    Symptom { forms: &["shortness of breath", "SOB", "breathlessness"], pool: Train },
    Symptom { forms: &["cough", "productive cough"], pool: Train },
    Symptom { forms: &["fever", "fevers", "high temperature"], pool: Train },
    Symptom { forms: &["headache", "headaches"], pool: Train },
    Symptom { forms: &["nausea"], pool: Train },
    Symptom { forms: &["vomiting"], pool: Train },
    Symptom { forms: &["dizziness", "lightheadedness"], pool: Train },
    Symptom { forms: &["fatigue", "tiredness"], pool: Train },
    Symptom { forms: &["abdominal pain", "abdo pain", "tummy pain"], pool: Train },
    Symptom { forms: &["palpitations"], pool: Train },
    Symptom { forms: &["sore throat"], pool: Train },
    Symptom { forms: &["diarrhoea", "diarrhea", "loose stools"], pool: Train },
    Symptom { forms: &["wheeze", "wheezing"], pool: Train },
    Symptom { forms: &["ankle swelling", "swollen ankles"], pool: Train },
    Symptom { forms: &["dysuria", "burning on urination"], pool: Train },
    Symptom { forms: &["rash", "itchy rash"], pool: Train },
    Symptom { forms: &["ear pain", "earache"], pool: Train },
    Symptom { forms: &["leg redness", "red swollen leg"], pool: Train },
    Symptom { forms: &["pleuritic pain"], pool: HeldOut },
    Symptom { forms: &["haemoptysis", "hemoptysis", "coughing up blood"], pool: HeldOut },
    Symptom { forms: &["syncope", "blackout", "fainting"], pool: HeldOut },
    Symptom { forms: &["calf pain"], pool: HeldOut },
    Symptom { forms: &["calf swelling", "swollen calf"], pool: HeldOut },
    Symptom { forms: &["epigastric pain"], pool: HeldOut },
    Symptom { forms: &["loss of appetite", "poor appetite", "reduced appetite"], pool: HeldOut },
    Symptom { forms: &["chills", "rigors"], pool: HeldOut },
    Symptom { forms: &["flank pain", "loin pain"], pool: HeldOut },
    Symptom { forms: &["haematuria", "hematuria", "blood in urine"], pool: HeldOut },
    Symptom { forms: &["facial pain"], pool: HeldOut },
    Symptom { forms: &["nasal congestion", "blocked nose"], pool: HeldOut },
    Symptom { forms: &["RUQ pain", "right upper quadrant pain"], pool: HeldOut },
    Symptom { forms: &["jaundice", "yellow skin"], pool: HeldOut },
    Symptom { forms: &["night sweats"], pool: HeldOut },
    Symptom { forms: &["blurred vision"], pool: HeldOut },
    Symptom { forms: &["numbness", "tingling"], pool: HeldOut },
    Symptom { forms: &["tremor", "shaking"], pool: HeldOut },
    Symptom { forms: &["constipation"], pool: HeldOut },
    Symptom { forms: &["insomnia", "poor sleep"], pool: HeldOut },
    Symptom { forms: &["itching", "pruritus"], pool: HeldOut },
    Symptom { forms: &["hoarseness", "hoarse voice"], pool: HeldOut },
    Symptom { forms: &["confusion"], pool: HeldOut },
    Symptom { forms: &["bloating"], pool: HeldOut },
];

/// Eleven measurements: 5 for training, 6 held out.
#[rustfmt::skip]
pub const LABS: &[Lab] = &[
    Lab { name: "HbA1c", unit: "%", labels: &["HbA1c", "A1c"], label_unit: true, range: (50, 120), decimals: 1, thresholds: &[65, 70, 75, 80, 90], pool: Train },
    Lab { name: "eGFR", unit: "mL/min/1.73m2", labels: &["eGFR"], label_unit: false, range: (150, 1100), decimals: 0, thresholds: &[300, 450, 600], pool: Train },
    Lab { name: "LDL cholesterol", unit: "mmol/L", labels: &["LDL", "LDL-C"], label_unit: true, range: (12, 60), decimals: 1, thresholds: &[18, 26, 30, 40], pool: Train },
    Lab { name: "BMI", unit: "kg/m2", labels: &["BMI"], label_unit: false, range: (180, 450), decimals: 1, thresholds: &[250, 300, 350, 400], pool: Train },
    Lab { name: "Systolic blood pressure", unit: "mmHg", labels: &["SBP", "systolic BP"], label_unit: true, range: (1000, 1900), decimals: 0, thresholds: &[1400, 1600, 1800], pool: Train },
    Lab { name: "Haemoglobin", unit: "g/dL", labels: &["Hb", "haemoglobin"], label_unit: true, range: (70, 170), decimals: 1, thresholds: &[90, 100, 120], pool: HeldOut },
    Lab { name: "Platelet count", unit: "x10^9/L", labels: &["platelets", "plt"], label_unit: false, range: (400, 4500), decimals: 0, thresholds: &[1000, 1500], pool: HeldOut },
    Lab { name: "ALT", unit: "U/L", labels: &["ALT"], label_unit: true, range: (80, 2500), decimals: 0, thresholds: &[400, 1000, 1200], pool: HeldOut },
    Lab { name: "TSH", unit: "mIU/L", labels: &["TSH"], label_unit: true, range: (1, 120), decimals: 1, thresholds: &[4, 45, 100], pool: HeldOut },
    Lab { name: "Serum potassium", unit: "mmol/L", labels: &["K+", "potassium"], label_unit: true, range: (28, 62), decimals: 1, thresholds: &[35, 50, 55], pool: HeldOut },
    Lab { name: "LVEF", unit: "%", labels: &["LVEF", "EF"], label_unit: true, range: (150, 700), decimals: 0, thresholds: &[350, 400, 500], pool: HeldOut },
];

pub const MALE_FIRST_NAMES: &[&str] = &[
    "Tomas", "Arjun", "Declan", "Mateo", "Kwame", "Oskar", "Idris", "Ravi", "Henrik", "Callum",
    "Yusuf", "Bruno", "Emeka", "Lorcan", "Dmitri", "Felix", "Hamza", "Niall", "Soren", "Wen",
];

pub const FEMALE_FIRST_NAMES: &[&str] = &[
    "Amara", "Ingrid", "Priya", "Sinead", "Lucia", "Mei", "Olufunke", "Greta", "Yasmin", "Elodie",
    "Freya", "Nadia", "Roisin", "Keiko", "Beatriz", "Maren", "Zainab", "Ilse", "Tamsin", "Anouk",
];

pub const LAST_NAMES: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Hargreaves",
    "Castellano",
    "Brannigan",
    "Nakashima",
    "Adeyemi",
    "Kowalczyk",
    "Fairbairn",
    "Santoro",
    "Achterberg",
    "Delacroix",
    "Mbeki",
    "Thorsen",
    "Quigley",
    "Varga",
    "Ellingham",
    "Petrakis",
    "Dunmore",
    "Rahimi",
    "Halvorsen",
    "Ashdown",
    "Ferreira",
    "Oyelaran",
    "Birkett",
    "Zielinski",
    "Marchetti",
    "Coulthard",
    "Tanaka",
];

/// The conditions of `pool` with the given course, in table order.
pub fn conditions(pool: Pool, course: Option<Course>) -> Vec<&'static Condition> {
    CONDITIONS
        .iter()
        .filter(|c| c.pool == pool && course.is_none_or(|wanted| c.course == wanted))
        .collect()
}

pub fn drugs(pool: Pool) -> Vec<&'static Drug> {
    DRUGS.iter().filter(|d| d.pool == pool).collect()
}

pub fn symptoms(pool: Pool) -> Vec<&'static Symptom> {
    SYMPTOMS.iter().filter(|s| s.pool == pool).collect()
}

pub fn labs(pool: Pool) -> Vec<&'static Lab> {
    LABS.iter().filter(|l| l.pool == pool).collect()
}

/// The drug called `name`.
pub fn drug(name: &str) -> &'static Drug {
    DRUGS
        .iter()
        .find(|d| d.name == name)
        .expect("every treatment named by a condition is in the drug table")
}

/// The symptom whose canonical name is `name`.
pub fn symptom(name: &str) -> &'static Symptom {
    SYMPTOMS
        .iter()
        .find(|s| s.name() == name)
        .expect("every symptom named by a condition is in the symptom table")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every surface form of every concept, with the pool it belongs to.
    fn all_forms() -> Vec<(&'static str, Pool)> {
        let mut forms = Vec::new();
        forms.extend(
            CONDITIONS
                .iter()
                .flat_map(|c| c.forms.iter().map(|f| (*f, c.pool))),
        );
        forms.extend(DRUGS.iter().map(|d| (d.name, d.pool)));
        forms.extend(
            SYMPTOMS
                .iter()
                .flat_map(|s| s.forms.iter().map(|f| (*f, s.pool))),
        );
        forms.extend(LABS.iter().map(|l| (l.name, l.pool)));
        forms
    }

    #[test]
    fn surface_forms_are_unique_and_ascii() {
        let forms = all_forms();
        for (i, (form, _)) in forms.iter().enumerate() {
            assert!(form.is_ascii(), "non-ASCII form `{form}`");
            let again = forms[i + 1..]
                .iter()
                .find(|(other, _)| other.eq_ignore_ascii_case(form));
            assert!(again.is_none(), "form `{form}` names two concepts");
        }
    }

    #[test]
    fn codes_are_unique_and_split_36_train_24_held_out() {
        for (i, condition) in CONDITIONS.iter().enumerate() {
            assert!(
                CONDITIONS[i + 1..]
                    .iter()
                    .all(|other| other.code != condition.code),
                "code `{}` used twice",
                condition.code
            );
        }
        assert_eq!(conditions(Pool::Train, None).len(), 36);
        assert_eq!(conditions(Pool::HeldOut, None).len(), 24);
    }

    #[test]
    fn acute_conditions_name_symptoms_and_treatments_of_their_own_pool() {
        for condition in CONDITIONS {
            let acute = condition.course == Course::Acute;
            assert_eq!(
                !condition.symptoms.is_empty(),
                acute,
                "`{}` symptoms",
                condition.name()
            );
            assert_eq!(
                !condition.treatments.is_empty(),
                acute,
                "`{}` treatments",
                condition.name()
            );
            for name in condition.symptoms {
                assert_eq!(
                    symptom(name).pool,
                    condition.pool,
                    "`{}`: symptom `{name}`",
                    condition.name()
                );
            }
            for name in condition.treatments {
                assert_eq!(
                    drug(name).pool,
                    condition.pool,
                    "`{}`: treatment `{name}`",
                    condition.name()
                );
            }
        }
    }

    #[test]
    fn every_pool_has_enough_of_each_kind_of_concept() {
        for pool in [Pool::Train, Pool::HeldOut] {
            assert!(
                conditions(pool, Some(Course::Acute)).len() >= 6,
                "{pool:?} acute conditions"
            );
            assert!(
                conditions(pool, Some(Course::Chronic)).len() >= 15,
                "{pool:?} chronic conditions"
            );
            assert!(drugs(pool).len() >= 15, "{pool:?} drugs");
            assert!(symptoms(pool).len() >= 15, "{pool:?} symptoms");
            assert!(labs(pool).len() >= 5, "{pool:?} labs");
        }
    }

    #[test]
    fn lab_thresholds_lie_inside_their_range_and_match_their_decimals() {
        for lab in LABS {
            for threshold in lab.thresholds {
                assert!(
                    lab.range.0 < *threshold && *threshold < lab.range.1,
                    "{}: {threshold}",
                    lab.name
                );
                if lab.decimals == 0 {
                    assert_eq!(threshold % 10, 0, "{}: {threshold} has a decimal", lab.name);
                }
            }
        }
    }
}
