//! Webhooks: the team's channel hears what the daemon notices.
//!
//! Events do not go to the network from here directly. A *sink* plugin
//! (the bundled `webhook`, or any plugin that wants `workspace.event`)
//! turns each public event into deliveries — which endpoints want it, and
//! the body each gets (Standard Webhooks JSON, or Slack's `{"text"}`) —
//! because plugins run where no socket can be opened. The daemon does the
//! rest, here: [`Webhooks::accept`] writes each delivery to the [`outbox`]
//! before anything is sent, under a `webhook-id` it keeps for good; one
//! dispatcher task sends the oldest delivery of each endpoint, signed with
//! that endpoint's secret from the keyring ([`signature`]), through one
//! HTTP client ([`delivery`]); a 2xx removes it, anything else is retried
//! with exponential backoff and jitter until `give_up_after_secs`, when it
//! is set aside (`mws webhooks retry` queues it again; `mws webhooks
//! purge` removes an endpoint's deliveries, as those of an endpoint no
//! longer configured must be, since they count against the bound). One
//! endpoint's deliveries go in order, one at a time; endpoints do not wait
//! for each other. The queue is bounded (`max_queue`); what does not fit
//! is dropped, counted and shown in `mws daemon status`, and so are events
//! the sink fell too far behind to see.
//!
//! The endpoints are in `[webhooks]` of mws's config ([`settings`]), read
//! again on every change like the rest of it. Nothing here holds a lock
//! across an await or does blocking I/O on an async worker: files go
//! through `off_worker`, the keyring through its own thread.

mod delivery;
mod outbox;
mod queue;
pub(crate) mod settings;
mod signature;

pub(crate) use outbox::{Delivery, MAX_BODY};

use crate::files::off_worker;
use crate::secrets::Keyring;
use crate::settings::SharedSettings;
use crate::sync::lock;
use delivery::{Message, Outcome, Sender};
use mws_ipc::{Secret, WebhookEndpoint, WebhookReport};
use outbox::{Outbox, Pending};
use queue::Queue;
use settings::{Endpoint, Format, WebhookSettings};
use signature::Key;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};

/// How long a request waits for the outbox at start-up: for its numbers
/// (a new delivery), or for all of it (retry, purge).
const LOAD_WAIT: Duration = Duration::from_secs(30);

/// Why a webhook request failed; shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebhookError {
    #[error("no webhook endpoint named '{name}' in [webhooks.endpoints] (configured: {known})")]
    UnknownEndpoint { name: String, known: String },
    #[error(transparent)]
    BadSecret(#[from] signature::SecretError),
    #[error("webhooks are not running in this daemon")]
    NotStarted,
    #[error("the webhook outbox is still being read after mwsd started; try again")]
    StillLoading,
    #[error("the outbox cannot be written: {0}")]
    Disk(String),
    #[error(transparent)]
    Keyring(#[from] crate::secrets::KeyringError),
}

struct Shared {
    settings: SharedSettings,
    outbox: Outbox,
    queue: Mutex<Queue>,
    wake: Notify,
    keyring: Option<Keyring>,
    /// Signing keys read from the keyring (only the ones found).
    keys: Mutex<HashMap<String, Arc<Key>>>,
    /// Whether each endpoint's secret was found when last looked for.
    has_secret: Mutex<HashMap<String, bool>>,
    /// True once the numbers on disk are known (new deliveries are
    /// numbered above them).
    numbered: watch::Sender<bool>,
    /// True once the outbox on disk has been read.
    loaded: watch::Sender<bool>,
}

/// The keyring entry of an endpoint's secret (service `mws`).
fn keyring_user(endpoint: &str) -> String {
    format!("webhook:{endpoint}")
}

/// What a purge did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Purged {
    /// Deliveries removed from the outbox.
    pub removed: u64,
    /// Deliveries left because an attempt was under way.
    pub sending: u64,
}

/// The daemon's handle on webhooks.
#[derive(Default)]
pub(crate) struct Webhooks {
    shared: OnceLock<Arc<Shared>>,
}

