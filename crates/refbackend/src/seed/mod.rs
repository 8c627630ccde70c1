//! Demo workspaces (`--seed demo`), generated deterministically on the fly.
//!
//! Nothing is stored: every record is a pure function of (seed, workspace,
//! index), so a 2-million-message workspace can be listed, counted and
//! exported with flat memory, and the same seed gives the same ids, texts and
//! timestamps after every restart. Ids are UUIDv5 from names under a
//! namespace derived from the seed.
//!
//! NOTE: [`Workspace::size`] and the export walk the same functions
//! ([`Workspace::conversation`], [`Workspace::message_kind`],
//! [`Workspace::attachment`]), so the counts the API reports are, by
//! construction, the records the export contains; a test checks it anyway.

use ochre_api::secret::Secret;
use ochre_api::{Role, WorkspaceSize};
use serde::{Serialize, Serializer};
use std::sync::OnceLock;
use uuid::Uuid;

mod conversations;
mod directory;
mod text;

pub use text::Ts;
use text::*;

/// Attachments of this many bytes or more are not put into the ZIP but
/// referenced by a signed URL ("50 MB", decimal, as the help article says).
pub const LARGE_ATTACHMENT_BYTES: u64 = 50_000_000;

/// Every timestamp of the demo data lies before this instant (2026-11-01T00:00:00Z).
const DATA_END: i64 = 1_793_491_200;

/// The demo data of one seed.
pub struct Demo {
    workspaces: Vec<Workspace>,
}

/// A member of a workspace (an account email with a role).
#[derive(Debug, Clone)]
pub struct Member {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
}

/// A bring-your-own-key API key. Only [`ByokKey::name`] and
/// [`ByokKey::last4`] ever leave this module.
#[derive(Debug)]
pub struct ByokKey {
    pub name: String,
    pub provider: String,
    secret: Secret,
    pub added_by: Uuid,
    pub created_at: i64,
}

impl ByokKey {
    /// The last 4 characters of the secret: all the export shows of it.
    pub fn last4(&self) -> String {
        let s = self.secret.expose();
        let n = s.chars().count();
        s.chars().skip(n.saturating_sub(4)).collect()
    }
}

/// A connected integration. Its OAuth token is never exported.
#[derive(Debug)]
pub struct Integration {
    pub provider: String,
    #[allow(dead_code)] // NOTE: held only to show that it exists and is never written
    oauth_token: Secret,
    pub connected_by: Uuid,
    pub connected_at: i64,
}

/// An attachment of 50 MB or more, served through a signed URL.
#[derive(Debug)]
pub struct LargeAttachment {
    pub id: Uuid,
    pub conversation: u64,
    pub message: u32,
    pub filename: String,
    pub content_type: &'static str,
    pub size: u64,
    sha256: OnceLock<String>,
}

struct Shape {
    conversations: u64,
    msgs_min: u32,
    msgs_span: u32,
    customers: u64,
    articles: u64,
    categories: u64,
    routing_rules: u64,
    /// One message in this many carries a small attachment.
    attachment_every: u64,
}

/// One demo workspace: a handful of fixed facts and the functions that
/// generate its records.
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    /// The domain of its members' emails.
    pub domain: String,
    pub created_at: i64,
    pub members: Vec<Member>,
    pub byok_keys: Vec<ByokKey>,
    pub integrations: Vec<Integration>,
    pub large_attachments: Vec<LargeAttachment>,
    shape: Shape,
    salt: u64,
    size: OnceLock<WorkspaceSize>,
}

/// A generated conversation.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub index: u64,
    pub id: Uuid,
    pub subject: String,
    pub status: &'static str,
    pub channel: &'static str,
    pub priority: &'static str,
    pub customer_id: Uuid,
    /// Index into [`Workspace::members`].
    pub assignee: Option<usize>,
    pub tags: Vec<&'static str>,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub message_count: u32,
}

/// Who wrote a message and who can see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// From the customer (public).
    Customer,
    /// A reply by a member (public).
    Reply,
    /// An internal note by a member.
    Note,
}

