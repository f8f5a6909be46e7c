//! Every misbehaviour ends as a clean error naming the plugin, the call, the record and
//! the reason; the instance is replaced and the next call succeeds.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rapha_plugin_artifacts::MISBEHAVE;
use rapha_task_host::{Call, Error, GuestErrorKind, Limits, TaskPlugin, TrapKind};

use crate::util::{TestHost, behaviour, read_log, tight_limits};

/// The error of `format-example` on a record asking for `name`.
fn format_error(plugin: &mut TaskPlugin, record: u64, name: &str) -> Error {
    match plugin.format_example(record, &behaviour(name)) {
        Ok(formatted) => panic!("`{name}`: expected an error, found completion of {} bytes", formatted.completion.len()),
        Err(error) => error,
    }
}

fn trap_kind(error: &Error) -> &TrapKind {
    match error {
        Error::Trap { kind, .. } => kind,
        other => panic!("expected a trap, found: {other}"),
    }
}

/// After a trap, the next call runs on a fresh instance and succeeds.
fn assert_recovers(plugin: &mut TaskPlugin, instances_before: u64) {
    let formatted = plugin.format_example(99, &behaviour("ok")).expect("a call after a trap succeeds");
    assert_eq!(formatted.completion, r#""ok""#);
    assert_eq!(plugin.instances(), instances_before + 1, "a fresh instance replaced the trapped one");
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let host = TestHost::new(tight_limits());
    let mut plugin = host.load(MISBEHAVE);
    let error = format_error(&mut plugin, 7, "loop");
    assert_eq!(trap_kind(&error), &TrapKind::Fuel { budget: 200_000_000 });
    assert_eq!(
        error.to_string(),
        format!(
            "plugin `misbehave` {} (rapha:task@0.1.0), call `format-example`, record 7: \
             ran out of fuel: the budget is 200000000 per call",
            plugin.info().version
        )
    );
    assert_recovers(&mut plugin, 1);
}

#[test]
fn an_endless_loop_with_ample_fuel_hits_the_deadline() {
    let mut limits = tight_limits();
    limits.fuel_per_call = u64::MAX;
    limits.deadline_per_call = Duration::from_millis(300);
    let host = TestHost::new(limits);
    let mut plugin = host.load(MISBEHAVE);
    let start = Instant::now();
    let error = format_error(&mut plugin, 2, "loop");
    let elapsed = start.elapsed();
    assert_eq!(
        trap_kind(&error),
        &TrapKind::Deadline {
            limit: Duration::from_millis(300)
        }
    );
    assert!(error.to_string().ends_with("record 2: exceeded the deadline: the limit is 300 ms per call"), "{error}");
    assert!(elapsed < Duration::from_secs(5), "stopped after {elapsed:?}");
    assert_recovers(&mut plugin, 1);
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let host = TestHost::new(tight_limits());
    let mut plugin = host.load(MISBEHAVE);
    let error = format_error(&mut plugin, 3, "memory-bomb");
    assert_eq!(trap_kind(&error), &TrapKind::Memory { cap: 64 << 20 });
    assert!(
        error.to_string().ends_with("exceeded the memory cap: the limit is 67108864 bytes per instance"),
        "{error}"
    );
    assert_recovers(&mut plugin, 1);
}

#[test]
fn a_huge_output_is_refused_with_its_size() {
    let mut limits = Limits::default();
    // Room for the guest to build its 64 MiB answer, so the output cap is what stops it.
    limits.memory_per_instance = 1 << 30;
    let host = TestHost::new(limits);
    let mut plugin = host.load(MISBEHAVE);
    let error = format_error(&mut plugin, 4, "huge-output");
    match &error {
        Error::OutputTooLarge { what, limit, found, site } => {
            assert_eq!(*what, "completion and messages (bytes)");
            assert_eq!(*limit, 1 << 20);
            assert!(*found > 64 << 20, "found {found}");
            assert_eq!(site.call, Call::FormatExample);
            assert_eq!(site.record, Some(4));
        }
        other => panic!("expected OutputTooLarge, found: {other}"),
    }
}

#[test]
fn a_panic_is_a_trap_and_its_message_goes_to_the_log_only() {
    let host = TestHost::new(tight_limits());
    let mut plugin = host.load(MISBEHAVE);
    let error = format_error(&mut plugin, 5, "panic");
    match trap_kind(&error) {
        TrapKind::Wasm { trap } => assert!(trap.contains("unreachable"), "{trap}"),
        other => panic!("expected a wasm trap, found {other:?}"),
    }
    assert!(!error.to_string().contains("asked to"), "{error}");
    let log = read_log(plugin.log_path());
    assert!(log.contains("misbehave: panicking because the record asked to"), "log:\n{log}");
    assert_recovers(&mut plugin, 1);
}

#[test]
fn exit_is_a_trap_with_its_code() {
    let host = TestHost::new(tight_limits());
    let mut plugin = host.load(MISBEHAVE);
    let error = format_error(&mut plugin, 6, "exit");
    match trap_kind(&error) {
        TrapKind::Exit { code } => assert_ne!(*code, 0, "exit(3) is a failure"),
        other => panic!("expected exit, found {other:?}"),
    }
    assert!(error.to_string().contains("record 6: called `exit` with code"), "{error}");
    assert_recovers(&mut plugin, 1);
}

#[test]
fn an_undeclared_metric_is_an_error_naming_it() {
    let host = TestHost::new(tight_limits());
    let mut plugin = host.load(MISBEHAVE);
    let record = behaviour("undeclared-metric");
    let target = plugin.format_example(8, &record).expect("formats").completion;
    let error = plugin.score(8, &target, &record).expect_err("undeclared metric");
    assert!(matches!(&error, Error::UndeclaredMetric { name: Some(name), .. } if name == "not-declared"), "{error}");
    assert!(
        error.to_string().ends_with("call `score`, record 8: returned metric `not-declared`, which `info` does not declare"),
        "{error}"
    );
}

/// A writer for a tracing subscriber that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_guest_error_names_its_kind_and_keeps_its_text_in_the_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let (error, log) = tracing::subscriber::with_default(subscriber, || {
        let host = TestHost::new(tight_limits());
        let mut plugin = host.load(MISBEHAVE);
        let error = format_error(&mut plugin, 9, "guest-error");
        assert_eq!(plugin.instances(), 1, "a guest error keeps the instance");
        let log = read_log(plugin.log_path());
        (error, log)
    });
    assert!(matches!(&error, Error::Guest { kind: GuestErrorKind::Other, .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("call `format-example`, record 9: other error (the plugin's message is in `"), "{message}");
    assert!(!message.contains("SECRET-PATIENT-TEXT"), "{message}");
    let traced = String::from_utf8(captured.0.lock().expect("capture lock").clone()).expect("utf-8");
    assert!(traced.contains("the plugin returned an error"), "tracing:\n{traced}");
    assert!(!traced.contains("SECRET-PATIENT-TEXT"), "tracing:\n{traced}");
    assert!(log.contains("SECRET-PATIENT-TEXT"), "log:\n{log}");
}

#[test]
fn an_invalid_field_error_shows_a_plain_pointer() {
    let host = TestHost::new(tight_limits());
    let mut plugin = host.load(MISBEHAVE);
    let error = format_error(&mut plugin, 10, "dance");
    assert!(
        matches!(&error, Error::Guest { kind: GuestErrorKind::InvalidField { field: Some(field) }, .. } if field == "/behaviour"),
        "{error}"
    );
    assert!(error.to_string().contains("record 10: invalid field `/behaviour` (the plugin's message is in"), "{error}");
}
