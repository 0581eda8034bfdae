//! The loading side of the ABI, for the process that hosts plugins.
//!
//! [`LoadedPlugin::load`] opens a library with `dlopen(RTLD_NOW |
//! RTLD_LOCAL)` (unresolved symbols fail at load, not at the first call),
//! checks the descriptor field by field, and copies what it says into Rust
//! values. Libraries are never closed: a plugin's static data and threads
//! may outlive any call, and unloading is not worth that risk. Reloading
//! means a new host process.
//!
//! Nothing here protects against a plugin that crashes or corrupts memory:
//! that is why the host is a separate process. What is protected against is
//! a plugin that breaks the *rules* (wrong version, bad names, null buffers,
//! unknown status codes): each gets a one-line error.

use crate::{CallFn, FreeFn, PluginDescriptor, ABI_VERSION, ENTRY_SYMBOL, MAX_NAME_LEN};
use crate::{MWS_ERROR, MWS_OK, MWS_PANIC};
use std::ffi::{c_char, CStr};
use std::io::Read;
use std::path::Path;

/// Largest output a plugin may return (the IPC frame limit).
pub const MAX_OUTPUT_LEN: usize = 16 * 1024 * 1024;
/// Longest `formats` / `events` / `version` string read from a descriptor.
const MAX_FIELD_LEN: usize = 4096;

/// Why a file could not be loaded as a plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("not a shared library ({0})")]
    NotALibrary(String),
    #[error("cannot be loaded: {0}")]
    Open(String),
    #[error("has no `{ENTRY_SYMBOL}` symbol (not an mws plugin)")]
    NoEntrySymbol,
    #[error("`{ENTRY_SYMBOL}` returned a null descriptor")]
    NullDescriptor,
    #[error("wrong ABI version {found} (this mws speaks version {expected})")]
    AbiVersion { found: u32, expected: u32 },
    #[error(
        "descriptor is {found} bytes, smaller than the {expected} of ABI version {ABI_VERSION}"
    )]
    StructSize { found: u32, expected: u32 },
    #[error("invalid descriptor field `{field}`: {reason}")]
    Field { field: &'static str, reason: String },
}

/// Why a call into a loaded plugin failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Failed(String),
    #[error("panicked: {0}")]
    Panicked(String),
    #[error("returned unknown status {0}")]
    BadStatus(i32),
    #[error("returned a null buffer with length {0}")]
    NullOutput(usize),
    #[error("returned {0} bytes, more than the {MAX_OUTPUT_LEN} allowed")]
    TooLarge(usize),
    #[error("does not implement `{0}`")]
    Unsupported(&'static str),
}

/// Checks a file's first bytes: an ELF shared object (or a Mach-O image).
pub fn check_library_file(path: &Path) -> Result<(), LoadError> {
    let file = std::fs::File::open(path)
        .map_err(|e| LoadError::NotALibrary(format!("cannot read: {e}")))?;
    check_library(file)
}

/// Checks the first bytes read from `reader` (an open file, read from where
/// it stands): an ELF shared object (or a Mach-O image).
pub fn check_library<R: Read>(mut reader: R) -> Result<(), LoadError> {
    let mut header = [0u8; 18];
    let mut read = 0;
    while read < header.len() {
        match reader.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(LoadError::NotALibrary(format!("cannot read: {e}"))),
        }
    }
    let header = &header[..read];
    if header.starts_with(b"\x7fELF") {
        if header.len() < 18 {
            return Err(LoadError::NotALibrary("truncated ELF header".into()));
        }
        // e_type at offset 16, in the byte order EI_DATA (offset 5) names.
        let e_type = if header[5] == 2 {
            u16::from_be_bytes([header[16], header[17]])
        } else {
            u16::from_le_bytes([header[16], header[17]])
        };
        const ET_DYN: u16 = 3;
        return if e_type == ET_DYN {
            Ok(())
        } else {
            Err(LoadError::NotALibrary(format!(
                "an ELF file of type {e_type}, not a shared object"
            )))
        };
    }
    let macho = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
        [0xca, 0xfe, 0xba, 0xbe],
    ];
    if header.len() >= 4 && macho.iter().any(|m| header.starts_with(m)) {
        return Ok(());
    }
    Err(LoadError::NotALibrary(if read == 0 {
        "empty file".into()
    } else {
        "no ELF header".into()
    }))
}

