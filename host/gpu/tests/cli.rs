//! `rapha-gpu` as a user runs it: the CPU benchmark CI can run, and the CUDA-less self-test.

use std::process::{Command, Output};

use serde_json::Value;

fn rapha_gpu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rapha-gpu"))
        .args(args)
        .output()
        .expect("rapha-gpu runs")
}

/// The tiny shape end to end on the CPU: every field the comparison script reads is there,
/// the counts follow from the arguments, and MFU lies in (0, 1].
#[test]
fn bench_tiny_on_cpu_reports_throughput_memory_and_mfu() {
    let out = rapha_gpu(&[
        "bench", "--shape", "tiny", "--device", "cpu", "--steps", "1", "--seq", "32", "--batch",
        "2",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let report: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let number = |key: &str| {
        report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("`{key}` missing: {report}"))
    };

    assert_eq!(report["shape"], "tiny");
    assert_eq!(report["device"], "cpu");
    assert_eq!(report["quantization"], "nf4");
    assert_eq!(
        (
            number("batch"),
            number("seq"),
            number("steps"),
            number("rank")
        ),
        (2.0, 32.0, 1.0, 16.0)
    );
    // One prompt token per row: each of the 2 rows scores its 31 later tokens.
    assert_eq!(number("scored_tokens_per_step"), 62.0);
    assert!(number("train_tokens_per_second") > 0.0);
    assert!(number("step_seconds") > 0.0);
    let tokens_per_second = 64.0 / number("step_seconds");
    assert!((number("train_tokens_per_second") / tokens_per_second - 1.0).abs() < 1e-9);
    assert!(number("peak_memory_bytes") > 1e6, "{report}");
    assert!(report["peak_memory_reserved_bytes"].is_null());
    assert_eq!(report["gemm"]["dtype"], "f32");
    assert!(
        report["gemm"]["flops_per_second"]
            .as_f64()
            .is_some_and(|r| r > 0.0)
    );

    let terms = &report["flops_terms"];
    let sum: u64 = [
        "linear_forward",
        "linear_backward",
        "lora",
        "attention",
        "lm_head",
    ]
    .iter()
    .map(|t| {
        terms[t]
            .as_u64()
            .unwrap_or_else(|| panic!("term `{t}` missing"))
    })
    .sum();
    assert_eq!(report["flops_per_step"].as_u64(), Some(sum));
    let mfu = number("mfu");
    assert!(mfu > 0.0 && mfu <= 1.0, "mfu {mfu}");
    let rate = number("achieved_flops_per_second")
        / report["gemm"]["flops_per_second"]
            .as_f64()
            .unwrap_or(f64::NAN);
    assert!((mfu / rate - 1.0).abs() < 1e-9);

    // A freshly initialised model predicts nearly uniformly: cross-entropy ≈ ln(vocab 256).
    let losses = report["losses"].as_array().expect("losses");
    assert_eq!(losses.len(), 1);
    let loss = losses[0].as_f64().expect("a number");
    assert!((loss - 256f64.ln()).abs() < 0.1, "loss {loss}");
}

#[test]
fn selftest_without_cuda_says_so_and_exits_2() {
    if cfg!(feature = "cuda") {
        return;
    }
    let out = rapha_gpu(&["selftest"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("built without CUDA"));
}

#[test]
fn unknown_shape_is_a_usage_error_naming_the_shapes() {
    let out = rapha_gpu(&["bench", "--shape", "llama-7b", "--device", "cpu"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expected one of `tiny`, `llama-3.2-1b`, `llama-3.1-8b`, found `llama-7b`"),
        "{stderr}"
    );
}