/// A generated message; `body` borrows the caller's buffer.
#[derive(Debug)]
pub struct Message<'a> {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub index: u32,
    pub kind: MessageKind,
    pub author_id: Uuid,
    pub body: &'a str,
    pub created_at: i64,
    pub attachment: Option<Attachment>,
}

/// An attachment of a message.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub id: Uuid,
    pub filename: String,
    pub content_type: &'static str,
    pub size: u64,
    /// `Some(i)`: `large_attachments[i]`, served by URL, not in the ZIP.
    pub large: Option<usize>,
    pub conversation: u64,
    pub message: u32,
}

/// A generated customer.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub created_at: i64,
    pub company: &'static str,
    pub region: &'static str,
    pub language: &'static str,
    pub vip: bool,
}

/// A generated help-center article.
#[derive(Debug, Clone)]
pub struct Article {
    pub id: Uuid,
    pub category_id: Uuid,
    pub title: String,
    pub body: String,
    pub status: &'static str,
    pub author_id: Uuid,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
}

/// A generated help-center category.
#[derive(Debug, Clone)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub position: u64,
    pub created_at: i64,
}

/// A generated routing rule.
#[derive(Debug, Clone)]
pub struct RoutingRule {
    pub id: Uuid,
    pub name: String,
    pub position: u64,
    pub enabled: bool,
    pub match_mode: &'static str,
    pub condition_field: &'static str,
    pub condition_operator: &'static str,
    pub condition_value: &'static str,
    pub assign_to: Option<Uuid>,
    pub add_tag: Option<&'static str>,
    pub set_priority: Option<&'static str>,
    pub created_at: i64,
}

struct Spec {
    name: &'static str,
    domain: &'static str,
    created_at: i64,
    members: &'static [(&'static str, &'static str, Role)],
    shape: Shape,
}

fn specs() -> Vec<Spec> {
    vec![
        Spec {
            name: "Acme Support",
            domain: "acme.example",
            created_at: 1_678_784_400, // 2023-03-14T09:00:00Z
            members: &[
                ("owner@acme.example", "Ada Owner", Role::Owner),
                ("admin@acme.example", "Grace Admin", Role::Admin),
                ("agent@acme.example", "Alan Agent", Role::Agent),
            ],
            shape: Shape {
                conversations: 1_500,
                msgs_min: 4,
                msgs_span: 9,
                customers: 600,
                articles: 40,
                categories: 6,
                routing_rules: 10,
                attachment_every: 25,
            },
        },
        Spec {
            name: "Northwind Traders",
            domain: "northwind.example",
            created_at: 1_640_995_200, // 2022-01-01T00:00:00Z
            members: &[("ops@northwind.example", "Olive Ops", Role::Owner)],
            shape: Shape {
                conversations: 19_000,
                msgs_min: 4,
                msgs_span: 9,
                customers: 5_000,
                articles: 120,
                categories: 10,
                routing_rules: 20,
                attachment_every: 60,
            },
        },
        Spec {
            name: "Globex",
            domain: "globex.example",
            created_at: 1_577_836_800, // 2020-01-01T00:00:00Z
            members: &[
                ("it@globex.example", "Ian Tech", Role::Admin),
                ("ceo@globex.example", "Hank Scorpio", Role::Owner),
            ],
            shape: Shape {
                conversations: 262_000,
                msgs_min: 4,
                msgs_span: 9,
                customers: 40_000,
                articles: 600,
                categories: 24,
                routing_rules: 40,
                attachment_every: 200,
            },
        },
    ]
}

