//! The mws plugin ABI, and a safe way to implement it in Rust.
//!
//! Plugins are shared libraries that `mwsd`'s plugin host (a child process
//! without credentials) loads with `dlopen`. Only C types cross the boundary:
//! one exported symbol, [`ENTRY_SYMBOL`], returns a `#[repr(C)]`
//! [`PluginDescriptor`] (ABI version, struct size, name, version,
//! capabilities, function pointers), and every call takes and returns bytes
//! with explicit lengths. Rust types never cross, so a plugin may be built by
//! another compiler version, or in C (`include/mws_plugin.h` is the same ABI;
//! docs/plugins.md is the reference).
//!
//! Why this shape: a Rust ABI is unstable between compiler versions, and a
//! panic unwinding into the host is undefined behaviour. [`export_plugin!`]
//! therefore wraps every export in `catch_unwind` and turns a panic into
//! [`MWS_PANIC`] with its message; buffers are allocated and freed by the
//! same side (the plugin exports its `free_buffer`).
//!
//! The `host` feature adds [`host`], the loading side used by `mwsd`.

use std::ffi::c_char;

/// The ABI version this crate implements (`MWS_PLUGIN_ABI_VERSION`).
pub const ABI_VERSION: u32 = 1;
/// The one symbol every plugin exports.
pub const ENTRY_SYMBOL: &str = "mws_plugin_entry";
/// Status: success; the output buffer holds the result.
pub const MWS_OK: i32 = 0;
/// Status: the plugin refused; the output buffer holds a UTF-8 message.
pub const MWS_ERROR: i32 = 1;
/// Status: the plugin caught a panic of its own; the output holds its message.
pub const MWS_PANIC: i32 = 2;
/// Longest plugin, format or event name.
pub const MAX_NAME_LEN: usize = 64;

/// `mws_call_fn`: `render` and `on_event` share this signature.
///
/// `name` is the format or event asked for, `input` a UTF-8 JSON document;
/// both are not NUL-terminated. The plugin sets `*output` / `*output_len` to
/// a buffer it allocated (or null and 0) and returns a status.
pub type CallFn = unsafe extern "C" fn(
    name: *const u8,
    name_len: usize,
    input: *const u8,
    input_len: usize,
    output: *mut *mut u8,
    output_len: *mut usize,
) -> i32;

/// `mws_free_fn`: frees a buffer the plugin returned, given pointer and length.
pub type FreeFn = unsafe extern "C" fn(ptr: *mut u8, len: usize);

/// `mws_plugin`: what [`ENTRY_SYMBOL`] returns a pointer to. Static and
/// immutable for the life of the process.
#[repr(C)]
#[derive(Debug)]
pub struct PluginDescriptor {
    /// [`ABI_VERSION`].
    pub abi_version: u32,
    /// `size_of::<PluginDescriptor>()` as the plugin saw it.
    pub struct_size: u32,
    /// NUL-terminated, `[a-z0-9_-]{1,64}`.
    pub name: *const c_char,
    /// NUL-terminated UTF-8.
    pub version: *const c_char,
    /// NUL-terminated, comma-separated output formats (`""` for none).
    pub formats: *const c_char,
    /// NUL-terminated, comma-separated events the plugin wants (`""` for none).
    pub events: *const c_char,
    /// Renders a format; `None` (NULL) when `formats` is empty.
    pub render: Option<CallFn>,
    /// Handles an event; `None` (NULL) when `events` is empty.
    pub on_event: Option<CallFn>,
    /// Frees the plugin's output buffers; never `None`.
    pub free_buffer: Option<FreeFn>,
}

// SAFETY: a descriptor is immutable static data (pointers to static strings
// and functions), so sharing it between threads is sound.
unsafe impl Sync for PluginDescriptor {}

/// What a Rust plugin implements for `render` or `on_event`: the format or
/// event name and the input JSON in, the output bytes or a one-line error out.
pub type Handler = fn(name: &str, input: &[u8]) -> Result<Vec<u8>, String>;

