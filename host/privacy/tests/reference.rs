//! The accountant against 240 values from Google's `dp-accounting` 0.6.0
//! (`tests/data/accountant_vectors.json`, copied from the project's shared references): its RDP epsilon to
//! 1e-6 relative with the same orders and conversion, and never below its PLD epsilon (the
//! tighter accountant) beyond discretisation.

use std::path::PathBuf;

use rapha_privacy::Accountant;
use serde_json::Value;

fn vectors() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/accountant_vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("reference vectors are JSON")
}

#[test]
fn orders_are_the_references() {
    let reference: Vec<f64> =
        vectors()["rdp_orders"].as_array().expect("orders").iter().map(|o| o.as_f64().expect("order")).collect();
    assert_eq!(rapha_privacy::default_orders(), reference);
}

#[test]
fn epsilon_matches_dp_accounting() {
    let vectors = vectors();
    let cases = vectors["vectors"].as_array().expect("vectors");
    assert_eq!(cases.len(), 240);
    let mut worst = 0.0_f64;
    for case in cases {
        let field = |name: &str| case[name].as_f64().unwrap_or_else(|| panic!("{name} in {case}"));
        let (q, sigma, delta) = (field("q"), field("sigma"), field("delta"));
        let steps = case["steps"].as_u64().expect("steps");
        let mut accountant = Accountant::new();
        accountant.compose(q, sigma, steps).expect("compose");
        let spent = accountant.spent(delta).expect("epsilon");
        let (expected, pld) = (field("epsilon_rdp"), field("epsilon_pld"));
        // Where dp-accounting's fractional series gave up (q = 0.25), an order it left out may
        // give a smaller ε here: equal or smaller, never larger.
        let relative = (spent.epsilon - expected) / expected.max(1e-300);
        if q == 0.25 {
            assert!(relative <= 1e-6, "{case}: ε {} above dp-accounting's {expected}", spent.epsilon);
        } else {
            assert!(relative.abs() <= 1e-6, "{case}: ε {} against {expected}", spent.epsilon);
            assert_eq!(spent.order, field("optimal_order"), "{case}");
            worst = worst.max(relative.abs());
        }
        assert!(spent.epsilon >= pld - 1e-3 * pld.max(1.0), "{case}: ε {} below the PLD bound {pld}", spent.epsilon);
    }
    eprintln!("largest relative difference from dp-accounting: {worst:e}");
}
