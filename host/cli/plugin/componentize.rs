//! `rapha-host plugin componentize`: wrap a core module built for `wasm32-wasi` (preview 1)
//! into a component, as `wasm-tools component new --adapt` does. The module carries the
//! contract's type section (the `*_component_type.o` of `plugin bindings` links it in);
//! its preview-1 imports are bridged to WASI 0.2 by the reactor adapter of the wasmtime
//! this host runs, so the result imports only what the host links.

use anyhow::Context;
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wit_component::ComponentEncoder;

use crate::args::ComponentizeArgs;
use crate::atomic;

pub(super) fn componentize(args: &ComponentizeArgs) -> anyhow::Result<()> {
    let core = std::fs::read(&args.module).with_context(|| format!("cannot read `{}`", args.module.display()))?;
    let component = ComponentEncoder::default()
        .validate(true)
        .module(&core)
        .and_then(|encoder| {
            encoder.adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER)
        })
        .and_then(|mut encoder| encoder.encode())
        .with_context(|| {
            format!(
                "cannot make a component of `{}`: expected a core module for `wasm32-wasi` \
                 linked with the type section of `rapha-host plugin bindings`",
                args.module.display()
            )
        })?;
    atomic::write(&args.out, &component)?;
    println!(
        "wrote component `{}` ({} bytes) from core module `{}`",
        args.out.display(),
        component.len(),
        args.module.display()
    );
    Ok(())
}
