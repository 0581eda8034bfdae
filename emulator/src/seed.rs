//! `seed demo`: a small, believable workspace for demos, docs and tests.
//!
//! Seeding only fills an empty store (no members, no proxy tokens), so it can
//! run on every start (`serve --seed demo`) without duplicating anything. Names
//! and timestamps are fixed so that screenshots and expected outputs stay
//! stable (except `nightly-eval`'s expiry, three days after seeding); ids and
//! secrets are random as always. The one usable credential it prints (for the
//! first owner) is returned so the caller can print it once; the other member
//! tokens and the service users' credentials are not kept anywhere (only
//! digests are stored).

use mws_modal_api::proto::MemberRole;

use crate::store::{
    self, EnvRole, NewMember, NewMemberToken, NewProxyToken, NewServiceUser, Result, Store,
};

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

/// How long after seeding the demo service user `nightly-eval` expires.
pub const NIGHTLY_EVAL_LIFETIME_SECS: f64 = 3.0 * 24.0 * 3600.0;

/// A demo member token (besides the first owner's printed credential).
struct DemoToken {
    member: usize,
    name: &'static str,
    created_at: f64,
    expires_at: Option<f64>,
    last_used_at: Option<f64>,
    disabled: bool,
}

const MEMBER_TOKENS: &[DemoToken] = &[
    DemoToken {
        member: 1, // Grace
        name: "grace-laptop",
        created_at: 1_740_500_000.0, // 2025-02-25 16:13:20 UTC
        expires_at: None,
        last_used_at: Some(1_750_680_000.0), // 2025-06-23 12:00 UTC
        disabled: false,
    },
    DemoToken {
        member: 2, // Alan: expired
        name: "alan-notebook",
        created_at: 1_725_000_000.0,       // 2024-08-30 06:40 UTC
        expires_at: Some(1_735_689_600.0), // 2025-01-01 00:00 UTC
        last_used_at: Some(1_735_000_000.0),
        disabled: false,
    },
    DemoToken {
        member: 2, // Alan: disabled
        name: "alan-ci",
        created_at: 1_745_500_000.0, // 2025-04-24 13:06:40 UTC
        expires_at: None,
        last_used_at: Some(1_746_000_000.0),
        disabled: true,
    },
    DemoToken {
        member: 4, // Margaret: never used
        name: "margaret-cli",
        created_at: 1_748_500_000.0, // 2025-05-29 06:26:40 UTC
        expires_at: None,
        last_used_at: None,
        disabled: false,
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
        // Service users: one for CI that never expires (contributor in
        // `main`), one that expires three days after seeding (viewer in `prod`).
        let main = store::env_by_name(c, "main")?;
        let (ci, _secret) = store::create_service_user(
            c,
            NewServiceUser {
                name: "ci-deployer",
                scoped: false,
                created_by: Some(pks[0]),
                created_at: Some(1_737_000_000.0), // 2025-01-16 04:00 UTC
                expires_at: None,
            },
        )?;
        store::set_service_user_role(c, &ci, &main, EnvRole::Contributor)?;
        let (nightly, _secret) = store::create_service_user(
            c,
            NewServiceUser {
                name: "nightly-eval",
                scoped: false,
                created_by: Some(pks[1]),
                created_at: Some(1_750_000_000.0), // 2025-06-15 15:06:40 UTC
                expires_at: Some(store::now() + NIGHTLY_EVAL_LIFETIME_SECS),
            },
        )?;
        store::set_service_user_role(c, &nightly, &prod, EnvRole::Viewer)?;
        for t in MEMBER_TOKENS {
            store::create_member_token(
                c,
                NewMemberToken {
                    member_pk: pks[t.member],
                    name: t.name,
                    created_at: Some(t.created_at),
                    expires_at: t.expires_at,
                    last_used_at: t.last_used_at,
                    disabled: t.disabled,
                },
            )?;
        }
        let (token_id, token_secret) = store::create_api_token(c, pks[0])?;
        Ok(SeedOutcome {
            seeded: true,
            token_id: Some(token_id),
            token_secret: Some(token_secret),
        })
    })
}
