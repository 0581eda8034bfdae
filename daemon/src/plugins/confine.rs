//! What the plugin host gives up before it loads any plugin.
//!
//! A plugin runs as you, so it can do what your processes can; the host
//! narrows that where Linux lets an unprivileged process narrow itself:
//!
//! - a new anonymous **session keyring**, so the session keyring of
//!   whoever started the daemon (where keyutils keeps what it links there)
//!   is not this process's;
//! - **`PR_SET_NO_NEW_PRIVS`**: no set-uid program it runs gains privileges;
//! - a **seccomp filter** that fails with `EPERM` every call into the kernel
//!   keyring (`keyctl`, `add_key`, `request_key`: the *user* keyring `@u`,
//!   where the keyutils backend keeps API secrets, is reachable from any
//!   session of the uid), every new socket (`socket`, `socketpair`, and
//!   `io_uring`, which can open them too: no network, no D-Bus Secret
//!   Service, no daemon socket), and reading or writing other processes'
//!   memory (`ptrace`, `process_vm_readv` / `writev`), `bpf` and
//!   `perf_event_open`.
//!
//! Memory and process limits are set by the daemon when it starts the host
//! (`host.rs`). docs/security.md lists what stays reachable.

/// One step that could not be applied, and why (for the daemon's log; the
/// host runs with the others).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfineError {
    #[error("cannot join a new session keyring: {0}")]
    Keyring(std::io::Error),
    #[error("cannot set PR_SET_NO_NEW_PRIVS: {0}")]
    NoNewPrivs(std::io::Error),
    #[error("cannot install the seccomp filter: {0}")]
    Seccomp(std::io::Error),
    #[error("no seccomp filter for this architecture")]
    Architecture,
}

/// Applies every step; returns those that failed.
pub(crate) fn apply() -> Vec<ConfineError> {
    let mut failed = Vec::new();
    // KEYCTL_JOIN_SESSION_KEYRING with no name: a new anonymous keyring.
    // SAFETY: keyctl(2) with a null name pointer, as documented.
    let joined = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            1 as libc::c_long,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if joined < 0 {
        failed.push(ConfineError::Keyring(std::io::Error::last_os_error()));
    }
    if let Err(e) = rustix::thread::set_no_new_privs(true) {
        failed.push(ConfineError::NoNewPrivs(e.into()));
        // Without it an unprivileged process may not install a filter.
        return failed;
    }
    if let Err(e) = seccomp::install() {
        failed.push(e);
    }
    failed
}

mod seccomp {
    use super::ConfineError;
    use libc::{sock_filter, BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};

    #[cfg(target_arch = "x86_64")]
    const ARCH: Option<u32> = Some(0xC000_003E); // AUDIT_ARCH_X86_64
    #[cfg(target_arch = "aarch64")]
    const ARCH: Option<u32> = Some(0xC000_00B7); // AUDIT_ARCH_AARCH64
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    const ARCH: Option<u32> = None;

    /// System calls numbered from here are the x32 ABI on x86_64: refused
    /// whole, so the table below cannot be side-stepped through it.
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;

    /// The system calls that fail with `EPERM`.
    const DENIED: &[libc::c_long] = &[
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
    ];

    fn stmt(code: u32, k: u32) -> sock_filter {
        sock_filter {
            code: code as u16,
            jt: 0,
            jf: 0,
            k,
        }
    }

    fn jump(code: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
        sock_filter {
            code: code as u16,
            jt,
            jf,
            k,
        }
    }

    /// The filter: other architectures and x32 calls are refused, the
    /// denied calls fail with `EPERM`, everything else is allowed.
    pub(super) fn program(arch: u32) -> Vec<sock_filter> {
        let deny = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        // Offsets in `struct seccomp_data`.
        const NR: u32 = 0;
        const ARCH_OFFSET: u32 = 4;
        let mut program = vec![
            stmt(BPF_LD | BPF_W | BPF_ABS, ARCH_OFFSET),
            jump(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
            stmt(BPF_RET | BPF_K, deny),
            stmt(BPF_LD | BPF_W | BPF_ABS, NR),
            jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
            stmt(BPF_RET | BPF_K, deny),
        ];
        for (i, nr) in DENIED.iter().enumerate() {
            // Matched: jump over the remaining tests and the allow to the
            // final deny.
            let to_deny = (DENIED.len() - i) as u8;
            program.push(jump(BPF_JMP | BPF_JEQ | BPF_K, *nr as u32, to_deny, 0));
        }
        program.push(stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW));
        program.push(stmt(BPF_RET | BPF_K, deny));
        program
    }

    pub(super) fn install() -> Result<(), ConfineError> {
        let arch = ARCH.ok_or(ConfineError::Architecture)?;
        let mut filter = program(arch);
        let prog = libc::sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_mut_ptr(),
        };
        // SAFETY: the program outlives the call (the kernel copies it);
        // no_new_privs is set, so an unprivileged process may install it.
        let rc = unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(ConfineError::Seccomp(std::io::Error::last_os_error()));
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn every_denied_call_jumps_to_the_final_deny() {
            let program = super::program(7);
            let deny = program.len() - 1;
            let first = 6;
            for (i, step) in program[first..deny - 1].iter().enumerate() {
                assert_eq!(first + i + 1 + step.jt as usize, deny);
                assert_eq!(step.k, super::DENIED[i] as u32);
            }
            assert_eq!(program[deny - 1].k, libc::SECCOMP_RET_ALLOW);
        }
    }
}
