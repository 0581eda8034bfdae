//! `seed demo`: a small, believable workspace for demos, docs and tests.
//!
//! Seeding only fills an empty store (no members, no proxy tokens), so it can
//! run on every start (`serve --seed demo`) without duplicating anything. Names
//! and timestamps are fixed so that screenshots and expected outputs stay
//! stable; ids and secrets are random as always. The one credential it makes
//! (for the first owner) is returned so the caller can print it once; only its
//! digest is stored.

use mws_modal_api::proto::MemberRole;

use crate::store::{self, NewMember, NewProxyToken, Result, Store};

/// Name of the seeded workspace.
pub const DEMO_WORKSPACE: &str = "acme-ml";

/// What `seed demo` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedOutcome {
    pub seeded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<String>,
}

struct DemoMember {
    email: &'static str,
    name: &'static str,
    role: MemberRole,
    joined_at: f64,
    last_active_at: f64,
}

const MEMBERS: &[DemoMember] = &[
    DemoMember {
        email: "ada@acme-ml.example",
        name: "Ada Lovelace",
        role: MemberRole::Owner,
        joined_at: 1_709_543_700.0,      // 2024-03-04 09:15 UTC
        last_active_at: 1_750_761_000.0, // 2025-06-24 10:30 UTC
    },
    DemoMember {
        email: "grace@acme-ml.example",
        name: "Grace Hopper",
        role: MemberRole::Manager,
        joined_at: 1_710_151_200.0, // 2024-03-11 10:00 UTC
        last_active_at: 1_750_680_000.0,
    },
    DemoMember {
        email: "alan@acme-ml.example",
        name: "Alan Turing",
        role: MemberRole::User,
        joined_at: 1_718_870_400.0, // 2024-06-20 08:00 UTC
        last_active_at: 1_749_900_000.0,
    },
    DemoMember {
        email: "katherine@acme-ml.example",
        name: "Katherine Johnson",
        role: MemberRole::User,
        joined_at: 1_736_935_200.0, // 2025-01-15 10:00 UTC
        last_active_at: 0.0,        // invited, never active
    },
    DemoMember {
        email: "margaret@acme-ml.example",
        name: "Margaret Hamilton",
        role: MemberRole::Owner,
        joined_at: 1_709_630_000.0,
        last_active_at: 1_750_500_000.0,
    },
];

/// Fills an empty store with the demo workspace; does nothing otherwise.
pub fn seed_demo(store: &Store) -> Result<SeedOutcome> {
    store.write(|c| {
        if !store::is_empty(c)? {
            return Ok(SeedOutcome {
                seeded: false,
                token_id: None,
                token_secret: None,
            });
        }
        store::rename_workspace(c, DEMO_WORKSPACE)?;
        let mut pks = Vec::new();
        for m in MEMBERS {
            let member = store::add_member(
                c,
                NewMember {
                    email: m.email,
                    display_name: Some(m.name),
                    username: None,
                    role: m.role,
                    joined_at: Some(m.joined_at),
                },
            )?;
            c.execute(
                "UPDATE members SET last_active_at = ?1 WHERE pk = ?2",
                rusqlite::params![m.last_active_at, member.pk],
            )?;
            pks.push(member.pk);
        }
        let prod = match store::env_by_name(c, "prod") {
            Ok(env) => env,
            Err(_) => store::create_env(c, "prod")?,
        };
        let tokens: &[(&str, usize, bool, f64)] = &[
            ("ci-deploy", 0, false, 1_736_500_000.0),
            ("grafana-webhook", 1, false, 1_740_000_000.0),
            ("prod-ingest", 1, true, 1_745_000_000.0),
            ("", 2, false, 1_748_000_000.0),
        ];
        for (name, by, scoped, at) in tokens {
            let (token, _secret) = store::create_proxy_token(
                c,
                NewProxyToken {
                    created_by: Some(pks[*by]),
                    name,
                    scoped: *scoped,
                    created_at: Some(*at),
                },
            )?;
            if *scoped {
                store::allow_token(c, &token.token_id, &prod)?;
            }
        }
        let (token_id, token_secret) = store::create_api_token(c, pks[0])?;
        Ok(SeedOutcome {
            seeded: true,
            token_id: Some(token_id),
            token_secret: Some(token_secret),
        })
    })
}
