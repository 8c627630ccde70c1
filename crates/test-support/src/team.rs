//! What the team-store tests share: a fresh PostgreSQL database as a
//! [`Location`] (from any thread), the runtime two in-process screens run
//! on, the store tests' SQLite file and [`both_stores!`](crate::both_stores)
//! (one test body on both engines), and the three demo requesters stored
//! and resolved as the intake and the poller's lookup would leave them.

use concierge::backend::BackendClient;
use concierge::store::requests::{Membership, Resolution};
use concierge::store::{Location, Store};

/// A fresh database of this binary's PostgreSQL server. On a thread of its
/// own: the harness's sync client cannot run on a tokio thread.
pub fn pg_location() -> Location {
    std::thread::spawn(|| {
        let url = crate::postgres::server().fresh_database();
        Location::Postgres(crate::postgres::target(&url))
    })
    .join()
    .unwrap()
}

/// The runtime in-process screens run on (they spawn workers on it).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A store on a real SQLite file (kept alive by the returned dir).
pub fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("c.db")).unwrap();
    (s, dir)
}

/// Runs each named `fn(Store)` on both engines, as `on_sqlite::NAME` (a
/// real SQLite file) and `on_postgres::NAME` (a fresh database).
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[test] fn $name() {
                let (s, _d) = $crate::team::sqlite_store();
                super::$name(s);
            })*
        }
        mod on_postgres {
            $(#[test] fn $name() {
                let (s, _u) = $crate::postgres::fresh_store();
                super::$name(s);
            })*
        }
    };
}

/// The demo requesters the multi-operator tests race on: one per
/// workspace, each an owner or admin of it.
pub const REQUESTERS: [(&str, &str); 3] = [
    ("owner@acme.example", "Acme Support"),
    ("ops@northwind.example", "Northwind Traders"),
    ("it@globex.example", "Globex"),
];

/// The [`REQUESTERS`]' requests (Message-ID `<{tag}-N@example>`, N from
/// 0; request ids 1, 2, 3), stored as the intake would and resolved
/// against the backend `client`.
pub fn seed_resolved(store: &mut Store, client: &BackendClient, tag: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (n, (email, workspace)) in REQUESTERS.iter().enumerate() {
        let raw = format!(
            "From: {email}\r\nMessage-ID: <{tag}-{n}@example>\r\nSubject: Data export request: {workspace}\r\n\
             Authentication-Results: mx.ochrehq.com; dkim=pass; spf=pass; dmarc=pass\r\n\r\nWorkspace: {workspace}\r\n"
        );
        let i = concierge::intake::inspect(raw.as_bytes(), &Default::default());
        let key = i.store_key(raw.as_bytes());
        store.store_batch("INBOX", &[(i, key, None)], None).unwrap();
        let members = rt.block_on(client.members(email)).unwrap();
        let m = members
            .iter()
            .find(|m| m.workspace_name == *workspace)
            .expect("the seed has this member");
        let res = Resolution {
            account_email: email.to_string(),
            memberships: vec![Membership {
                member_id: m.member_id.to_string(),
                workspace_id: m.workspace_id.to_string(),
                workspace_name: m.workspace_name.clone(),
                email: m.email.clone(),
                role: m.role,
            }],
            workspace: Some((m.workspace_id.to_string(), m.workspace_name.clone())),
            size: None,
        };
        store.set_resolution(n as i64 + 1, &res, "intake").unwrap();
    }
}
