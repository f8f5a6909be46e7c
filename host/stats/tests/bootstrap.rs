//! The clustered bootstrap against a plain resampling loop written here, with the same seed;
//! and what clustering and pairing are for.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rapha_stats::bootstrap::{self, Resampling};

/// Values from a fixed generator, in [0, 1).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random::<f64>()).collect()
}

/// The same statistic written as plainly as possible: the clusters' record lists in key
/// order, each resample the records of the drawn clusters pooled, the interval's ends read
/// from the sorted means.
fn plain_interval(values: &[f64], clusters: &[&str], resampling: &Resampling) -> (f64, f64) {
    let mut keys: Vec<&str> = clusters.to_vec();
    keys.sort_unstable();
    keys.dedup();
    let members: Vec<Vec<f64>> =
        keys.iter().map(|k| values.iter().zip(clusters).filter(|(_, c)| *c == k).map(|(v, _)| *v).collect()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(resampling.seed);
    let mut means = Vec::new();
    for _ in 0..resampling.resamples {
        let mut pooled = Vec::new();
        for _ in 0..members.len() {
            pooled.extend(&members[rng.random_range(0..members.len())]);
        }
        means.push(pooled.iter().sum::<f64>() / pooled.len() as f64);
    }
    means.sort_by(f64::total_cmp);
    let rank = |q: f64| means[(q * (means.len() - 1) as f64).floor() as usize];
    (rank(0.025), rank(0.975))
}

#[test]
fn the_interval_is_the_plain_loops() {
    let v = values(37, 1);
    let patients: Vec<String> = (0..37).map(|i| format!("patient-{}", i % 11)).collect();
    let clusters: Vec<&str> = patients.iter().map(String::as_str).collect();
    let resampling = Resampling { resamples: 500, seed: 7, level: 0.95 };
    let estimate = bootstrap::mean(&v, &clusters, &resampling).expect("an estimate");
    let (low, high) = plain_interval(&v, &clusters, &resampling);
    assert!((estimate.low - low).abs() < 1e-12 && (estimate.high - high).abs() < 1e-12, "{estimate:?} vs ({low}, {high})");
    assert!((estimate.value - v.iter().sum::<f64>() / 37.0).abs() < 1e-12);
    assert!(estimate.low < estimate.value && estimate.value < estimate.high);
}

#[test]
fn records_of_one_patient_do_not_narrow_the_interval() {
    // Each of 20 patients has 4 identical records: as much information as 20 records.
    let unique = values(20, 2);
    let repeated: Vec<f64> = unique.iter().flat_map(|&v| [v; 4]).collect();
    let by_patient: Vec<usize> = (0..80).map(|i| i / 4).collect();
    let by_record: Vec<usize> = (0..80).collect();
    let resampling = Resampling::default();
    let width = |e: bootstrap::Estimate| e.high - e.low;
    let clustered = width(bootstrap::mean(&repeated, &by_patient, &resampling).unwrap());
    let naive = width(bootstrap::mean(&repeated, &by_record, &resampling).unwrap());
    let honest = width(bootstrap::mean(&unique, &(0..20).collect::<Vec<_>>(), &resampling).unwrap());
    assert!(clustered > 1.6 * naive, "clustered {clustered}, per record {naive}");
    assert!((clustered / honest - 1.0).abs() < 0.15, "clustered {clustered}, 20 records {honest}");
}

#[test]
fn paired_differences_find_a_real_gain_and_not_noise() {
    let baseline = values(60, 3);
    let noise = values(60, 4);
    let ids: Vec<usize> = (0..60).collect();
    let resampling = Resampling::default();
    let better: Vec<f64> = baseline.iter().zip(&noise).map(|(b, n)| b + 0.2 + 0.1 * (n - 0.5)).collect();
    let gain = bootstrap::paired(&baseline, &better, &ids, &resampling).unwrap();
    assert!(gain.p_value < 0.01 && gain.difference.low > 0.15, "{gain:?}");
    let jitter: Vec<f64> = baseline.iter().zip(&noise).map(|(b, n)| b + 0.1 * (n - 0.5)).collect();
    let none = bootstrap::paired(&baseline, &jitter, &ids, &resampling).unwrap();
    assert!(none.p_value > 0.05 && none.difference.low < 0.0 && none.difference.high > 0.0, "{none:?}");
    assert_eq!(bootstrap::paired(&baseline, &baseline, &ids, &resampling).unwrap().p_value, 1.0);
}

#[test]
fn bad_input_is_refused_by_name() {
    let r = Resampling::default();
    assert_eq!(bootstrap::mean::<u8>(&[], &[], &r).unwrap_err().to_string(), "no records to compute a bootstrap mean from");
    assert_eq!(bootstrap::mean(&[1.0, 2.0], &[1], &r).unwrap_err().to_string(), "values and clusters: 2 values against 1");
    assert_eq!(bootstrap::mean(&[1.0, f64::NAN], &[1, 2], &r).unwrap_err().to_string(), "per-record values: value 1 is not a finite number");
    assert_eq!(bootstrap::paired(&[1.0], &[1.0, 0.0], &[1], &r).unwrap_err().to_string(), "paired values: 1 values against 2");
}
