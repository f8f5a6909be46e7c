//! A component read from its bytes before it is compiled: it must be a component, export the
//! task at a supported WIT version and import nothing it is not granted, and its functions must
//! be small enough to compile in bounded time and memory. A file that cannot load is refused in
//! milliseconds, not after the compiler spent 40 s and 4 GB on a 5 MB function.

use std::path::Path;

use wasmparser::{Encoding, Parser, Payload};

use crate::error::{Error, Result};
use crate::imports;

/// The largest function body compiled. Cranelift's time and memory grow faster than a
/// function's size; the interpreters inside Python and JavaScript components have functions of
/// a few hundred KiB.
pub(crate) const MAX_FUNCTION_BYTES: usize = 2 << 20;

/// What compiling a component costs, bounded in advance, and the WIT version it exports.
pub(crate) fn check(bytes: &[u8], path: &Path) -> Result<String> {
    let invalid = |reason: String| Error::Compile { path: path.to_owned(), source: reason.into() };
    let (mut depth, mut exports, mut import_names) = (0usize, Vec::new(), Vec::new());
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| invalid(e.to_string()))? {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != Encoding::Component {
                    return Err(invalid("a core WebAssembly module, not a component: run `rapha-host plugin componentize` on it".to_owned()));
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 1 => {
                for import in section {
                    import_names.push(import.map_err(|e| invalid(e.to_string()))?.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(section) if depth == 1 => {
                for export in section {
                    exports.push(export.map_err(|e| invalid(e.to_string()))?.name.name.to_owned());
                }
            }
            Payload::CodeSectionEntry(body) if body.range().len() > MAX_FUNCTION_BYTES => {
                return Err(Error::Oversized {
                    path: path.to_owned(),
                    what: format!("a function of {} bytes", body.range().len()),
                    limit: format!("{MAX_FUNCTION_BYTES} bytes per function"),
                });
            }
            _ => {}
        }
    }
    imports::check_names(&exports, &import_names, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leb(mut value: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn section(id: u8, content: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(content.len(), out);
        out.extend_from_slice(content);
    }

    /// A component holding one core module with one function of `body` nops.
    fn component_with_function(body: usize) -> Vec<u8> {
        let mut code = vec![1];
        let mut function = vec![0];
        function.resize(body, 0x01);
        function.push(0x0b);
        leb(function.len(), &mut code);
        code.extend_from_slice(&function);
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        section(1, &[1, 0x60, 0, 0], &mut module);
        section(3, &[1, 0], &mut module);
        section(10, &code, &mut module);
        let mut component = b"\0asm\x0d\0\x01\0".to_vec();
        section(1, &module, &mut component);
        component
    }

    #[test]
    fn a_huge_function_is_refused_before_compiling() {
        let started = std::time::Instant::now();
        let error = check(&component_with_function(MAX_FUNCTION_BYTES + 1), Path::new("big.wasm")).expect_err("too big");
        assert!(matches!(error, Error::Oversized { .. }), "{error}");
        assert!(error.to_string().contains("a function of 2097154 bytes exceeds the limit"), "{error}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn a_component_without_the_task_export_or_a_core_module_is_refused_by_name() {
        let error = check(&component_with_function(16), Path::new("small.wasm")).expect_err("no export");
        assert!(matches!(error, Error::MissingExport { .. }), "{error}");
        let module = &component_with_function(16)[10..];
        let error = check(module, Path::new("core.wasm")).expect_err("a core module");
        assert!(error.to_string().contains("cannot compile the component"), "{error}");
    }
}
