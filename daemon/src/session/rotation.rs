//! `mws proxy-tokens rotate`: a new token with the old one's name, scope and
//! environments, then the old one deleted — exactly once, even when the
//! daemon dies midway and the CLI sends the rotation again.
//!
//! Every upstream step carries an idempotency key derived from the client's
//! key for the rotation, so a step that already happened is replayed by the
//! server, not repeated. What the rotation is about (the old token's id,
//! name, scope and environments) is read once and written to a plan file
//! under `$XDG_STATE_HOME/mws/rotations/` before the first change, because
//! a resent rotation whose old token is already deleted could not read it
//! again. Plans hold no secret; they are removed a day after they were made.
//!
//! A step after the creation that fails does not undo anything: the answer
//! says what exists now (the new token and its secret, which environments it
//! lacks, whether the old one still exists) and the CLI tells the user what
//! to run.

use super::{Session, UpstreamError};
use crate::error::Error;
use crate::upstream::MutationKey;
use mws_ipc::{CreatedToken, RotatedToken, Secret};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How long a plan is kept for a resent rotation.
const PLAN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Largest plan file read back.
const MAX_PLAN: u64 = 1024 * 1024;

/// What a rotation is about, fixed before its first change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Plan {
    server_url: String,
    old_token_id: String,
    name: String,
    scoped: bool,
    environments: Vec<String>,
}

fn plans_dir() -> PathBuf {
    crate::state_dir::state_dir().join("rotations")
}

fn read_plan(path: &std::path::Path) -> Option<Plan> {
    let bytes = crate::files::read_regular_file(path, MAX_PLAN).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write_plan(path: &std::path::Path, plan: &Plan) -> std::io::Result<()> {
    // Plans older than a day are of no use to anyone.
    if let Ok(entries) = std::fs::read_dir(plans_dir()) {
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > PLAN_LIFETIME);
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let bytes = serde_json::to_vec(plan).map_err(std::io::Error::other)?;
    crate::files::write_private(path, &bytes)
}

impl Session {
    /// The plan of this rotation: the one written by an earlier attempt
    /// with the same key, or a new one read from the server and written
    /// down before anything changes.
    async fn rotation_plan(&self, token_id: &str, key: &MutationKey) -> Result<Plan, Error> {
        let path = plans_dir().join(format!("{}.json", key.as_uuid()));
        let found = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || read_plan(&path))
                .await
                .ok()
                .flatten()
        };
        if let Some(plan) =
            found.filter(|p| p.old_token_id == token_id && p.server_url == self.upstream.server_url)
        {
            tracing::info!(token = %token_id, "resuming a rotation");
            return Ok(plan);
        }
        let tokens = self.tokens(Duration::ZERO).await?;
        let old = tokens
            .iter()
            .find(|t| t.token_id == token_id)
            .ok_or_else(|| Error::BadRequest(format!("No proxy token with id '{token_id}'")))?;
        let environments = if old.scoped {
            self.upstream.token_environment_list(token_id).await?
        } else {
            Vec::new()
        };
        let plan = Plan {
            server_url: self.upstream.server_url.clone(),
            old_token_id: token_id.to_string(),
            name: old.name.clone(),
            scoped: old.scoped,
            environments,
        };
        let written = {
            let plan = plan.clone();
            tokio::task::spawn_blocking(move || write_plan(&path, &plan)).await
        };
        match written {
            Ok(Ok(())) => Ok(plan),
            Ok(Err(e)) => Err(Error::State(format!(
                "cannot write the rotation plan under {}: {e}",
                plans_dir().display()
            ))),
            Err(e) => Err(Error::State(format!("cannot write the rotation plan: {e}"))),
        }
    }

    pub(crate) async fn rotate_token(
        &self,
        token_id: &str,
        keep_old: bool,
        mutation: Option<&MutationKey>,
    ) -> Result<RotatedToken, Error> {
        if token_id.is_empty() {
            return Err(Error::BadRequest("TOKEN_ID must not be empty".into()));
        }
        let key = mutation
            .copied()
            .ok_or_else(|| Error::BadRequest("a rotation needs an idempotency key".into()))?;
        let plan = self.rotation_plan(token_id, &key).await?;
        let created = self
            .upstream
            .token_create(&plan.name, plan.scoped, Some(&key.derive("create")))
            .await?;
        let mut rotated = RotatedToken {
            old_token_id: plan.old_token_id.clone(),
            name: plan.name.clone(),
            created: CreatedToken {
                token_id: created.token_id.clone(),
                token_secret: Secret::new(created.token_secret.clone()),
            },
            environments: Vec::new(),
            environments_missing: Vec::new(),
            old_deleted: false,
            failure: None,
        };
        for env in &plan.environments {
            let added = self
                .upstream
                .token_environment_add(
                    &created.token_id,
                    env,
                    Some(&key.derive(&format!("environment {env}"))),
                )
                .await;
            match added {
                Ok(()) => rotated.environments.push(env.clone()),
                Err(e) => {
                    rotated.failure.get_or_insert_with(|| {
                        format!("allowing the new token in environment {env} failed: {e}")
                    });
                    rotated.environments_missing.push(env.clone());
                }
            }
        }
        if !keep_old && rotated.failure.is_none() {
            match self
                .upstream
                .token_delete(&plan.old_token_id, Some(&key.derive("delete old")))
                .await
            {
                Ok(()) => rotated.old_deleted = true,
                // Gone already (e.g. deleted by hand after a failed run).
                Err(UpstreamError::Status {
                    code: tonic::Code::NotFound,
                    ..
                }) => rotated.old_deleted = true,
                Err(e) => {
                    rotated.failure = Some(format!("deleting the old token failed: {e}"));
                }
            }
        }
        let new_id = created.token_id.clone();
        self.after_token_mutation(|after| {
            after
                .iter()
                .find(|t| t.token_id == new_id)
                .map(|t| super::Change::TokenCreated(t.clone()))
        })
        .await;
        Ok(rotated)
    }
}