impl Webhooks {
    /// Reads the outbox in `dir` and starts delivering (call once, on the
    /// runtime).
    pub(crate) fn start(
        &self,
        dir: PathBuf,
        settings: SharedSettings,
        keyring: Option<Keyring>,
        shutdown: watch::Receiver<bool>,
    ) {
        let shared = Arc::new(Shared {
            settings,
            outbox: Outbox::new(dir),
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            keyring,
            keys: Mutex::new(HashMap::new()),
            has_secret: Mutex::new(HashMap::new()),
            numbered: watch::channel(false).0,
            loaded: watch::channel(false).0,
        });
        if self.shared.set(shared.clone()).is_ok() {
            tokio::spawn(dispatch(shared, shutdown));
        }
    }

    fn shared(&self) -> Result<&Arc<Shared>, WebhookError> {
        self.shared.get().ok_or(WebhookError::NotStarted)
    }

    /// The endpoints as configured now (the sink plugins get their names,
    /// formats and patterns).
    pub(crate) fn endpoints(&self) -> Vec<Endpoint> {
        self.shared
            .get()
            .map(|s| s.webhook_settings().endpoints)
            .unwrap_or_default()
    }

    /// Queues what a sink plugin asked to send: each is on disk before this
    /// returns. Bodies come bounded ([`MAX_BODY`], checked where a sink's
    /// answer is parsed). Returns how many were queued; the rest are named
    /// in the log (an unknown endpoint) or counted as dropped (the queue is
    /// full, or the outbox cannot be written).
    pub(crate) async fn accept(
        &self,
        plugin: &str,
        deliveries: Vec<Delivery>,
    ) -> Result<u64, String> {
        let shared = self.shared().map_err(|e| e.to_string())?;
        // New numbers follow the ones on disk.
        if !Shared::reached(&shared.numbered).await {
            return Err("the webhook outbox is still being read; the event is not queued".into());
        }
        let settings = shared.webhook_settings();
        let mut queued = 0;
        let mut problems = Vec::new();
        for delivery in deliveries {
            if settings.endpoint(&delivery.endpoint).is_none() {
                let shown: String = delivery.endpoint.chars().take(64).collect();
                problems.push(format!("a delivery to unknown endpoint '{shown}'"));
                continue;
            }
            let pending = {
                let mut queue = lock(&shared.queue);
                if queue.waiting_count() >= settings.max_queue {
                    queue.dropped += 1;
                    crate::metrics::webhook_dropped();
                    tracing::warn!(
                        endpoint = %delivery.endpoint,
                        event = %delivery.event,
                        max_queue = settings.max_queue,
                        "the webhook queue is full; a delivery is dropped"
                    );
                    continue;
                }
                let seq = queue.next_seq.max(1);
                queue.next_seq = seq + 1;
                let now = crate::events::now();
                Pending {
                    seq,
                    id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
                    endpoint: delivery.endpoint.clone(),
                    event: delivery.event.clone(),
                    created_at: now,
                    attempts: 0,
                    next_attempt_at: now,
                    last_error: None,
                    failed: false,
                }
            };
            let (outbox, record, body) = (shared.outbox.clone(), pending.clone(), delivery.body);
            match off_worker(move || outbox.write(&record, &body)).await {
                Ok(()) => {
                    tracing::info!(endpoint = %pending.endpoint, event = %pending.event, id = %pending.id, "webhook queued");
                    lock(&shared.queue).insert(pending);
                    queued += 1;
                }
                Err(e) => {
                    lock(&shared.queue).dropped += 1;
                    crate::metrics::webhook_dropped();
                    problems.push(format!("the outbox cannot be written ({e})"));
                }
            }
        }
        if queued > 0 {
            shared.wake.notify_one();
        }
        if problems.is_empty() {
            Ok(queued)
        } else {
            let problem = format!("plugin '{plugin}' sent {}", problems.join("; "));
            tracing::warn!("{problem}");
            Err(problem)
        }
    }

    /// Counts events the sink missed (it fell behind the bus).
    pub(crate) fn count_missed(&self, missed: u64) {
        if let Some(shared) = self.shared.get() {
            lock(&shared.queue).missed_events += missed;
            tracing::warn!(
                missed,
                "webhook sink fell behind; events were not delivered"
            );
        }
    }