impl Demo {
    /// The demo workspaces of `seed` (`"demo"` is the documented one; any
    /// other seed gives the same workspaces with other ids and texts).
    pub fn new(seed: &str) -> Demo {
        let ns = Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("https://ochrehq.com/concierge/demo/{seed}").as_bytes(),
        );
        let workspaces = specs()
            .into_iter()
            .map(|s| Workspace::from_spec(&ns, s))
            .collect();
        Demo { workspaces }
    }

    pub fn workspaces(&self) -> &[Workspace] {
        &self.workspaces
    }

    pub fn workspace(&self, id: Uuid) -> Option<&Workspace> {
        self.workspaces.iter().find(|w| w.id == id)
    }

    /// Exact, case-insensitive name match.
    pub fn workspace_by_name(&self, name: &str) -> Option<&Workspace> {
        let n = name.trim().to_lowercase();
        self.workspaces.iter().find(|w| w.name.to_lowercase() == n)
    }

    /// Every membership of an account email (case-insensitive).
    pub fn memberships(&self, email: &str) -> Vec<(&Workspace, &Member)> {
        let e = email.trim().to_lowercase();
        self.workspaces
            .iter()
            .flat_map(|w| w.members.iter().map(move |m| (w, m)))
            .filter(|(_, m)| m.email == e)
            .collect()
    }

    /// The member with this id, with its workspace.
    pub fn member(&self, id: Uuid) -> Option<(&Workspace, &Member)> {
        self.workspaces
            .iter()
            .flat_map(|w| w.members.iter().map(move |m| (w, m)))
            .find(|(_, m)| m.id == id)
    }
}

impl Workspace {
    fn from_spec(ns: &Uuid, s: Spec) -> Workspace {
        let id = Uuid::new_v5(ns, format!("workspace/{}", s.name).as_bytes());
        let salt = u64::from_le_bytes(id.as_bytes()[..8].try_into().expect("16 bytes"));
        let members: Vec<Member> = s
            .members
            .iter()
            .enumerate()
            .map(|(k, (email, name, role))| Member {
                id: Uuid::new_v5(&id, format!("member/{email}").as_bytes()),
                email: email.to_string(),
                name: name.to_string(),
                role: *role,
                created_at: s.created_at + 3600 * k as i64,
            })
            .collect();
        let owner = members
            .iter()
            .find(|m| m.role == Role::Owner)
            .map(|m| m.id)
            .unwrap_or(members[0].id);
        let (byok_keys, integrations, large_attachments) = if s.name == "Acme Support" {
            (
                vec![ByokKey {
                    name: "OpenAI production".into(),
                    provider: "openai".into(),
                    secret: Secret::new("sk-demo-acme-51f0c2d94e7a"),
                    added_by: owner,
                    created_at: s.created_at + 86_400 * 30,
                }],
                vec![Integration {
                    provider: "slack".into(),
                    oauth_token: Secret::new("oauth-demo-acme-7d1e"),
                    connected_by: owner,
                    connected_at: s.created_at + 86_400 * 45,
                }],
                vec![LargeAttachment {
                    id: Uuid::new_v5(&id, b"attachment/0/0"),
                    conversation: 0,
                    message: 0,
                    filename: "screen-recording.mp4".into(),
                    content_type: "video/mp4",
                    size: 55_000_000,
                    sha256: OnceLock::new(),
                }],
            )
        } else {
            (Vec::new(), Vec::new(), Vec::new())
        };
        Workspace {
            id,
            name: s.name.to_string(),
            domain: s.domain.to_string(),
            created_at: s.created_at,
            members,
            byok_keys,
            integrations,
            large_attachments,
            shape: s.shape,
            salt,
            size: OnceLock::new(),
        }
    }

    /// The member with this id.
    pub fn member(&self, id: Uuid) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    pub fn conversations(&self) -> u64 {
        self.shape.conversations
    }
    pub fn customers(&self) -> u64 {
        self.shape.customers
    }
    pub fn articles(&self) -> u64 {
        self.shape.articles
    }
    pub fn categories(&self) -> u64 {
        self.shape.categories
    }
    pub fn routing_rules(&self) -> u64 {
        self.shape.routing_rules
    }

    fn h(&self, kind: u64, a: u64, b: u64) -> u64 {
        mix(self.salt ^ mix(kind ^ mix(a.wrapping_mul(0x9E37_79B9) ^ mix(b))))
    }

