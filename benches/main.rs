//! Benchmarks. Each group measures its own baseline in the same run, so figures
//! are reported as ratios: run with `cargo bench --bench main`.

mod groups;

criterion::criterion_main!(groups::plugin_call::benches);