    /// The queue and every endpoint, from memory (no keyring or disk call).
    pub(crate) fn report(&self) -> WebhookReport {
        let Some(shared) = self.shared.get() else {
            return WebhookReport::default();
        };
        let settings = shared.webhook_settings();
        let has_secret = lock(&shared.has_secret).clone();
        let queue = lock(&shared.queue);
        // One walk, for what is given up on (the rare case).
        let mut failed: HashMap<&str, u64> = HashMap::new();
        let mut orphaned_endpoints = BTreeSet::new();
        for p in queue.all() {
            if p.failed {
                *failed.entry(&p.endpoint).or_default() += 1;
            }
            if settings.endpoint(&p.endpoint).is_none() {
                orphaned_endpoints.insert(p.endpoint.clone());
            }
        }
        let mut report = WebhookReport {
            queued: queue.waiting_count(),
            max_queue: settings.max_queue,
            dropped: queue.dropped,
            missed_events: queue.missed_events,
            orphaned: queue
                .waiting_endpoints()
                .filter(|name| settings.endpoint(name).is_none())
                .map(|name| queue.waiting_for(name))
                .sum(),
            orphaned_endpoints: orphaned_endpoints.into_iter().collect(),
            outbox: shared.outbox.dir().display().to_string(),
            ..WebhookReport::default()
        };
        for endpoint in &settings.endpoints {
            let tally = queue
                .tallies
                .get(&endpoint.name)
                .cloned()
                .unwrap_or_default();
            report.endpoints.push(WebhookEndpoint {
                name: endpoint.name.clone(),
                target: endpoint.target(),
                format: endpoint.format.name().to_string(),
                events: endpoint.events.clone(),
                has_secret: has_secret.get(&endpoint.name).copied(),
                queued: queue.waiting_for(&endpoint.name),
                delivered: tally.delivered,
                retries: tally.retries,
                failed: failed.get(endpoint.name.as_str()).copied().unwrap_or(0),
                last_error: tally.last_error,
                last_delivered_at: tally.last_delivered_at,
                next_attempt_at: queue
                    .head(&endpoint.name)
                    .filter(|p| p.attempts > 0)
                    .map(|p| p.next_attempt_at),
            });
        }
        report
    }

    /// Stores an endpoint's signing secret (a new one when `None`, which is
    /// returned to be given to the receiver).
    pub(crate) async fn set_secret(
        &self,
        name: &str,
        secret: Option<Secret>,
        keyring: &Keyring,
    ) -> Result<Option<Secret>, WebhookError> {
        let shared = self.shared()?;
        shared.known_endpoint(name)?;
        let (secret, generated) = match secret {
            Some(secret) => (secret, false),
            None => (signature::generate(), true),
        };
        let key = Key::from_secret(&secret)?;
        keyring.set(&keyring_user(name), secret.clone()).await?;
        lock(&shared.keys).insert(name.to_string(), Arc::new(key));
        lock(&shared.has_secret).insert(name.to_string(), true);
        shared.wake.notify_one();
        Ok(generated.then_some(secret))
    }

    /// Forgets an endpoint's signing secret.
    pub(crate) async fn delete_secret(
        &self,
        name: &str,
        keyring: &Keyring,
    ) -> Result<(), WebhookError> {
        let shared = self.shared()?;
        shared.known_endpoint(name)?;
        keyring.delete(&keyring_user(name)).await?;
        lock(&shared.keys).remove(name);
        lock(&shared.has_secret).insert(name.to_string(), false);
        Ok(())
    }

    /// Queues again an endpoint's deliveries that were given up on.
    pub(crate) async fn retry(&self, name: &str) -> Result<u64, WebhookError> {
        let shared = self.shared()?;
        shared.known_endpoint(name)?;
        // What was given up on before a restart is known once read.
        if !shared.outbox_read().await {
            return Err(WebhookError::StillLoading);
        }
        let failed: Vec<Pending> = lock(&shared.queue)
            .all()
            .filter(|p| p.failed && p.endpoint == name)
            .cloned()
            .collect();
        let mut queued = 0;
        for mut pending in failed {
            pending.failed = false;
            pending.attempts = 0;
            // Give-up is counted from now on.
            pending.created_at = crate::events::now();
            pending.next_attempt_at = pending.created_at;
            let (outbox, record) = (shared.outbox.clone(), pending.clone());
            off_worker(move || outbox.move_to(&record))
                .await
                .map_err(|e| WebhookError::Disk(e.to_string()))?;
            lock(&shared.queue).insert(pending);
            queued += 1;
        }
        shared.wake.notify_one();
        Ok(queued)
    }

