//! What every workspace handler gets: the identity's session and how fresh
//! a read must be. A leaf, so the group handlers and the router that builds
//! it do not import each other.

use crate::session::Session;
use crate::upstream::MutationKey;
use std::sync::Arc;
use std::time::Duration;

/// What every workspace handler gets.
pub(crate) struct Context {
    pub session: Arc<Session>,
    /// Oldest cached answer a read accepts.
    pub max_age: Duration,
    /// For mutations: the client's key for this logical change.
    pub mutation: Option<MutationKey>,
}
