//! Aggregation against a plain computation: the global adapter's `ΔW` equals the sites'
//! example-weighted mean `ΔW` for FFA-LoRA and stacking (computed here with loops over
//! `Vec<f64>`), FedIT's error is measured and reported, and every malformed reply is refused
//! naming its site, module and tensor.

use candle_core::{Device, Tensor};
use rapha_engine::adapter::LoraPair;
use rapha_engine::{LoraConfig, PeftAdapter, Target};
use rapha_federation::delta::relative_error;
use rapha_federation::{Contribution, Error, Strategy, aggregate};

const MODULES: [(&str, usize, usize); 2] = [("model.layers.0.self_attn.q_proj", 8, 8), ("model.layers.0.mlp.down_proj", 12, 8)];
const RANK: usize = 4;

fn config(rslora: bool) -> LoraConfig {
    LoraConfig { rank: RANK, alpha: 8.0, dropout: 0.0, targets: vec![Target::QProj, Target::DownProj], rslora }
}

/// Deterministic pseudo-random values in [-1, 1), different per `seed`.
fn values(seed: u64, len: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn tensor(seed: u64, rows: usize, columns: usize) -> Tensor {
    Tensor::from_vec(values(seed, rows * columns), (rows, columns), &Device::Cpu).expect("a tensor")
}

/// A site's adapter: its own `B`; `A` its own too unless `shared_a` (FFA-LoRA's common `A`).
fn site(seed: u64, shared_a: bool, rslora: bool) -> PeftAdapter {
    let modules = MODULES
        .iter()
        .enumerate()
        .map(|(m, &(name, out, input))| {
            let a_seed = if shared_a { 1000 + m as u64 } else { seed * 10 + m as u64 };
            (name.to_owned(), LoraPair { a: tensor(a_seed, RANK, input), b: tensor(seed * 100 + m as u64, out, RANK) })
        })
        .collect();
    PeftAdapter { lora: config(rslora), base_model: Some("tiny".to_owned()), modules }
}

fn matrix(t: &Tensor) -> Vec<Vec<f64>> {
    t.to_vec2::<f32>().expect("a matrix").into_iter().map(|row| row.into_iter().map(f64::from).collect()).collect()
}

/// `scale · B · A` by three loops.
fn plain_delta(adapter: &PeftAdapter, module: &str) -> Vec<Vec<f64>> {
    let (a, b) = (matrix(&adapter.modules[module].a), matrix(&adapter.modules[module].b));
    let scale = if adapter.lora.rslora { adapter.lora.alpha / (adapter.lora.rank as f64).sqrt() } else { adapter.lora.alpha / adapter.lora.rank as f64 };
    (0..b.len()).map(|i| (0..a[0].len()).map(|j| scale * (0..a.len()).map(|k| b[i][k] * a[k][j]).sum::<f64>()).collect()).collect()
}

/// The largest |x − y| over the two matrices, relative to the largest |y|.
fn plain_relative_difference(x: &[Vec<f64>], y: &[Vec<f64>]) -> f64 {
    let (mut worst, mut size) = (0.0f64, 0.0f64);
    for (row_x, row_y) in x.iter().zip(y) {
        for (a, b) in row_x.iter().zip(row_y) {
            worst = worst.max((a - b).abs());
            size = size.max(b.abs());
        }
    }
    worst / size
}

/// The sites' example-weighted mean `ΔW` of `module`, by loops.
fn plain_mean(sites: &[(PeftAdapter, u64)], module: &str) -> Vec<Vec<f64>> {
    let total: f64 = sites.iter().map(|(_, n)| *n as f64).sum();
    let mut mean: Option<Vec<Vec<f64>>> = None;
    for (adapter, examples) in sites {
        let weight = *examples as f64 / total;
        let delta = plain_delta(adapter, module);
        let sum = mean.get_or_insert_with(|| vec![vec![0.0; delta[0].len()]; delta.len()]);
        for (row, delta_row) in sum.iter_mut().zip(&delta) {
            for (value, d) in row.iter_mut().zip(delta_row) {
                *value += weight * d;
            }
        }
    }
    mean.expect("sites")
}

fn contributions(sites: &[(PeftAdapter, u64)]) -> Vec<Contribution<'_>> {
    const NAMES: [&str; 4] = ["north", "south", "east", "west"];
    sites.iter().zip(NAMES).map(|((adapter, examples), site)| Contribution { site, adapter, examples: *examples }).collect()
}

#[test]
fn ffa_lora_is_exact_the_mean_of_the_products() {
    let sites = vec![(site(1, true, false), 100), (site(2, true, false), 300), (site(3, true, false), 50)];
    let global = aggregate(Strategy::Ffa, &contributions(&sites)).expect("aggregates");
    assert_eq!(global.lora, config(false), "FFA keeps the sites' settings");
    for (module, _, _) in MODULES {
        let difference = plain_relative_difference(&plain_delta(&global, module), &plain_mean(&sites, module));
        assert!(difference < 1e-6, "{module}: ΔW differs from the weighted mean by {difference}");
        assert_eq!(matrix(&global.modules[module].a), matrix(&sites[0].0.modules[module].a), "A stays the shared one");
    }
    assert!(relative_error(&global, &contributions(&sites)).expect("measured") < 1e-6);
}

