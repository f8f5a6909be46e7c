//! What a plugin may import, and what it must export — read from the component's bytes
//! before it is compiled ([`crate::preflight`]).
//!
//! Granted: the WASI 0.2 interfaces that Rust, Python and JavaScript toolchains import by
//! default (`wasi:cli`, `wasi:clocks`, `wasi:filesystem`, `wasi:io`, `wasi:random`,
//! `wasi:sockets`), all linked with deny behaviour (see `wasi.rs`), plus the WIT's own
//! types-only interface. Anything else — `wasi:http`, a custom host interface — is
//! refused by name at load time, so a plugin that needs it fails before its first call.
//!
//! Required: an export `rapha:task/task@0.1.x`. wasmtime matches export names by semver
//! (a lookup of `@0.1.0` finds a plugin's `@0.1.3`), so a plugin built against a later
//! patch of the WIT loads; another minor version (`0.2.0`, `0.3.0`) is refused naming both
//! sides.

use std::path::Path;

use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime::{Engine, StoreContextMut};
use wasmtime_wasi::p2::bindings::filesystem::types::Descriptor;
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::ResolveAddressStream;
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddressFamily, Network};
use wasmtime_wasi::p2::bindings::sockets::tcp::TcpSocket;
use wasmtime_wasi::p2::bindings::sockets::udp::UdpSocket;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use crate::denials::Attempt;
use crate::error::{Error, Result};
use crate::wasi::Sandbox;

/// The WIT version this host's bindings were generated from.
pub const SUPPORTED_WIT: &str = "0.1.0";

/// The WIT versions this host loads: every patch of [`SUPPORTED_WIT`]'s minor version.
pub const SUPPORTED_WIT_RANGE: &str = "0.1.x";

/// The export every plugin provides, without its version.
const TASK_EXPORT: &str = "rapha:task/task";

/// The WASI version of `wasmtime-wasi` 48's definitions, which the hooks below replace.
const WASI_VERSION: &str = "0.2.12";

/// Interfaces a plugin may import, without version; each at any WASI 0.2.x version.
const GRANTED_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/preopens",
    "wasi:filesystem/types",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:random/random",
    "wasi:sockets/instance-network",
    "wasi:sockets/ip-name-lookup",
    "wasi:sockets/network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
];

/// The WIT's types-only interface, which a component may import (it holds no functions).
const TASK_TYPES: &str = "rapha:task/types";

/// Check a component's export and import names, as [`crate::preflight`] reads them from its
/// bytes before it is compiled; the WIT version of its task export.
pub(crate) fn check_names(exports: &[String], imports: &[String], path: &Path) -> Result<String> {
    let wit = task_export_version(exports, path)?;
    let forbidden: Vec<String> = imports.iter().filter(|name| !granted(name)).cloned().collect();
    if !forbidden.is_empty() {
        return Err(Error::ForbiddenImport {
            path: path.to_owned(),
            imports: forbidden,
        });
    }
    Ok(wit)
}

fn task_export_version(exports: &[String], path: &Path) -> Result<String> {
    let Some((export, version)) = exports.iter().find_map(|name| {
        let (interface, version) = name.split_once('@')?;
        (interface == TASK_EXPORT).then_some((name, version))
    }) else {
        return Err(Error::MissingExport {
            path: path.to_owned(),
            exports: exports.to_vec(),
        });
    };
    if major_minor(version) != major_minor(SUPPORTED_WIT) {
        return Err(Error::Incompatible {
            path: path.to_owned(),
            export: export.clone(),
            supported: SUPPORTED_WIT_RANGE,
        });
    }
    Ok(version.to_owned())
}

fn granted(import: &str) -> bool {
    let Some((interface, version)) = import.split_once('@') else {
        return false;
    };
    let wasi = GRANTED_WASI.contains(&interface) && major_minor(version) == Some((0, 2));
    let types = interface == TASK_TYPES && major_minor(version) == major_minor(SUPPORTED_WIT);
    wasi || types
}

/// The `(major, minor)` of a semver string; `None` when it is not one.
fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next()?;
    let patch_digits = patch.split(['-', '+']).next()?;
    patch_digits.parse::<u64>().ok()?;
    Some((major, minor))
}

/// The linker every plugin is instantiated with: wasmtime-wasi's synchronous WASI 0.2,
/// with the functions through which a plugin reaches for the host replaced by hooks that
/// record the attempt and give nothing.
pub(crate) fn linker(engine: &Engine) -> Result<Linker<Sandbox>> {
    let mut linker = Linker::new(engine);
    let link = |linker: &mut Linker<Sandbox>| -> wasmtime::Result<()> {
        wasmtime_wasi::p2::add_to_linker_sync(linker)?;
        // The WIT's types-only interface: nothing to provide, but a component that
        // imports it needs the name to resolve.
        linker.instance(&format!("{TASK_TYPES}@{SUPPORTED_WIT}"))?;
        linker.allow_shadowing(true);
        deny_hooks(linker)?;
        linker.allow_shadowing(false);
        Ok(())
    };
    link(&mut linker).map_err(|error| Error::Linker {
        source: error.into_boxed_dyn_error(),
    })?;
    Ok(linker)
}