    /// Removes every delivery to endpoint `name` from the outbox, waiting
    /// or given up on, whether `name` is still configured or not (an
    /// endpoint removed from the config leaves its deliveries behind, and
    /// they count against `max_queue`). The one being sent at this moment,
    /// if any, is left to its attempt.
    pub(crate) async fn purge(&self, name: &str) -> Result<Purged, WebhookError> {
        let shared = self.shared()?;
        if !shared.outbox_read().await {
            return Err(WebhookError::StillLoading);
        }
        let (removed, sending) = {
            let mut queue = lock(&shared.queue);
            let (sending, idle): (Vec<u64>, Vec<u64>) = queue
                .all()
                .filter(|p| p.endpoint == name)
                .map(|p| p.seq)
                .partition(|seq| queue.sending.contains(seq));
            let removed: Vec<Pending> = idle
                .into_iter()
                .filter_map(|seq| queue.remove(seq))
                .collect();
            (removed, sending.len() as u64)
        };
        if removed.is_empty() && sending == 0 {
            // Nothing by that name anywhere: a typo is an error.
            shared.known_endpoint(name)?;
        }
        let count = removed.len() as u64;
        let outbox = shared.outbox.clone();
        let failures = off_worker(move || {
            removed
                .iter()
                .filter_map(|p| outbox.remove(p).err())
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        })
        .await;
        if let Some(first) = failures.first() {
            // Gone from memory; the files come back after a restart.
            return Err(WebhookError::Disk(format!(
                "{} of {count} files were not removed ({first})",
                failures.len()
            )));
        }
        tracing::info!(endpoint = %name, removed = count, sending, "webhook deliveries purged");
        Ok(Purged {
            removed: count,
            sending,
        })
    }

    /// Checks that `name` is configured.
    pub(crate) fn check_endpoint(&self, name: &str) -> Result<(), WebhookError> {
        self.shared()?.known_endpoint(name)
    }
}

impl Shared {
    /// Waits until the outbox on disk has been read; false after
    /// [`LOAD_WAIT`].
    async fn outbox_read(&self) -> bool {
        Self::reached(&self.loaded).await
    }

    /// Waits until `flag` is set; false after [`LOAD_WAIT`] (a daemon
    /// request must not wait for ever behind a slow disk).
    async fn reached(flag: &watch::Sender<bool>) -> bool {
        let mut flag = flag.subscribe();
        let set = tokio::time::timeout(LOAD_WAIT, flag.wait_for(|set| *set)).await;
        set.is_ok()
    }

    fn webhook_settings(&self) -> WebhookSettings {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .webhooks
            .clone()
    }

    fn known_endpoint(&self, name: &str) -> Result<(), WebhookError> {
        let settings = self.webhook_settings();
        if settings.endpoint(name).is_some() {
            return Ok(());
        }
        let known: Vec<&str> = settings.endpoints.iter().map(|e| e.name.as_str()).collect();
        Err(WebhookError::UnknownEndpoint {
            name: name.chars().take(64).collect(),
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        })
    }

    /// An endpoint's signing key: from memory, else the keyring.
    async fn key(&self, endpoint: &str) -> Result<Option<Arc<Key>>, String> {
        if let Some(key) = lock(&self.keys).get(endpoint) {
            return Ok(Some(key.clone()));
        }
        let Some(keyring) = &self.keyring else {
            return Err("no keyring to read the signing secret from".into());
        };
        let found = keyring
            .get(&keyring_user(endpoint))
            .await
            .map_err(|e| e.to_string())?;
        lock(&self.has_secret).insert(endpoint.to_string(), found.is_some());
        let Some(secret) = found else {
            return Ok(None);
        };
        let key = Arc::new(
            Key::from_secret(&secret)
                .map_err(|e| format!("the signing secret in the keyring is not usable: {e}"))?,
        );
        lock(&self.keys).insert(endpoint.to_string(), key.clone());
        Ok(Some(key))
    }

