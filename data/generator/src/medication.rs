//! Drug mentions as notes write them ("metformin 500mg bid", "Apixaban 5 mg od", "aspirin")
//! and the structured form a FHIR-like extract gives them.

use serde::Serialize;
use serde_json::Number;

use crate::concepts::Drug;
use crate::dice::Dice;

/// A medication as the `fhir-extraction` task expects it.
#[derive(Debug, Clone, Serialize)]
pub struct Medication {
    /// The drug name exactly as the note writes it.
    pub name: String,
    pub dose: Option<Dose>,
}

/// A strength split into its number and unit: "500mg" is 500 and "mg".
#[derive(Debug, Clone, Serialize)]
pub struct Dose {
    pub value: Number,
    pub unit: String,
}

/// One mention of a drug in a note.
#[derive(Debug, Clone)]
pub struct Mention {
    pub text: String,
    pub medication: Medication,
}

const FREQUENCIES: &[&str] = &[
    "od",
    "bd",
    "bid",
    "tid",
    "tds",
    "daily",
    "once daily",
    "twice daily",
    "nocte",
    "mane",
    "prn",
];

impl Mention {
    /// A mention of `drug`, with a strength `dose_percent` of the time.
    pub fn draw(drug: &Drug, dice: &mut Dice, dose_percent: usize) -> Self {
        let name = if dice.chance(15) {
            crate::text::capitalise(drug.name)
        } else {
            drug.name.to_owned()
        };
        let mut text = name.clone();
        let dose = dice.chance(dose_percent).then(|| {
            let (value, unit) = dice.pick(drug.doses);
            let spaced = unit == "units" || dice.chance(40);
            text.push(' ');
            text.push_str(value);
            if spaced {
                text.push(' ');
            }
            text.push_str(unit);
            Dose {
                value: number(value),
                unit: unit.to_owned(),
            }
        });
        if dose.is_some() || dice.chance(30) {
            text.push(' ');
            text.push_str(dice.pick(FREQUENCIES));
        }
        Mention {
            text,
            medication: Medication { name, dose },
        }
    }
}

/// The JSON number for a strength written as text: an integer when it has no decimal point,
/// so `500` is written `500` and not `500.0`.
fn number(text: &str) -> Number {
    if text.contains('.') {
        let value: f64 = text
            .parse()
            .expect("strengths in the drug table are decimal numbers");
        Number::from_f64(value).expect("strengths in the drug table are finite")
    } else {
        let value: u64 = text
            .parse()
            .expect("strengths in the drug table are whole numbers");
        Number::from(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strengths_become_integers_or_decimals_as_written() {
        assert_eq!(
            serde_json::to_string(&number("500")).expect("serialise"),
            "500"
        );
        assert_eq!(
            serde_json::to_string(&number("0.5")).expect("serialise"),
            "0.5"
        );
        assert_eq!(
            serde_json::to_string(&number("6.25")).expect("serialise"),
            "6.25"
        );
    }

    #[test]
    fn a_mention_writes_the_dose_it_records() {
        let mut dice = Dice::new(3, 0);
        for drug in crate::concepts::DRUGS {
            let mention = Mention::draw(drug, &mut dice, 100);
            let dose = mention.medication.dose.expect("dose drawn at 100 percent");
            let compact = format!("{}{}", dose.value, dose.unit);
            let spaced = format!("{} {}", dose.value, dose.unit);
            assert!(
                mention.text.contains(&compact) || mention.text.contains(&spaced),
                "mention `{}` does not write `{compact}`",
                mention.text
            );
        }
    }
}