fn deny_hooks(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    let mut environment = linker.instance(&format!("wasi:cli/environment@{WASI_VERSION}"))?;
    environment.func_wrap("get-environment", |store: StoreContextMut<'_, Sandbox>, (): ()| {
        store.data().denials.record(Attempt::Environment);
        Ok((Vec::<(String, String)>::new(),))
    })?;
    environment.func_wrap("get-arguments", |store: StoreContextMut<'_, Sandbox>, (): ()| {
        store.data().denials.record(Attempt::Arguments);
        Ok((Vec::<String>::new(),))
    })?;
    environment.func_wrap("initial-cwd", |store: StoreContextMut<'_, Sandbox>, (): ()| {
        store.data().denials.record(Attempt::InitialCwd);
        Ok((None::<String>,))
    })?;

    let mut preopens = linker.instance(&format!("wasi:filesystem/preopens@{WASI_VERSION}"))?;
    preopens.func_wrap("get-directories", |store: StoreContextMut<'_, Sandbox>, (): ()| {
        store.data().denials.record(Attempt::FilesystemPreopens);
        Ok((Vec::<(Resource<Descriptor>, String)>::new(),))
    })?;

    let mut tcp = linker.instance(&format!("wasi:sockets/tcp-create-socket@{WASI_VERSION}"))?;
    tcp.func_wrap(
        "create-tcp-socket",
        |store: StoreContextMut<'_, Sandbox>, (_family,): (IpAddressFamily,)| {
            store.data().denials.record(Attempt::TcpSocket);
            Ok((Err::<Resource<TcpSocket>, _>(ErrorCode::AccessDenied),))
        },
    )?;
    let mut udp = linker.instance(&format!("wasi:sockets/udp-create-socket@{WASI_VERSION}"))?;
    udp.func_wrap(
        "create-udp-socket",
        |store: StoreContextMut<'_, Sandbox>, (_family,): (IpAddressFamily,)| {
            store.data().denials.record(Attempt::UdpSocket);
            Ok((Err::<Resource<UdpSocket>, _>(ErrorCode::AccessDenied),))
        },
    )?;
    let mut lookup = linker.instance(&format!("wasi:sockets/ip-name-lookup@{WASI_VERSION}"))?;
    lookup.func_wrap(
        "resolve-addresses",
        |store: StoreContextMut<'_, Sandbox>, (_network, _name): (Resource<Network>, String)| {
            store.data().denials.record(Attempt::NameLookup);
            Ok((Err::<Resource<ResolveAddressStream>, _>(ErrorCode::AccessDenied),))
        },
    )?;

    // wasmtime-wasi sleeps in real time, in host code the deadline cannot interrupt; with
    // a fixed clock there is nothing to wait for, so a sleep wakes at once.
    let mut clock = linker.instance(&format!("wasi:clocks/monotonic-clock@{WASI_VERSION}"))?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, Sandbox>, (_duration,): (u64,)| {
            store.data().denials.record(Attempt::Sleep);
            Ok((elapsed(store.data_mut().table())?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, Sandbox>, (_instant,): (u64,)| {
            store.data().denials.record(Attempt::Sleep);
            Ok((elapsed(store.data_mut().table())?,))
        },
    )?;
    Ok(())
}

/// A pollable that is ready at once.
fn elapsed(table: &mut ResourceTable) -> wasmtime::Result<Resource<DynPollable>> {
    let ready = table.push(Elapsed)?;
    subscribe(table, ready)
}

struct Elapsed;

#[wasmtime_wasi::async_trait]
impl Pollable for Elapsed {
    async fn ready(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_wasi_0_2_and_refuses_the_rest_by_name() {
        assert!(granted("wasi:cli/environment@0.2.0"));
        assert!(granted("wasi:filesystem/preopens@0.2.12"));
        assert!(granted("wasi:sockets/tcp@0.2.6"));
        assert!(granted("rapha:task/types@0.1.0"));
        assert!(!granted("wasi:http/outgoing-handler@0.2.6"));
        assert!(!granted("wasi:clocks/timezone@0.2.12"));
        assert!(!granted("wasi:cli/environment@0.3.0"));
        assert!(!granted("wasi:cli/environment"));
        assert!(!granted("rapha:task/types@0.3.0"));
        assert!(!granted("host-log"));
    }

    #[test]
    fn task_export_of_another_minor_version_is_refused_naming_both() {
        let path = Path::new("wrong.wasm");
        let exports = vec!["rapha:task/task@0.3.0".to_owned()];
        let error = task_export_version(&exports, path).expect_err("0.3.0 is refused");
        assert_eq!(
            error.to_string(),
            "plugin `wrong.wasm`: exports `rapha:task/task@0.3.0`; this host supports 0.1.x"
        );
        let patch = vec!["rapha:task/task@0.1.4".to_owned()];
        assert_eq!(task_export_version(&patch, path).expect("a later patch loads"), "0.1.4");
        let none = task_export_version(&[], path).expect_err("no export is refused");
        assert_eq!(
            none.to_string(),
            "plugin `wrong.wasm`: exports no `rapha:task/task` interface; found nothing"
        );
    }
}