    fn uuid(&self, kind: &str, a: u64, b: Option<u64>) -> Uuid {
        let mut buf = [0u8; 64];
        let mut w = &mut buf[..];
        use std::io::Write;
        let _ = match b {
            Some(b) => write!(w, "{kind}/{a}/{b}"),
            None => write!(w, "{kind}/{a}"),
        };
        let n = 64 - w.len();
        Uuid::new_v5(&self.id, &buf[..n])
    }

    /// The id of customer `k`.
    pub fn customer_id(&self, k: u64) -> Uuid {
        self.uuid("customer", k, None)
    }

    /// The id of conversation `i`.
    pub fn conversation_id(&self, i: u64) -> Uuid {
        self.uuid("conversation", i, None)
    }

    fn category_id(&self, c: u64) -> Uuid {
        self.uuid("category", c, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso8601_utc() {
        assert_eq!(Ts(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Ts(1_778_077_921).to_string(), "2026-05-06T14:32:01Z");
        assert_eq!(Ts(951_782_400).to_string(), "2000-02-29T00:00:00Z");
        for t in [1_600_000_000i64, 1_700_000_123, 1_793_491_199] {
            let c = chrono::DateTime::from_timestamp(t, 0).unwrap();
            assert_eq!(
                Ts(t).to_string(),
                c.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            );
        }
    }

    #[test]
    fn same_seed_same_data_other_seed_other_ids() {
        let a = Demo::new("demo");
        let b = Demo::new("demo");
        let c = Demo::new("other");
        let (wa, wb, wc) = (&a.workspaces()[0], &b.workspaces()[0], &c.workspaces()[0]);
        assert_eq!(wa.id, wb.id);
        assert_ne!(wa.id, wc.id);
        assert_eq!(wa.conversation(17).id, wb.conversation(17).id);
        assert_eq!(wa.conversation(17).subject, wb.conversation(17).subject);
        assert_eq!(wa.customer(3).email, wb.customer(3).email);
    }

    #[test]
    fn demo_workspaces_have_the_documented_shape() {
        let d = Demo::new("demo");
        let acme = d.workspace_by_name("acme support").unwrap();
        let s = acme.size();
        assert!((11_000..=13_000).contains(&s.messages), "{s:?}");
        assert_eq!(s.large_attachments, 1);
        assert_eq!(s.members, 3);
        assert!(s.internal_notes > 0 && s.attachments > 1);
        assert_eq!(acme.byok_keys[0].last4(), "4e7a");
        let nw = d.workspace_by_name("Northwind Traders").unwrap().size();
        assert!((140_000..=160_000).contains(&nw.messages), "{nw:?}");
        let g = d.workspace_by_name("GLOBEX").unwrap();
        assert!(g.customers() >= 40_000);
        assert!(g.size().messages > 2_000_000, "{:?}", g.size());
        let roles: Vec<_> = d.memberships("Owner@Acme.example");
        assert_eq!(roles.len(), 1);
        assert_eq!(roles[0].1.role, Role::Owner);
        assert!(d.memberships("nobody@acme.example").is_empty());
        // ids are stable across restarts: a v5 UUID from the names
        assert_eq!(acme.id.get_version_num(), 5);
    }

    #[test]
    fn large_attachment_is_random_access() {
        let d = Demo::new("demo");
        let acme = d.workspace_by_name("Acme Support").unwrap();
        let mut whole = vec![0u8; 64];
        acme.large_attachment_chunk(0, 0, &mut whole);
        let mut part = vec![0u8; 21];
        acme.large_attachment_chunk(0, 13, &mut part);
        assert_eq!(&whole[13..34], &part[..]);
    }

    #[test]
    fn small_attachments_have_their_stated_size() {
        let d = Demo::new("demo");
        let acme = d.workspace_by_name("Acme Support").unwrap();
        let mut found = 0;
        for i in 0..200 {
            for j in 0..acme.message_count(i) {
                if let Some(a) = acme.attachment(i, j) {
                    if a.large.is_none() {
                        assert_eq!(acme.attachment_bytes(&a).len() as u64, a.size);
                        found += 1;
                    }
                }
            }
        }
        assert!(found > 5);
    }
}
