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

use crate::backend::{Role, WorkspaceSize};
use crate::secret::Secret;
use serde::{Serialize, Serializer};
use std::sync::OnceLock;
use uuid::Uuid;

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

    /// How many messages conversation `i` has.
    pub fn message_count(&self, i: u64) -> u32 {
        self.shape.msgs_min + (self.h(1, i, 0) % self.shape.msgs_span as u64) as u32
    }

    /// Who wrote message `j` of conversation `i`.
    pub fn message_kind(&self, i: u64, j: u32) -> MessageKind {
        if j == 0 {
            MessageKind::Customer
        } else if self.h(2, i, j as u64) % 10 == 0 {
            MessageKind::Note
        } else if j % 2 == 1 {
            MessageKind::Reply
        } else {
            MessageKind::Customer
        }
    }

    /// The attachment of message `j` of conversation `i`, if it has one.
    pub fn attachment(&self, i: u64, j: u32) -> Option<Attachment> {
        if let Some(k) = self
            .large_attachments
            .iter()
            .position(|l| l.conversation == i && l.message == j)
        {
            let l = &self.large_attachments[k];
            return Some(Attachment {
                id: l.id,
                filename: l.filename.clone(),
                content_type: l.content_type,
                size: l.size,
                large: Some(k),
                conversation: i,
                message: j,
            });
        }
        let h = self.h(3, i, j as u64);
        if h % self.shape.attachment_every != 0 {
            return None;
        }
        let size = 512 + (h >> 20) % 6_000;
        let (stem, ext, ct) =
            ATTACHMENT_KINDS[((h >> 40) % ATTACHMENT_KINDS.len() as u64) as usize];
        Some(Attachment {
            id: self.uuid("attachment", i, Some(j as u64)),
            filename: format!("{stem}-{i}-{j}.{ext}"),
            content_type: ct,
            size,
            large: None,
            conversation: i,
            message: j,
        })
    }

    /// Conversation `i` (`i < self.conversations()`).
    pub fn conversation(&self, i: u64) -> Conversation {
        let h = self.h(4, i, 0);
        let n = self.message_count(i);
        let span = (DATA_END - 40 * 86_400 - self.created_at).max(1) as u64;
        let created_at = self.created_at
            + ((i as u128 * span as u128) / self.shape.conversations as u128) as i64
            + (h % 1800) as i64;
        let mut t = created_at;
        for j in 1..n {
            t += self.message_gap(i, j);
        }
        let status = match h >> 8 & 0xff {
            0..=178 => "closed",
            179..=217 => "open",
            218..=242 => "pending",
            _ => "snoozed",
        };
        let assignee = if (h >> 16) % 10 == 0 {
            None
        } else {
            Some(((h >> 24) % self.members.len() as u64) as usize)
        };
        let mut tags = Vec::with_capacity(3);
        let tn = (h >> 32) % 4;
        for k in 0..tn {
            let tag = TAGS[((h >> (36 + 5 * k)) % TAGS.len() as u64) as usize];
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let customer = self.h(5, i, 0) % self.shape.customers;
        Conversation {
            index: i,
            id: self.conversation_id(i),
            subject: subject(h),
            status,
            channel: CHANNELS[((h >> 48) % CHANNELS.len() as u64) as usize],
            priority: PRIORITIES[((h >> 52) % PRIORITIES.len() as u64) as usize],
            customer_id: self.customer_id(customer),
            assignee,
            tags,
            created_at,
            updated_at: t,
            closed_at: (status == "closed").then_some(t),
            message_count: n,
        }
    }

    fn message_gap(&self, i: u64, j: u32) -> i64 {
        60 + (self.h(6, i, j as u64) % 14_400) as i64
    }

    /// Calls `f` with every message of `conv`, in order. `body` is a scratch
    /// buffer the messages' texts are written into (no allocation per message).
    pub fn for_each_message(
        &self,
        conv: &Conversation,
        body: &mut String,
        mut f: impl FnMut(&Message<'_>),
    ) {
        let mut t = conv.created_at;
        let member_for = |j: u32| -> Uuid {
            match conv.assignee {
                Some(a) => self.members[a].id,
                None => {
                    let k = self.h(7, conv.index, j as u64) % self.members.len() as u64;
                    self.members[k as usize].id
                }
            }
        };
        for j in 0..conv.message_count {
            if j > 0 {
                t += self.message_gap(conv.index, j);
            }
            let kind = self.message_kind(conv.index, j);
            let author_id = match kind {
                MessageKind::Customer => conv.customer_id,
                MessageKind::Reply | MessageKind::Note => member_for(j),
            };
            body.clear();
            let mut rng = self.h(8, conv.index, j as u64);
            match kind {
                MessageKind::Customer => body.push_str("Hi, "),
                MessageKind::Reply => body.push_str("Hello, thanks for reaching out. "),
                MessageKind::Note => body.push_str("Internal: "),
            }
            let words = 14 + (rng % 40) as usize;
            write_text(body, &mut rng, words);
            f(&Message {
                id: self.uuid("message", conv.index, Some(j as u64)),
                conversation_id: conv.id,
                index: j,
                kind,
                author_id,
                body,
                created_at: t,
                attachment: self.attachment(conv.index, j),
            });
        }
    }

    /// Customer `k`.
    pub fn customer(&self, k: u64) -> Customer {
        let h = self.h(9, k, 0);
        let first = FIRST_NAMES[(h % FIRST_NAMES.len() as u64) as usize];
        let last = LAST_NAMES[((h >> 12) % LAST_NAMES.len() as u64) as usize];
        let company = COMPANIES[((h >> 24) % COMPANIES.len() as u64) as usize];
        let span = (DATA_END - 60 * 86_400 - self.created_at).max(1) as u64;
        Customer {
            id: self.customer_id(k),
            name: format!("{first} {last}"),
            email: format!(
                "{}.{}{}@{}",
                first.to_lowercase(),
                last.to_lowercase(),
                k,
                company_domain(company)
            ),
            created_at: self.created_at
                + ((k as u128 * span as u128) / self.shape.customers as u128) as i64,
            company,
            region: REGIONS[((h >> 36) % REGIONS.len() as u64) as usize],
            language: LANGUAGES[((h >> 40) % LANGUAGES.len() as u64) as usize],
            vip: (h >> 44) % 17 == 0,
        }
    }

    /// Category `c`.
    pub fn category(&self, c: u64) -> Category {
        let base = CATEGORY_NAMES[(c % CATEGORY_NAMES.len() as u64) as usize];
        let round = c / CATEGORY_NAMES.len() as u64;
        let name = if round == 0 {
            base.to_string()
        } else {
            format!("{base} ({})", round + 1)
        };
        Category {
            id: self.category_id(c),
            description: format!("Articles about {}.", base.to_lowercase()),
            name,
            position: c,
            created_at: self.created_at + 86_400 * (1 + c as i64),
        }
    }

    /// Article `a`: every fifth one (starting with the fourth) is a draft.
    pub fn article(&self, a: u64) -> Article {
        let mut rng = self.h(10, a, 0);
        let mut title = String::new();
        title.push_str(ARTICLE_STARTS[(rng % ARTICLE_STARTS.len() as u64) as usize]);
        title.push(' ');
        write_text(&mut title, &mut rng, 4);
        title.pop(); // the final '.'
        let mut body = String::with_capacity(1200);
        for _ in 0..3 + rng % 4 {
            let n = 20 + (rng % 30) as usize;
            write_text(&mut body, &mut rng, n);
            body.push_str("\n\n");
        }
        let draft = a % 5 == 3;
        let created_at = self.created_at + 86_400 * (2 + a as i64 % 700) + (rng % 86_400) as i64;
        let updated_at = created_at + (rng >> 20) as i64 % (86_400 * 90);
        Article {
            id: self.uuid("article", a, None),
            category_id: self.category_id(a % self.shape.categories),
            title,
            body: body.trim_end().to_string(),
            status: if draft { "draft" } else { "published" },
            author_id: self.members[(a % self.members.len() as u64) as usize].id,
            created_at,
            updated_at,
            published_at: (!draft).then_some(created_at + 3600),
        }
    }

    /// Routing rule `r`.
    pub fn routing_rule(&self, r: u64) -> RoutingRule {
        let h = self.h(11, r, 0);
        let tag = TAGS[(h % TAGS.len() as u64) as usize];
        let (field, op, value) = match (h >> 8) % 3 {
            0 => ("tag", "equals", tag),
            1 => (
                "subject",
                "contains",
                WORDS[((h >> 16) % WORDS.len() as u64) as usize],
            ),
            _ => (
                "channel",
                "equals",
                CHANNELS[((h >> 16) % CHANNELS.len() as u64) as usize],
            ),
        };
        let assign = (h >> 24) % 3 != 0;
        RoutingRule {
            id: self.uuid("routing_rule", r, None),
            name: format!("Route {value} ({})", r + 1),
            position: r,
            enabled: r % 7 != 6,
            match_mode: if (h >> 28) % 2 == 0 { "all" } else { "any" },
            condition_field: field,
            condition_operator: op,
            condition_value: value,
            assign_to: assign
                .then(|| self.members[((h >> 32) % self.members.len() as u64) as usize].id),
            add_tag: (!assign).then_some(tag),
            set_priority: ((h >> 40) % 4 == 0)
                .then(|| PRIORITIES[((h >> 44) % PRIORITIES.len() as u64) as usize]),
            created_at: self.created_at + 86_400 * (3 + r as i64),
        }
    }

    /// The size the API reports: the same walk as the export, without text.
    pub fn size(&self) -> WorkspaceSize {
        *self.size.get_or_init(|| {
            let mut s = WorkspaceSize {
                conversations: self.shape.conversations,
                customers: self.shape.customers,
                articles: self.shape.articles,
                categories: self.shape.categories,
                routing_rules: self.shape.routing_rules,
                members: self.members.len() as u64,
                ..WorkspaceSize::default()
            };
            for i in 0..self.shape.conversations {
                let n = self.message_count(i);
                s.messages += n as u64;
                for j in 0..n {
                    if self.message_kind(i, j) == MessageKind::Note {
                        s.internal_notes += 1;
                    }
                    if let Some(a) = self.attachment(i, j) {
                        s.attachments += 1;
                        s.attachment_bytes += a.size;
                        if a.size >= LARGE_ATTACHMENT_BYTES {
                            s.large_attachments += 1;
                        }
                    }
                }
            }
            s
        })
    }

    /// The bytes of a small attachment (text, so that it compresses like real files).
    pub fn attachment_bytes(&self, a: &Attachment) -> Vec<u8> {
        let mut out = String::with_capacity(a.size as usize + 200);
        let mut rng = self.h(12, a.conversation, a.message as u64);
        let mut line = 1u32;
        while (out.len() as u64) < a.size {
            out.push_str(&format!("{line:05} "));
            write_text(&mut out, &mut rng, 10);
            out.push('\n');
            line += 1;
        }
        let mut b = out.into_bytes();
        b.truncate(a.size as usize);
        b
    }

    /// Fills `buf` with the bytes of large attachment `k` starting at
    /// `offset` (random-access, so a download can stream it).
    pub fn large_attachment_chunk(&self, k: usize, offset: u64, buf: &mut [u8]) {
        let l = &self.large_attachments[k];
        let key = u64::from_le_bytes(l.id.as_bytes()[..8].try_into().expect("16 bytes"));
        let mut pos = offset;
        let mut i = 0;
        while i < buf.len() {
            let word = mix(key ^ (pos / 8)).to_le_bytes();
            let start = (pos % 8) as usize;
            let n = (8 - start).min(buf.len() - i);
            buf[i..i + n].copy_from_slice(&word[start..start + n]);
            i += n;
            pos += n as u64;
        }
    }

    /// The SHA-256 (hex) of large attachment `k`, computed once.
    pub fn large_attachment_sha256(&self, k: usize) -> &str {
        let l = &self.large_attachments[k];
        l.sha256.get_or_init(|| {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            let mut off = 0;
            while off < l.size {
                let n = (l.size - off).min(buf.len() as u64) as usize;
                self.large_attachment_chunk(k, off, &mut buf[..n]);
                h.update(&buf[..n]);
                off += n as u64;
            }
            hex::encode(h.finalize())
        })
    }
}

/// SplitMix64's finalizer: a fast, well-mixed 64-bit hash.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline]
fn next(rng: &mut u64) -> u64 {
    *rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mix(*rng)
}

/// Appends `words` words as sentences ending in '.'.
fn write_text(out: &mut String, rng: &mut u64, words: usize) {
    let mut start = true;
    for k in 0..words {
        let r = next(rng);
        let w = WORDS[(r % WORDS.len() as u64) as usize];
        if start {
            let mut cs = w.chars();
            if let Some(c) = cs.next() {
                out.push(c.to_ascii_uppercase());
                out.push_str(cs.as_str());
            }
            start = false;
        } else {
            out.push_str(w);
        }
        if k + 1 == words || (r >> 32) % 9 == 0 {
            out.push('.');
            start = true;
        } else if (r >> 40) % 13 == 0 {
            out.push(',');
        }
        if k + 1 != words {
            out.push(' ');
        }
    }
}

fn subject(h: u64) -> String {
    let a = SUBJECT_STARTS[((h >> 56) % SUBJECT_STARTS.len() as u64) as usize];
    let b = SUBJECT_THINGS[((h >> 60) % SUBJECT_THINGS.len() as u64) as usize];
    format!("{a} {b}")
}

fn company_domain(company: &str) -> String {
    let mut d: String = company
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    d.push_str(".example");
    d
}

/// A timestamp (seconds since the Unix epoch) that serializes as ISO 8601 in
/// UTC with a `Z`: `2026-05-06T14:32:01Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ts(pub i64);

impl Ts {
    /// Formats into `buf` without allocating.
    pub fn format(self, buf: &mut [u8; 20]) -> &str {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
        let put2 = |b: &mut [u8], v: i64| {
            b[0] = b'0' + (v / 10) as u8;
            b[1] = b'0' + (v % 10) as u8;
        };
        let y = y.clamp(0, 9999);
        buf[0] = b'0' + (y / 1000) as u8;
        buf[1] = b'0' + (y / 100 % 10) as u8;
        buf[2] = b'0' + (y / 10 % 10) as u8;
        buf[3] = b'0' + (y % 10) as u8;
        buf[4] = b'-';
        put2(&mut buf[5..7], m as i64);
        buf[7] = b'-';
        put2(&mut buf[8..10], d as i64);
        buf[10] = b'T';
        put2(&mut buf[11..13], hh);
        buf[13] = b':';
        put2(&mut buf[14..16], mm);
        buf[16] = b':';
        put2(&mut buf[17..19], ss);
        buf[19] = b'Z';
        std::str::from_utf8(buf).expect("ASCII")
    }
}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 20];
        s.serialize_str(self.format(&mut buf))
    }
}

