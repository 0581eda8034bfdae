//! The daemon's one way to take a `std::sync::Mutex`.
//!
//! Locks guard in-memory maps only and are never held across an await or
//! I/O. A panic while one was held leaves data that is still whole (each
//! update is a single insert or replace), so a poisoned lock is taken
//! anyway rather than spreading the panic to every later request.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, poisoned or not.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