#[test]
fn stacking_is_exact_with_the_rank_of_all_sites() {
    for rslora in [false, true] {
        let sites = vec![(site(4, false, rslora), 20), (site(5, false, rslora), 70), (site(6, false, rslora), 10)];
        let global = aggregate(Strategy::Stack, &contributions(&sites)).expect("aggregates");
        assert_eq!(global.lora.rank, 3 * RANK);
        assert!((global.lora.scale() - sites[0].0.lora.scale()).abs() < 1e-12, "the scale each site trained with");
        for (module, _, _) in MODULES {
            let difference = plain_relative_difference(&plain_delta(&global, module), &plain_mean(&sites, module));
            assert!(difference < 1e-6, "{module} (rslora {rslora}): ΔW differs by {difference}");
        }
    }
}

#[test]
fn fedit_is_inexact_and_its_error_is_reported() {
    let sites = vec![(site(7, false, false), 100), (site(8, false, false), 100)];
    let global = aggregate(Strategy::FedIt, &contributions(&sites)).expect("aggregates");
    let error = relative_error(&global, &contributions(&sites)).expect("measured");
    let module = MODULES[0].0;
    let plain = plain_relative_difference(&plain_delta(&global, module), &plain_mean(&sites, module));
    assert!(error > 0.1 && plain > 0.1, "independent A and B do not average exactly: {error}, {plain}");
    // With one adapter at every site, FedIT is exact too: its error is the method's, not noise.
    let same = vec![(site(9, false, false), 5), (site(9, false, false), 50)];
    assert!(relative_error(&aggregate(Strategy::FedIt, &contributions(&same)).expect("aggregates"), &contributions(&same)).expect("measured") < 1e-6);
}

#[test]
fn an_aggregate_saves_and_loads_as_a_peft_adapter() {
    let sites = vec![(site(10, false, false), 1), (site(11, false, false), 2)];
    let global = aggregate(Strategy::Stack, &contributions(&sites)).expect("aggregates");
    let dir = tempfile::tempdir().expect("a folder");
    global.save(dir.path()).expect("saves");
    let loaded = PeftAdapter::load(dir.path(), &Device::Cpu).expect("loads");
    assert_eq!(loaded.lora, global.lora);
    for (module, _, _) in MODULES {
        assert_eq!(matrix(&loaded.modules[module].b), matrix(&global.modules[module].b));
    }
}

/// `sites[1]` changed by `spoil`, aggregated by FFA: the error.
fn refused(spoil: impl FnOnce(&mut PeftAdapter)) -> Error {
    let mut spoilt = site(13, true, false);
    spoil(&mut spoilt);
    let sites = vec![(site(12, true, false), 10), (spoilt, 10)];
    aggregate(Strategy::Ffa, &contributions(&sites)).expect_err("refused")
}

#[test]
fn a_malformed_reply_is_refused_naming_site_module_and_tensor() {
    let q = MODULES[0].0;
    let error = refused(|a| a.modules.get_mut(q).expect("module").a = tensor(99, RANK, 8)).to_string();
    assert!(error.contains("site `south`: `model.layers.0.self_attn.q_proj` lora_A differs from the first site's"), "{error}");
    let error = refused(|a| a.modules.get_mut(q).expect("module").b = tensor(99, 9, RANK)).to_string();
    assert!(error.contains("site `south`: `model.layers.0.self_attn.q_proj` lora_B: expected shape [8, 4], found [9, 4]"), "{error}");
    let error = refused(|a| {
        let mut b = values(5, 8 * RANK);
        b[3] = f32::NAN;
        a.modules.get_mut(q).expect("module").b = Tensor::from_vec(b, (8, RANK), &Device::Cpu).expect("tensor");
    })
    .to_string();
    assert!(error.contains("lora_B holds a value that is not finite"), "{error}");
    let error = refused(|a| a.lora.alpha = 16.0).to_string();
    assert!(error.contains("site `south`: LoRA `lora_alpha` is 16, the first site's is 8"), "{error}");
    let error = refused(|a| {
        a.modules.remove(q);
    })
    .to_string();
    assert!(error.contains("only there [\"model.layers.0.self_attn.q_proj\"], only here []"), "{error}");
    let sites = vec![(site(12, true, false), 10), (site(13, true, false), 0)];
    assert!(matches!(aggregate(Strategy::Ffa, &contributions(&sites)), Err(Error::NoExamples { site }) if site == "south"));
    assert!(matches!(aggregate(Strategy::Ffa, &[]), Err(Error::Empty)));
}