    /// Records what an attempt came to, on disk and in memory.
    async fn finish(&self, mut pending: Pending, outcome: Outcome, settings: &WebhookSettings) {
        let now = crate::events::now();
        let name = pending.endpoint.clone();
        match outcome {
            Outcome::Delivered => {
                tracing::info!(endpoint = %name, event = %pending.event, id = %pending.id, attempts = pending.attempts + 1, "webhook delivered");
                crate::metrics::webhook_attempt(&name, true);
                let (outbox, record) = (self.outbox.clone(), pending.clone());
                if let Err(e) = off_worker(move || outbox.remove(&record)).await {
                    // It will be sent again after a restart: at least once.
                    tracing::warn!(id = %pending.id, "a delivered message stays in the outbox: {e}");
                }
                let mut queue = lock(&self.queue);
                queue.sending.remove(&pending.seq);
                queue.remove(pending.seq);
                let tally = queue.tallies.entry(name).or_default();
                tally.delivered += 1;
                tally.last_error = None;
                tally.last_delivered_at = Some(now);
            }
            Outcome::Failed(reason) => {
                crate::metrics::webhook_attempt(&name, false);
                pending.attempts += 1;
                pending.last_error = Some(reason.clone());
                let give_up = now - pending.created_at >= settings.give_up_after.as_secs_f64();
                let write = if give_up {
                    tracing::warn!(endpoint = %name, event = %pending.event, id = %pending.id, attempts = pending.attempts, "webhook given up on ({reason}); `mws webhooks retry {name}` sends it again");
                    crate::metrics::webhook_given_up(&name);
                    pending.failed = true;
                    true
                } else {
                    let delay = backoff(
                        pending.attempts,
                        settings.retry_base,
                        settings.retry_max,
                        rand::random(),
                    );
                    pending.next_attempt_at = now + delay.as_secs_f64();
                    tracing::info!(endpoint = %name, id = %pending.id, attempts = pending.attempts, retry_in_secs = delay.as_secs_f64(), "webhook attempt failed: {reason}");
                    crate::metrics::webhook_retry(&name);
                    false
                };
                let (outbox, record) = (self.outbox.clone(), pending.clone());
                let saved = off_worker(move || {
                    if write {
                        outbox.move_to(&record)
                    } else {
                        outbox.update(&record)
                    }
                })
                .await;
                if let Err(e) = saved {
                    tracing::warn!(id = %pending.id, "the outbox file was not updated: {e}");
                }
                let mut queue = lock(&self.queue);
                queue.sending.remove(&pending.seq);
                let tally = queue.tallies.entry(name).or_default();
                tally.last_error = Some(reason);
                if !give_up {
                    tally.retries += 1;
                }
                queue.insert(pending);
            }
        }
    }
}

