//! The four task plugins load through the host and round-trip a record of their dataset:
//! the target completion satisfies the schema and `validate`, and scores a reward of 1.

use rapha_task_host::Call;

use crate::util::{TestHost, first_record};

fn round_trip(id: &str, wasm: &str) {
    let host = TestHost::new(rapha_task_host::Limits::default());
    let mut plugin = host.load(wasm);
    assert_eq!(plugin.info().id, id);
    assert_eq!(plugin.wit_version(), "0.1.0");
    let record = first_record(id);
    let formatted = plugin
        .format_example(0, &record)
        .unwrap_or_else(|error| panic!("{error}\nrecord: {record}"));
    assert!(!formatted.messages.is_empty());
    let target = formatted.completion;
    assert_eq!(plugin.validate_output(&target), Ok(()), "target: {target}");
    assert_eq!(plugin.validate(0, &target).expect("validate runs"), Ok(()), "target: {target}");
    let score = plugin.score(0, &target, &record).expect("score runs");
    assert!(!score.metrics.is_empty(), "{score:?}");
    let reward = plugin.reward(0, &target, &record).expect("reward runs");
    assert!((reward - 1.0).abs() < 1e-9, "the target's reward is {reward}");
    let metrics = plugin.aggregate(&[score]).expect("aggregate runs");
    assert!(!metrics.is_empty());
    assert!(plugin.denials().is_empty(), "{:?}", plugin.denials());
    let stats = plugin.summary(Call::Score).expect("score was timed");
    assert_eq!(stats.calls, 1);
    assert!(stats.max_fuel > 0 && stats.peak_memory_bytes > 0, "{stats:?}");
}

macro_rules! round_trip_test {
    ($name:ident, $id:literal, $wasm:expr) => {
        #[test]
        fn $name() {
            round_trip($id, $wasm);
        }
    };
}

rapha_plugin_artifacts::foreach_plugin!(round_trip_test);