/// Exports a plugin: the entry symbol, a static descriptor and
/// panic-catching wrappers around the handlers.
///
/// ```
/// fn render(format: &str, input: &[u8]) -> Result<Vec<u8>, String> {
///     let _ = input;
///     Ok(format!("rendered as {format}\n").into_bytes())
/// }
///
/// mws_plugin_api::export_plugin! {
///     name: "hello",
///     version: env!("CARGO_PKG_VERSION"),
///     formats: "hello",
///     events: "",
///     render: Some(render),
///     on_event: None,
/// }
/// ```
///
/// `name`, `version`, `formats` and `events` must be string literals (or
/// `env!`/`concat!` of them). A handler that panics makes the call return
/// [`MWS_PANIC`] with the panic message; the host reports it and goes on.
#[macro_export]
macro_rules! export_plugin {
    (
        name: $name:expr,
        version: $version:expr,
        formats: $formats:expr,
        events: $events:expr,
        render: $render:expr,
        on_event: $on_event:expr $(,)?
    ) => {
        const _: () = {
            const RENDER: ::core::option::Option<$crate::Handler> = $render;
            const ON_EVENT: ::core::option::Option<$crate::Handler> = $on_event;

            unsafe extern "C" fn __mws_render(
                name: *const u8,
                name_len: usize,
                input: *const u8,
                input_len: usize,
                output: *mut *mut u8,
                output_len: *mut usize,
            ) -> i32 {
                // SAFETY: the host follows the ABI's pointer rules, which is
                // all `call` requires; `call` checks nulls itself.
                unsafe {
                    $crate::__private::call(
                        RENDER, name, name_len, input, input_len, output, output_len,
                    )
                }
            }

            unsafe extern "C" fn __mws_on_event(
                name: *const u8,
                name_len: usize,
                input: *const u8,
                input_len: usize,
                output: *mut *mut u8,
                output_len: *mut usize,
            ) -> i32 {
                // SAFETY: as for `__mws_render`.
                unsafe {
                    $crate::__private::call(
                        ON_EVENT, name, name_len, input, input_len, output, output_len,
                    )
                }
            }

            static DESCRIPTOR: $crate::PluginDescriptor = $crate::PluginDescriptor {
                abi_version: $crate::ABI_VERSION,
                struct_size: ::core::mem::size_of::<$crate::PluginDescriptor>() as u32,
                name: ::core::concat!($name, "\0").as_ptr().cast(),
                version: ::core::concat!($version, "\0").as_ptr().cast(),
                formats: ::core::concat!($formats, "\0").as_ptr().cast(),
                events: ::core::concat!($events, "\0").as_ptr().cast(),
                render: if RENDER.is_some() {
                    Some(__mws_render)
                } else {
                    None
                },
                on_event: if ON_EVENT.is_some() {
                    Some(__mws_on_event)
                } else {
                    None
                },
                free_buffer: Some($crate::__private::free_buffer),
            };

            #[no_mangle]
            pub extern "C" fn mws_plugin_entry() -> *const $crate::PluginDescriptor {
                &DESCRIPTOR
            }
        };
    };
}

#[doc(hidden)]
pub mod __private {
    //! Support for [`export_plugin!`](crate::export_plugin); not a stable API.

    use super::{Handler, MWS_ERROR, MWS_OK, MWS_PANIC};
    use std::panic::{catch_unwind, AssertUnwindSafe};

    /// Hands `bytes` to the host as a plugin-owned buffer.
    ///
    /// # Safety
    /// `output` and `output_len` must be valid for writes.
    unsafe fn give(bytes: Vec<u8>, output: *mut *mut u8, output_len: *mut usize) {
        let boxed: Box<[u8]> = bytes.into_boxed_slice();
        let len = boxed.len();
        let ptr = Box::into_raw(boxed).cast::<u8>();
        // SAFETY: the caller promised both are valid for writes.
        unsafe {
            *output = ptr;
            *output_len = len;
        }
    }