impl std::fmt::Display for Ts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = [0u8; 20];
        f.write_str(self.format(&mut buf))
    }
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const ATTACHMENT_KINDS: &[(&str, &str, &str)] = &[
    ("error-log", "txt", "text/plain"),
    ("steps-to-reproduce", "txt", "text/plain"),
    ("order-history", "csv", "text/csv"),
    ("browser-console", "log", "text/plain"),
];

const TAGS: &[&str] = &[
    "bug",
    "how-to",
    "feature-request",
    "login",
    "export",
    "mobile",
    "api",
    "integration",
    "urgent",
    "feedback",
    "onboarding",
    "refund",
    "shipping",
    "account",
];
const CHANNELS: &[&str] = &["email", "chat", "web_form"];
const PRIORITIES: &[&str] = &["low", "normal", "normal", "high", "urgent"];
const REGIONS: &[&str] = &["EMEA", "NA", "LATAM", "APAC"];
const LANGUAGES: &[&str] = &["en", "de", "fr", "es", "pt", "ja"];
const SUBJECT_STARTS: &[&str] = &[
    "Cannot access",
    "Question about",
    "Problem with",
    "Feedback on",
    "Help with",
    "Error in",
    "Request to change",
    "Unexpected behaviour of",
    "How do I use",
    "Slow loading of",
    "Missing data in",
    "Cannot update",
    "Trouble with",
    "Clarification on",
    "Issue after update of",
    "Suggestion for",
];
const SUBJECT_THINGS: &[&str] = &[
    "my account",
    "the dashboard",
    "the mobile app",
    "the API",
    "notifications",
    "the reports page",
    "team permissions",
    "the Slack integration",
    "search",
    "saved replies",
    "the inbox view",
    "two-factor login",
    "CSV import",
    "the help center",
    "webhooks",
    "custom fields",
];
const ARTICLE_STARTS: &[&str] = &[
    "How to",
    "Getting started with",
    "Troubleshooting",
    "Understanding",
    "Setting up",
    "FAQ:",
    "Best practices for",
    "Managing",
];
const CATEGORY_NAMES: &[&str] = &[
    "Getting started",
    "Account and login",
    "Integrations",
    "Reports",
    "Mobile app",
    "Automation",
    "Security",
    "Troubleshooting",
    "API",
    "Team management",
    "Notifications",
    "Data and privacy",
];
const FIRST_NAMES: &[&str] = &[
    "Mira", "Jonas", "Priya", "Tomas", "Amara", "Lucas", "Yuki", "Elena", "Omar", "Sofia", "Kwame",
    "Ingrid", "Mateo", "Aisha", "Liam", "Chen", "Noor", "Felix", "Zara", "Diego", "Hana", "Ravi",
    "Lena", "Kofi",
];
const LAST_NAMES: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Sharma",
    "Novak",
    "Mensah",
    "Moreau",
    "Tanaka",
    "Rossi",
    "Haddad",
    "Garcia",
    "Boateng",
    "Berg",
    "Silva",
    "Khan",
    "Murphy",
    "Wang",
    "Rahman",
    "Weber",
    "Ali",
    "Lopez",
    "Sato",
    "Patel",
    "Fischer",
    "Owusu",
];
const COMPANIES: &[&str] = &[
    "Blue Harbor",
    "Kestrel Labs",
    "Northgate",
    "Pinecrest",
    "Umbra Studio",
    "Vantage Foods",
    "Lumen Health",
    "Redwood Logistics",
    "Sable & Co",
    "Tidewater",
    "Orbit Retail",
    "Quarry Works",
];
const WORDS: &[&str] = &[
    "the",
    "account",
    "report",
    "order",
    "please",
    "thanks",
    "we",
    "you",
    "can",
    "not",
    "update",
    "page",
    "error",
    "when",
    "after",
    "before",
    "login",
    "team",
    "settings",
    "export",
    "dashboard",
    "button",
    "shows",
    "again",
    "today",
    "yesterday",
    "since",
    "version",
    "app",
    "mobile",
    "browser",
    "tried",
    "cache",
    "cleared",
    "still",
    "works",
    "broken",
    "widget",
    "customer",
    "email",
    "notification",
    "missing",
    "data",
    "sync",
    "integration",
    "slack",
    "permission",
    "admin",
    "role",
    "changed",
    "new",
    "old",
    "screen",
    "click",
    "loads",
    "slowly",
    "quickly",
    "issue",
    "fixed",
    "look",
    "into",
    "this",
    "that",
    "with",
    "for",
    "and",
    "our",
    "your",
    "team's",
    "shared",
    "inbox",
    "reply",
    "draft",
    "saved",
    "search",
    "filter",
    "results",
    "empty",
    "field",
    "custom",
    "value",
    "import",
    "csv",
    "file",
    "upload",
    "attached",
    "screenshot",
    "steps",
    "reproduce",
    "expected",
    "actual",
    "happens",
    "every",
    "time",
    "sometimes",
    "never",
    "help",
    "center",
    "article",
    "link",
    "open",
    "closed",
    "pending",
    "ticket",
    "assign",
    "agent",
    "queue",
    "priority",
    "urgent",
    "week",
    "month",
    "schedule",
    "report's",
    "total",
    "count",
    "wrong",
    "right",
    "number",
    "time zone",
    "date",
    "format",
];

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
