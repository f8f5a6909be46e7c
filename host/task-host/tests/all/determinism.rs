//! Randomness is reseeded per call from (run seed, record index): the same record gets the
//! same bytes on any instance, another record or another run seed gets others.

use rapha_plugin_artifacts::MISBEHAVE;
use rapha_task_host::{TaskHost, TaskPlugin};

use crate::util::{TestHost, behaviour, report, tight_limits};

fn random_bytes(plugin: &mut TaskPlugin, record: u64) -> String {
    let completion = plugin.format_example(record, &behaviour("random")).expect("random reports").completion;
    let report = report(&completion);
    let bytes = report
        .strip_prefix("random bytes: obtained: ")
        .unwrap_or_else(|| panic!("random bytes were not obtained: {report}"));
    assert_eq!(bytes.trim_end().len(), 16, "8 bytes in hex: {report}");
    bytes.trim_end().to_owned()
}

#[test]
fn same_record_same_bytes_on_a_warm_and_a_fresh_instance() {
    let host = TestHost::new(tight_limits());
    let mut warm = host.load(MISBEHAVE);
    let first = random_bytes(&mut warm, 5);
    random_bytes(&mut warm, 6);
    assert_eq!(random_bytes(&mut warm, 5), first, "the warm instance repeats record 5");
    let mut fresh = warm.fresh().expect("a fresh instance");
    assert_eq!(random_bytes(&mut fresh, 5), first, "a fresh instance gives record 5 the same bytes");
}

#[test]
fn other_records_and_other_run_seeds_get_other_bytes() {
    let host = TestHost::new(tight_limits());
    let mut plugin = host.load(MISBEHAVE);
    let five = random_bytes(&mut plugin, 5);
    assert_ne!(random_bytes(&mut plugin, 6), five);

    let seeded: TaskHost = host.host.clone().with_run_seed(42);
    let mut other = TaskPlugin::load(&seeded, MISBEHAVE).expect("loads");
    assert_ne!(random_bytes(&mut other, 5), five);
}