/// The wait before attempt `attempts + 1`: `base` doubled per failed
/// attempt, at most `max`, then scaled by a random factor in `[0.5, 1)`
/// (`jitter` in `[0, 1)`) so that many deliveries failing together do not
/// retry together.
fn backoff(attempts: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let doubled = base.as_secs_f64() * 2f64.powi(attempts.saturating_sub(1).min(40) as i32);
    let capped = doubled.min(max.as_secs_f64());
    Duration::from_secs_f64(capped * (0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
}

/// The dispatcher: reads the outbox, then sends each endpoint's oldest
/// waiting delivery when it is due, one attempt per endpoint at a time.
async fn dispatch(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    // Numbers first, from the file names alone (quick): new events are
    // queued above every file on disk, readable or not, so none is
    // overwritten, while the files themselves are still being read.
    let outbox = shared.outbox.clone();
    let highest = off_worker(move || outbox.highest()).await;
    {
        let mut queue = lock(&shared.queue);
        queue.next_seq = highest.saturating_add(1).max(queue.next_seq);
    }
    // `send_replace`: stored even when nobody waits yet (`send` would not).
    shared.numbered.send_replace(true);
    // Then what they hold; nothing is sent before, so each endpoint's older
    // deliveries still go first.
    let outbox = shared.outbox.clone();
    let loaded = off_worker(move || outbox.load(highest)).await;
    {
        let mut queue = lock(&shared.queue);
        if !loaded.is_empty() {
            tracing::info!(deliveries = loaded.len(), "webhook outbox read");
        }
        for pending in loaded {
            queue.insert(pending);
        }
    }
    shared.loaded.send_replace(true);
    // The HTTP client is built when the first delivery is due: reading the
    // system's root certificates costs milliseconds and a daemon without
    // webhooks never needs them.
    let mut sender: Option<Sender> = None;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Pending, Outcome)>();
    let mut in_flight: HashSet<String> = HashSet::new();
    loop {
        let settings = shared.webhook_settings();
        let now = crate::events::now();
        let mut due = Vec::new();
        let mut next: Option<f64> = None;
        {
            let mut queue = lock(&shared.queue);
            for endpoint in &settings.endpoints {
                if in_flight.contains(&endpoint.name) {
                    continue;
                }
                let Some(head) = queue.head(&endpoint.name) else {
                    continue;
                };
                if head.next_attempt_at <= now {
                    due.push((endpoint.clone(), head.clone()));
                } else {
                    next = Some(
                        next.map_or(head.next_attempt_at, |n: f64| n.min(head.next_attempt_at)),
                    );
                }
            }
            // Marked under the same lock they were picked under: a purge
            // leaves them to their attempt.
            for (_, pending) in &due {
                queue.sending.insert(pending.seq);
            }
        }
        if !due.is_empty() {
            let sender = match built(&mut sender).await {
                Ok(sender) => sender,
                Err(e) => {
                    tracing::error!("webhooks cannot be sent: {e}");
                    return;
                }
            };
            for (endpoint, pending) in due {
                in_flight.insert(endpoint.name.clone());
                let (shared, sender, done) = (shared.clone(), sender.clone(), done_tx.clone());
                let timeout = settings.timeout;
                tokio::spawn(async move {
                    let outcome = attempt(&shared, &sender, &endpoint, &pending, timeout).await;
                    let _ = done.send((pending, outcome));
                });
            }
        }
        let sleep = next
            .map(|at| Duration::from_secs_f64((at - now).clamp(0.0, 3600.0)))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
            Some((pending, outcome)) = done_rx.recv() => {
                in_flight.remove(&pending.endpoint);
                shared.finish(pending, outcome, &settings).await;
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// The shared HTTP client, built off the async workers the first time it
/// is needed.
async fn built(slot: &mut Option<Sender>) -> Result<Sender, String> {
    if let Some(sender) = slot {
        return Ok(sender.clone());
    }
    let sender = off_worker(Sender::new).await?;
    *slot = Some(sender.clone());
    Ok(sender)
}

/// One attempt of one delivery.
async fn attempt(
    shared: &Shared,
    sender: &Sender,
    endpoint: &Endpoint,
    pending: &Pending,
    timeout: Duration,
) -> Outcome {
    let (outbox, record) = (shared.outbox.clone(), pending.clone());
    let body = match off_worker(move || outbox.body(&record)).await {
        Ok(body) => body,
        Err(e) => return Outcome::Failed(format!("the outbox file cannot be read: {e}")),
    };
    let key = match shared.key(&endpoint.name).await {
        Ok(key) => key,
        Err(e) => return Outcome::Failed(e),
    };
    if key.is_none() && endpoint.format == Format::Standard {
        return Outcome::Failed(format!(
            "no signing secret in the keyring: run `mws webhooks secret {}`",
            endpoint.name
        ));
    }
    sender
        .send(Message {
            url: &endpoint.url,
            id: &pending.id,
            body,
            key: key.as_deref(),
            timeout,
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(60);
        assert_eq!(backoff(1, base, max, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(2, base, max, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(3, base, max, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(10, base, max, 1.0), Duration::from_secs(60));
        assert_eq!(backoff(u32::MAX, base, max, 1.0), Duration::from_secs(60));
        assert_eq!(backoff(0, base, max, 1.0), Duration::from_secs(2));
    }
}
