//! Benchmarks. Each group measures its own baseline in the same run, so figures
//! are reported as ratios: run with `cargo bench --profile dev --bench main` (the bench
//! profile would rebuild every dependency in release). The engine's end-to-end figures and
//! the PyTorch comparison are `benches/engine.rs` and `benches/compare-pytorch.sh`.

mod groups;

criterion::criterion_main!(groups::plugin_call::benches, groups::nf4_linear::benches);