    /// Builds a slice from a pointer and length given by the host; `None`
    /// for a null pointer with a non-zero length.
    ///
    /// # Safety
    /// A non-null `ptr` must point to `len` readable bytes for `'a`.
    unsafe fn slice<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
        if ptr.is_null() {
            return (len == 0).then_some(&[][..]);
        }
        // SAFETY: non-null, and the caller promised `len` readable bytes.
        Some(unsafe { std::slice::from_raw_parts(ptr, len) })
    }

    fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
        if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "(no message)".to_string()
        }
    }

    /// Runs `handler` for the host: checks the pointers, catches panics,
    /// hands back the output or the error message.
    ///
    /// # Safety
    /// Non-null pointers must follow the ABI: `name`/`input` readable for
    /// their lengths, `output`/`output_len` writable.
    pub unsafe fn call(
        handler: Option<Handler>,
        name: *const u8,
        name_len: usize,
        input: *const u8,
        input_len: usize,
        output: *mut *mut u8,
        output_len: *mut usize,
    ) -> i32 {
        if output.is_null() || output_len.is_null() {
            return MWS_ERROR;
        }
        // SAFETY: checked non-null above; the host passes writable pointers.
        unsafe {
            *output = std::ptr::null_mut();
            *output_len = 0;
        }
        let fail = |code: i32, message: String| {
            // SAFETY: checked non-null above.
            unsafe { give(message.into_bytes(), output, output_len) };
            code
        };
        let Some(handler) = handler else {
            return fail(MWS_ERROR, "this plugin does not implement that call".into());
        };
        // SAFETY: the host promises the ABI's pointer rules.
        let (Some(name), Some(input)) = (unsafe { slice(name, name_len) }, unsafe {
            slice(input, input_len)
        }) else {
            return fail(MWS_ERROR, "null pointer with a non-zero length".into());
        };
        let Ok(name) = std::str::from_utf8(name) else {
            return fail(MWS_ERROR, "the name is not UTF-8".into());
        };
        match catch_unwind(AssertUnwindSafe(|| handler(name, input))) {
            Ok(Ok(bytes)) => {
                // SAFETY: checked non-null above.
                unsafe { give(bytes, output, output_len) };
                MWS_OK
            }
            Ok(Err(message)) => fail(MWS_ERROR, message),
            Err(payload) => fail(MWS_PANIC, panic_message(payload.as_ref())),
        }
    }

    /// The `free_buffer` of every Rust plugin.
    ///
    /// # Safety
    /// `ptr`/`len` must come from one output of this plugin, freed once.
    pub unsafe extern "C" fn free_buffer(ptr: *mut u8, len: usize) {
        if ptr.is_null() {
            return;
        }
        let _ = catch_unwind(|| {
            // SAFETY: `give` made this pointer from a `Box<[u8]>` of `len`
            // bytes, and the host frees each buffer once.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
        });
    }
}

#[cfg(feature = "host")]
pub mod host;

/// docs/plugins.md: its Rust examples are compiled as doctests, so the
/// guide cannot drift from the macro.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/plugins.md")]
pub struct PluginsGuide;

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(name: &str, input: &[u8]) -> Result<Vec<u8>, String> {
        match name {
            "boom" => panic!("kaboom {}", input.len()),
            "no" => Err("refused".into()),
            _ => Ok(input.to_vec()),
        }
    }

    fn run(name: &str, input: &[u8]) -> (i32, Vec<u8>) {
        let mut out = std::ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: valid pointers from live locals.
        let code = unsafe {
            __private::call(
                Some(echo),
                name.as_ptr(),
                name.len(),
                input.as_ptr(),
                input.len(),
                &mut out,
                &mut len,
            )
        };
        // SAFETY: `out`/`len` come from `call`; copied, then freed once.
        let bytes = unsafe { std::slice::from_raw_parts(out, len).to_vec() };
        unsafe { __private::free_buffer(out, len) };
        (code, bytes)
    }

    #[test]
    fn ok_error_and_panic_are_told_apart() {
        assert_eq!(run("echo", b"[1]"), (MWS_OK, b"[1]".to_vec()));
        assert_eq!(run("no", b""), (MWS_ERROR, b"refused".to_vec()));
        let (code, message) = run("boom", b"abc");
        assert_eq!(code, MWS_PANIC);
        assert_eq!(message, b"kaboom 3");
    }

    #[test]
    fn null_pointers_are_refused_not_followed() {
        let mut out = std::ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: the null input pointer is what is being tested; `call`
        // must not read it.
        let code = unsafe {
            __private::call(
                Some(echo),
                b"x".as_ptr(),
                1,
                std::ptr::null(),
                5,
                &mut out,
                &mut len,
            )
        };
        assert_eq!(code, MWS_ERROR);
        // SAFETY: as in `run`.
        unsafe { __private::free_buffer(out, len) };
        // SAFETY: null output pointers: `call` must return without writing.
        let code = unsafe {
            __private::call(
                Some(echo),
                std::ptr::null(),
                0,
                std::ptr::null(),
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(code, MWS_ERROR);
    }

    #[test]
    fn c_header_matches_the_rust_descriptor() {
        let header = include_str!("../include/mws_plugin.h");
        assert!(header.contains(&format!("#define MWS_PLUGIN_ABI_VERSION {ABI_VERSION}u")));
        assert!(header.contains(&format!("#define MWS_PLUGIN_ENTRY \"{ENTRY_SYMBOL}\"")));
        assert!(header.contains(&format!("#define MWS_OK {MWS_OK}")));
        assert!(header.contains(&format!("#define MWS_ERROR {MWS_ERROR}")));
        assert!(header.contains(&format!("#define MWS_PANIC {MWS_PANIC}")));
        // Nine fields: two u32 then seven pointers.
        assert_eq!(
            std::mem::size_of::<PluginDescriptor>(),
            8 + 7 * std::mem::size_of::<usize>()
        );
    }
}
