//! The frozen linear layer on SmolLM2-135M's MLP shapes (`up`/`gate` [1536, 576], `down`
//! [576, 1536]), NF4 against f32 weights: the forward pass of a generation step (4 rows,
//! the fused few-rows kernel), of a training micro-batch (512 rows, tiles and gemm), and
//! the backward pass to the input for 512 rows.

use candle_core::{Device, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use rapha_engine::{FrozenLinear, Quantization};

/// N(0, 1) values: the timings do not depend on them.
fn random(shape: (usize, usize)) -> Tensor {
    Tensor::randn(0f32, 1.0, shape, &Device::Cpu).expect("a random tensor")
}

fn nf4_linear(c: &mut Criterion) {
    let mut group = c.benchmark_group("nf4_linear");
    for (out, inp) in [(1536, 576), (576, 1536)] {
        let weight = random((out, inp));
        group.throughput(Throughput::Elements((out * inp) as u64));
        for quantization in [Quantization::Nf4, Quantization::None] {
            let layer =
                FrozenLinear::new(weight.clone(), None, quantization).expect("a frozen layer");
            for rows in [4, 512] {
                let x = random((rows, inp));
                let id = BenchmarkId::new(
                    format!("{quantization}/forward"),
                    format!("[{out}x{inp}] {rows} rows"),
                );
                group.bench_function(id, |b| b.iter(|| layer.forward(&x).expect("forward")));
            }
            let grad = random((512, out));
            let id = BenchmarkId::new(
                format!("{quantization}/backward_input"),
                format!("[{out}x{inp}] 512 rows"),
            );
            group.bench_function(id, |b| {
                b.iter(|| layer.backward_input(&grad).expect("backward"))
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = nf4_linear
}