/// A plugin loaded into this process, for good.
#[derive(Debug, Clone)]
pub struct LoadedPlugin {
    pub name: String,
    pub version: String,
    pub formats: Vec<String>,
    pub events: Vec<String>,
    render: Option<CallFn>,
    on_event: Option<CallFn>,
    free_buffer: FreeFn,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-' || b == b'.'
        })
}

/// Reads a NUL-terminated descriptor string.
///
/// # Safety
/// `ptr`, when non-null, must point to a NUL-terminated string.
unsafe fn field(ptr: *const c_char, field: &'static str) -> Result<String, LoadError> {
    if ptr.is_null() {
        return Err(LoadError::Field {
            field,
            reason: "null pointer".into(),
        });
    }
    // SAFETY: non-null, and the caller promised NUL termination.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    if bytes.len() > MAX_FIELD_LEN {
        return Err(LoadError::Field {
            field,
            reason: format!("longer than {MAX_FIELD_LEN} bytes"),
        });
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| LoadError::Field {
        field,
        reason: "not UTF-8".into(),
    })
}

fn name_list(text: &str, field: &'static str) -> Result<Vec<String>, LoadError> {
    let mut names = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !valid_name(name) {
            return Err(LoadError::Field {
                field,
                reason: format!(
                    "'{name}' is not a valid name ([a-z0-9._-], 1 to {MAX_NAME_LEN} bytes)"
                ),
            });
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// Turns a plugin's message buffer into one printable line.
fn message(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut line: String = line.chars().filter(|c| !c.is_control()).take(500).collect();
    if line.is_empty() {
        line = "(no message)".into();
    }
    line
}

impl LoadedPlugin {
    /// Loads the library at `path` and reads its descriptor.
    ///
    /// # Safety
    /// Loading runs the library's initialisers and trusts its descriptor
    /// pointers: call this only in a process whose crash is acceptable (the
    /// plugin host), never in the daemon.
    pub unsafe fn load(path: &Path) -> Result<Self, LoadError> {
        check_library_file(path)?;
        use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
        // SAFETY: the caller accepts running the library's initialisers.
        let library = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
            .map_err(|e| LoadError::Open(e.to_string().replace('\n', " ")))?;
        // Never unloaded: see the module docs.
        let library: &'static Library = Box::leak(Box::new(library));
        type Entry = unsafe extern "C" fn() -> *const PluginDescriptor;
        // SAFETY: the ABI fixes the entry symbol's type.
        let entry =
            unsafe { library.get::<Entry>(ENTRY_SYMBOL) }.map_err(|_| LoadError::NoEntrySymbol)?;
        // SAFETY: calling the entry per the ABI; the library stays loaded.
        let descriptor = unsafe { entry() };
        if descriptor.is_null() {
            return Err(LoadError::NullDescriptor);
        }
        // Read the two leading u32s before anything else: a plugin of
        // another ABI version may have a different layout after them.
        // SAFETY: every ABI version starts with these two fields.
        let (abi_version, struct_size) = unsafe {
            let head = descriptor.cast::<u32>();
            (head.read_unaligned(), head.add(1).read_unaligned())
        };
        if abi_version != ABI_VERSION {
            return Err(LoadError::AbiVersion {
                found: abi_version,
                expected: ABI_VERSION,
            });
        }
        let expected = std::mem::size_of::<PluginDescriptor>() as u32;
        if struct_size < expected {
            return Err(LoadError::StructSize {
                found: struct_size,
                expected,
            });
        }
        // SAFETY: version 1 and large enough: the full v1 layout is there.
        let d = unsafe { &*descriptor };
        // SAFETY: the ABI says these are NUL-terminated strings.
        let (name, version, formats, events) = unsafe {
            (
                field(d.name, "name")?,
                field(d.version, "version")?,
                field(d.formats, "formats")?,
                field(d.events, "events")?,
            )
        };
        if !valid_name(&name) {
            return Err(LoadError::Field {
                field: "name",
                reason: format!(
                    "'{name}' is not a valid name ([a-z0-9._-], 1 to {MAX_NAME_LEN} bytes)"
                ),
            });
        }
        if version.chars().any(char::is_control) || version.len() > MAX_NAME_LEN {
            return Err(LoadError::Field {
                field: "version",
                reason: "must be one short line".into(),
            });
        }
        let formats = name_list(&formats, "formats")?;
        let events = name_list(&events, "events")?;
        let Some(free_buffer) = d.free_buffer else {
            return Err(LoadError::Field {
                field: "free_buffer",
                reason: "null pointer".into(),
            });
        };
        if !formats.is_empty() && d.render.is_none() {
            return Err(LoadError::Field {
                field: "render",
                reason: "null, but the plugin offers formats".into(),
            });
        }
        if !events.is_empty() && d.on_event.is_none() {
            return Err(LoadError::Field {
                field: "on_event",
                reason: "null, but the plugin wants events".into(),
            });
        }
        Ok(Self {
            name,
            version,
            formats,
            events,
            render: d.render,
            on_event: d.on_event,
            free_buffer,
        })
    }

    /// Renders `input` (JSON) in `format`.
    pub fn render(&self, format: &str, input: &[u8]) -> Result<Vec<u8>, CallError> {
        let f = self.render.ok_or(CallError::Unsupported("render"))?;
        self.call(f, format, input)
    }

    /// Hands the plugin an event with its `input` (JSON).
    pub fn on_event(&self, event: &str, input: &[u8]) -> Result<Vec<u8>, CallError> {
        let f = self.on_event.ok_or(CallError::Unsupported("on_event"))?;
        self.call(f, event, input)
    }

    fn call(&self, f: CallFn, name: &str, input: &[u8]) -> Result<Vec<u8>, CallError> {
        let mut output: *mut u8 = std::ptr::null_mut();
        let mut output_len: usize = 0;
        // SAFETY: pointers to live buffers and locals, per the ABI; what the
        // plugin does inside is the host process's risk to take.
        let status = unsafe {
            f(
                name.as_ptr(),
                name.len(),
                input.as_ptr(),
                input.len(),
                &mut output,
                &mut output_len,
            )
        };
        let bytes = if output.is_null() {
            if output_len != 0 {
                return Err(CallError::NullOutput(output_len));
            }
            Vec::new()
        } else {
            let copied = (output_len <= MAX_OUTPUT_LEN).then(|| {
                // SAFETY: the plugin returned `output_len` bytes at `output`.
                unsafe { std::slice::from_raw_parts(output, output_len) }.to_vec()
            });
            // SAFETY: handing the plugin's own buffer back, once.
            unsafe { (self.free_buffer)(output, output_len) };
            copied.ok_or(CallError::TooLarge(output_len))?
        };
        match status {
            MWS_OK => Ok(bytes),
            MWS_ERROR => Err(CallError::Failed(message(&bytes))),
            MWS_PANIC => Err(CallError::Panicked(message(&bytes))),
            other => Err(CallError::BadStatus(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn files_that_are_not_libraries_are_named() {
        let dir = tempfile_dir();
        let text = dir.join("notes.so");
        std::fs::File::create(&text)
            .unwrap()
            .write_all(b"hello")
            .unwrap();
        assert!(matches!(
            check_library_file(&text),
            Err(LoadError::NotALibrary(r)) if r == "no ELF header"
        ));
        let empty = dir.join("empty.so");
        std::fs::File::create(&empty).unwrap();
        assert!(check_library_file(&empty).is_err());
        // An executable is ELF but not a shared object... unless it is PIE,
        // which is ET_DYN too; /bin/sh on Debian is PIE, so only check that
        // the call does not fail on reading.
        let _ = check_library_file(Path::new("/bin/sh"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn name_lists_are_checked() {
        assert_eq!(
            name_list("csv, tsv,,csv", "formats").unwrap(),
            vec!["csv", "tsv"]
        );
        assert!(name_list("CSV", "formats").is_err());
        assert!(name_list("a b", "formats").is_err());
        assert_eq!(name_list("", "events").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn messages_become_one_line() {
        assert_eq!(message(b"bad\ninput\x07"), "bad input");
        assert_eq!(message(b""), "(no message)");
        assert_eq!(message(&[0xff, b'x']), "\u{fffd}x");
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "mws-plugin-api-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
