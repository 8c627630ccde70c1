//! The export artifact: one ZIP, written streaming, in the publicly
//! documented format (the entries below).
//!
//! Entries, in this order: `conversations.json`, `messages.json`,
//! `customers.json`, `articles.json`, `categories.json`, `routing_rules.json`,
//! `team.json`, `attachments/` (a directory entry, then one file per
//! attachment under 50 MB at `attachments/{attachment_id}/{filename}`).
//! Each `.json` file is line-delimited JSON whose first line is
//! `{"schema": {"entity", "version", "fields"}}`.
//!
//! NOTE: memory stays flat whatever the workspace size: records are generated
//! one at a time (see [`super::seed`]) and serialized into fixed-size chunks
//! on a producer thread, which hands them through a bounded channel to the
//! thread that deflates them into the ZIP (level 6). The two stages overlap,
//! so an export costs about as much as its compression alone.
//!
//! What is never written: billing data (the demo has none to begin with),
//! BYOK secrets (only `name` and `last4`), OAuth tokens, passwords.

use super::seed::{Attachment, MessageKind, Ts, Workspace, LARGE_ATTACHMENT_BYTES};
use super::zipstream::ZipStream;
use ochre_api::WorkspaceSize;
use serde::Serialize;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender};
use uuid::Uuid;

mod schema;
use schema::*;

/// The top-level entries of every export, in order.
pub const ENTRIES: [&str; 8] = [
    "conversations.json",
    "messages.json",
    "customers.json",
    "articles.json",
    "categories.json",
    "routing_rules.json",
    "team.json",
    "attachments/",
];

/// The deflate level (the same as `zip -6`).
pub const DEFLATE_LEVEL: u32 = super::zipstream::DEFLATE_LEVEL;

const CHUNK: usize = 256 * 1024;

/// How the export refers to what is not inside it.
pub struct ExportOptions<'a> {
    /// The time stamped on the ZIP entries.
    pub exported_at: i64,
    /// When the download link (and so every large-attachment URL) expires.
    pub link_expires_at: i64,
    /// The signed URL of a large attachment (50 MB or more).
    pub large_attachment_url: &'a (dyn Fn(&Attachment) -> String + Sync),
    /// Where the ZIP's central directory is spilled while the entries are
    /// written (an unlinked scratch file; the system temp dir when `None`).
    pub scratch_dir: Option<&'a Path>,
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportSummary {
    /// The records of each kind, counted as they were written.
    pub counts: WorkspaceSize,
    /// The bytes of all `.json` entries, uncompressed.
    pub json_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the export was cancelled")]
    Cancelled,
    #[error("could not write the export: {0}")]
    Io(#[from] std::io::Error),
}

enum Piece {
    File(String),
    Dir(String),
    Data(Vec<u8>),
    Progress(&'static str, u64),
}

/// Writes the export of `ws` into `out` (a file, usually; no seeking is
/// needed) and returns it.
///
/// `progress(phase, fraction)` is called as the work advances, from the
/// calling thread; returning `false` stops the export with
/// [`ExportError::Cancelled`].
pub fn write_export<W: Write>(
    ws: &Workspace,
    out: W,
    opts: &ExportOptions<'_>,
    progress: &mut dyn FnMut(&str, f64) -> bool,
) -> Result<(W, ExportSummary), ExportError> {
    let size = ws.size();
    let total = (size.conversations
        + size.messages
        + size.customers
        + size.articles
        + size.categories
        + size.routing_rules
        + size.members
        + (size.attachments - size.large_attachments))
        .max(1) as f64;
    let (tx, rx) = mpsc::sync_channel::<Piece>(4);
    let (recycle_tx, recycle_rx) = mpsc::sync_channel::<Vec<u8>>(6);
    let temp = std::env::temp_dir();
    let scratch = opts.scratch_dir.unwrap_or(&temp);
    let mut zip = ZipStream::new(out, scratch, opts.exported_at)?;
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || produce(ws, opts, tx, recycle_rx));
        let mut consumed = || -> Result<(), ExportError> {
            for piece in rx.iter() {
                match piece {
                    // NOTE: the line-delimited files get ZIP64 sizes from the
                    // start, so any of them may grow past 4 GiB.
                    Piece::File(name) => zip.start_file(&name, name.ends_with(".json"))?,
                    Piece::Dir(name) => zip.add_directory(&name)?,
                    Piece::Data(mut buf) => {
                        zip.write_all(&buf)?;
                        buf.clear();
                        let _ = recycle_tx.try_send(buf);
                    }
                    Piece::Progress(phase, units) => {
                        if !progress(phase, (units as f64 / total).min(1.0)) {
                            return Err(ExportError::Cancelled);
                        }
                    }
                }
            }
            Ok(())
        };
        let result = consumed();
        // NOTE: dropping the receiver makes the producer's next send fail, so
        // a cancelled or failed export stops both threads promptly.
        drop(rx);
        let summary = producer.join().expect("the export producer panicked");
        result?;
        let summary = summary.ok_or(ExportError::Cancelled)?;
        let out = zip.finish()?;
        Ok((out, summary))
    })
}

/// Serialized records in chunks, sent to the ZIP writer.
struct Out {
    tx: SyncSender<Piece>,
    recycle: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    phase: &'static str,
    units: u64,
    json_bytes: u64,
}

struct Stopped;

impl Out {
    fn send(&self, p: Piece) -> Result<(), Stopped> {
        self.tx.send(p).map_err(|_| Stopped)
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        if !self.buf.is_empty() {
            let fresh = self
                .recycle
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(CHUNK + 16 * 1024));
            let full = std::mem::replace(&mut self.buf, fresh);
            self.send(Piece::Data(full))?;
        }
        self.send(Piece::Progress(self.phase, self.units))
    }

    fn file(&mut self, name: &str, phase: &'static str) -> Result<(), Stopped> {
        self.flush()?;
        self.phase = phase;
        self.send(Piece::File(name.to_string()))
    }

    fn line<T: Serialize>(&mut self, record: &T) -> Result<(), Stopped> {
        let before = self.buf.len();
        serde_json::to_writer(&mut self.buf, record).expect("records always serialize");
        self.buf.push(b'\n');
        self.json_bytes += (self.buf.len() - before) as u64;
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn record<T: Serialize>(&mut self, record: &T) -> Result<(), Stopped> {
        self.units += 1;
        self.line(record)
    }
}

fn produce(
    ws: &Workspace,
    opts: &ExportOptions<'_>,
    tx: SyncSender<Piece>,
    recycle: Receiver<Vec<u8>>,
) -> Option<ExportSummary> {
    let mut out = Out {
        tx,
        recycle,
        buf: Vec::with_capacity(CHUNK + 16 * 1024),
        phase: "collecting",
        units: 0,
        json_bytes: 0,
    };
    let mut counts = WorkspaceSize::default();
    produce_all(ws, opts, &mut out, &mut counts).ok()?;
    Some(ExportSummary {
        counts,
        json_bytes: out.json_bytes,
    })
}

/// Every file of the export, in the order of the help article.
fn produce_all(
    ws: &Workspace,
    opts: &ExportOptions<'_>,
    out: &mut Out,
    c: &mut WorkspaceSize,
) -> Result<(), Stopped> {
    out.flush()?;
    write_conversations(ws, out, c)?;
    write_messages(ws, opts, out, c)?;
    write_customers(ws, out, c)?;
    write_articles(ws, out, c)?;
    write_categories(ws, out, c)?;
    write_routing_rules(ws, out, c)?;
    write_team(ws, out, c)?;
    write_attachments(ws, out)
}

/// `conversations.json`.
fn write_conversations(
    ws: &Workspace,
    out: &mut Out,
    c: &mut WorkspaceSize,
) -> Result<(), Stopped> {
    out.file("conversations.json", "writing:conversations")?;
    out.line(&schema("conversation", conversation_fields()))?;
    for i in 0..ws.conversations() {
        let conv = ws.conversation(i);
        out.record(&ConversationRec {
            id: conv.id,
            subject: &conv.subject,
            status: conv.status,
            channel: conv.channel,
            priority: conv.priority,
            customer_id: conv.customer_id,
            assignee_id: conv.assignee.map(|a| ws.members[a].id),
            tags: &conv.tags,
            message_count: conv.message_count,
            created_at: Ts(conv.created_at),
            updated_at: Ts(conv.updated_at),
            closed_at: conv.closed_at.map(Ts),
        })?;
        c.conversations += 1;
    }
    Ok(())
}

/// `messages.json`, counting notes and attachments.
fn write_messages(
    ws: &Workspace,
    opts: &ExportOptions<'_>,
    out: &mut Out,
    c: &mut WorkspaceSize,
) -> Result<(), Stopped> {
    out.file("messages.json", "writing:messages")?;
    out.line(&schema("message", message_fields()))?;
    let mut body = String::with_capacity(1024);
    for i in 0..ws.conversations() {
        let conv = ws.conversation(i);
        let mut failed = false;
        ws.for_each_message(&conv, &mut body, |m| {
            if failed {
                return;
            }
            let att = m.attachment.as_ref().map(|a| attachment_rec(ws, opts, a));
            let rec = MessageRec {
                id: m.id,
                conversation_id: m.conversation_id,
                author_type: match m.kind {
                    MessageKind::Customer => "customer",
                    _ => "member",
                },
                author_id: m.author_id,
                visibility: match m.kind {
                    MessageKind::Note => "internal",
                    _ => "public",
                },
                body: m.body,
                created_at: Ts(m.created_at),
                attachments: att.as_slice(),
            };
            c.messages += 1;
            if m.kind == MessageKind::Note {
                c.internal_notes += 1;
            }
            if let Some(a) = &m.attachment {
                c.attachments += 1;
                c.attachment_bytes += a.size;
                if a.size >= LARGE_ATTACHMENT_BYTES {
                    c.large_attachments += 1;
                }
            }
            failed = out.record(&rec).is_err();
        });
        if failed {
            return Err(Stopped);
        }
    }
    Ok(())
}

/// `customers.json`.
fn write_customers(ws: &Workspace, out: &mut Out, c: &mut WorkspaceSize) -> Result<(), Stopped> {
    out.file("customers.json", "writing:customers")?;
    out.line(&schema("customer", customer_fields()))?;
    for k in 0..ws.customers() {
        let cu = ws.customer(k);
        out.record(&CustomerRec {
            id: cu.id,
            name: &cu.name,
            email: &cu.email,
            created_at: Ts(cu.created_at),
            custom_fields: CustomFields {
                company: cu.company,
                region: cu.region,
                language: cu.language,
                vip: cu.vip,
            },
        })?;
        c.customers += 1;
    }
    Ok(())
}

/// `articles.json`.
fn write_articles(ws: &Workspace, out: &mut Out, c: &mut WorkspaceSize) -> Result<(), Stopped> {
    out.file("articles.json", "writing:articles")?;
    out.line(&schema("article", article_fields()))?;
    for a in 0..ws.articles() {
        let ar = ws.article(a);
        out.record(&ArticleRec {
            id: ar.id,
            category_id: ar.category_id,
            title: &ar.title,
            body: &ar.body,
            status: ar.status,
            author_id: ar.author_id,
            created_at: Ts(ar.created_at),
            updated_at: Ts(ar.updated_at),
            published_at: ar.published_at.map(Ts),
        })?;
        c.articles += 1;
    }
    Ok(())
}

/// `categories.json`.
fn write_categories(ws: &Workspace, out: &mut Out, c: &mut WorkspaceSize) -> Result<(), Stopped> {
    out.file("categories.json", "writing:categories")?;
    out.line(&schema("category", category_fields()))?;
    for k in 0..ws.categories() {
        let ca = ws.category(k);
        out.record(&CategoryRec {
            id: ca.id,
            name: &ca.name,
            description: &ca.description,
            position: ca.position,
            created_at: Ts(ca.created_at),
        })?;
        c.categories += 1;
    }
    Ok(())
}

/// `routing_rules.json`.
fn write_routing_rules(
    ws: &Workspace,
    out: &mut Out,
    c: &mut WorkspaceSize,
) -> Result<(), Stopped> {
    out.file("routing_rules.json", "writing:routing_rules")?;
    out.line(&schema("routing_rule", routing_rule_fields()))?;
    for r in 0..ws.routing_rules() {
        let ru = ws.routing_rule(r);
        out.record(&RoutingRuleRec {
            id: ru.id,
            name: &ru.name,
            position: ru.position,
            enabled: ru.enabled,
            r#match: ru.match_mode,
            conditions: [ConditionRec {
                field: ru.condition_field,
                operator: ru.condition_operator,
                value: ru.condition_value,
            }],
            actions: ActionsRec {
                assign_to: ru.assign_to,
                add_tag: ru.add_tag,
                set_priority: ru.set_priority,
            },
            created_at: Ts(ru.created_at),
        })?;
        c.routing_rules += 1;
    }
    Ok(())
}

/// `team.json`: roles, BYOK keys as name and last 4 only.
fn write_team(ws: &Workspace, out: &mut Out, c: &mut WorkspaceSize) -> Result<(), Stopped> {
    out.file("team.json", "writing:team")?;
    out.line(&schema("team_member", team_fields()))?;
    for m in &ws.members {
        let api_keys: Vec<ApiKeyRec> = ws
            .byok_keys
            .iter()
            .filter(|k| k.added_by == m.id)
            .map(|k| ApiKeyRec {
                name: k.name.clone(),
                last4: k.last4(),
            })
            .collect();
        let integrations: Vec<IntegrationRec> = ws
            .integrations
            .iter()
            .filter(|i| i.connected_by == m.id)
            .map(|i| IntegrationRec {
                provider: &i.provider,
                connected_at: Ts(i.connected_at),
            })
            .collect();
        out.record(&TeamRec {
            id: m.id,
            name: &m.name,
            email: &m.email,
            role: m.role.as_str(),
            created_at: Ts(m.created_at),
            api_keys,
            integrations,
        })?;
        c.members += 1;
    }
    Ok(())
}

/// `attachments/`: the small attachments' bytes (large ones are URLs).
fn write_attachments(ws: &Workspace, out: &mut Out) -> Result<(), Stopped> {
    out.flush()?;
    out.phase = "writing:attachments";
    out.send(Piece::Dir("attachments/".into()))?;
    for i in 0..ws.conversations() {
        for j in 0..ws.message_count(i) {
            let Some(a) = ws.attachment(i, j) else {
                continue;
            };
            if a.large.is_some() {
                continue;
            }
            out.send(Piece::File(attachment_path(&a)))?;
            out.send(Piece::Data(ws.attachment_bytes(&a)))?;
            out.units += 1;
            out.send(Piece::Progress(out.phase, out.units))?;
        }
    }
    out.flush()
}

/// Where a small attachment lives inside the ZIP.
pub fn attachment_path(a: &Attachment) -> String {
    format!("attachments/{}/{}", a.id, a.filename)
}

fn attachment_rec(ws: &Workspace, opts: &ExportOptions<'_>, a: &Attachment) -> AttachmentRec {
    match a.large {
        Some(k) => AttachmentRec {
            id: a.id,
            filename: a.filename.clone(),
            content_type: a.content_type,
            size: a.size,
            sha256: ws.large_attachment_sha256(k).to_string(),
            path: None,
            url: Some((opts.large_attachment_url)(a)),
            url_expires_at: Some(Ts(opts.link_expires_at)),
        },
        None => {
            use sha2::{Digest, Sha256};
            let bytes = ws.attachment_bytes(a);
            AttachmentRec {
                id: a.id,
                filename: a.filename.clone(),
                content_type: a.content_type,
                size: a.size,
                sha256: hex::encode(Sha256::digest(&bytes)),
                path: Some(attachment_path(a)),
                url: None,
                url_expires_at: None,
            }
        }
    }
}

// ---- records ----

#[derive(Serialize)]
struct ConversationRec<'a> {
    id: Uuid,
    subject: &'a str,
    status: &'a str,
    channel: &'a str,
    priority: &'a str,
    customer_id: Uuid,
    assignee_id: Option<Uuid>,
    tags: &'a [&'a str],
    message_count: u32,
    created_at: Ts,
    updated_at: Ts,
    closed_at: Option<Ts>,
}

#[derive(Serialize)]
struct MessageRec<'a> {
    id: Uuid,
    conversation_id: Uuid,
    author_type: &'a str,
    author_id: Uuid,
    visibility: &'a str,
    body: &'a str,
    created_at: Ts,
    attachments: &'a [AttachmentRec],
}

#[derive(Serialize)]
struct AttachmentRec {
    id: Uuid,
    filename: String,
    content_type: &'static str,
    size: u64,
    sha256: String,
    /// Inside the ZIP (under 50 MB), or null.
    path: Option<String>,
    /// A signed URL (50 MB or more), or null.
    url: Option<String>,
    url_expires_at: Option<Ts>,
}

#[derive(Serialize)]
struct CustomerRec<'a> {
    id: Uuid,
    name: &'a str,
    email: &'a str,
    created_at: Ts,
    custom_fields: CustomFields<'a>,
}

#[derive(Serialize)]
struct CustomFields<'a> {
    company: &'a str,
    region: &'a str,
    language: &'a str,
    vip: bool,
}

#[derive(Serialize)]
struct ArticleRec<'a> {
    id: Uuid,
    category_id: Uuid,
    title: &'a str,
    body: &'a str,
    status: &'a str,
    author_id: Uuid,
    created_at: Ts,
    updated_at: Ts,
    published_at: Option<Ts>,
}

#[derive(Serialize)]
struct CategoryRec<'a> {
    id: Uuid,
    name: &'a str,
    description: &'a str,
    position: u64,
    created_at: Ts,
}

#[derive(Serialize)]
struct RoutingRuleRec<'a> {
    id: Uuid,
    name: &'a str,
    position: u64,
    enabled: bool,
    r#match: &'a str,
    conditions: [ConditionRec<'a>; 1],
    actions: ActionsRec<'a>,
    created_at: Ts,
}

#[derive(Serialize)]
struct ConditionRec<'a> {
    field: &'a str,
    operator: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct ActionsRec<'a> {
    assign_to: Option<Uuid>,
    add_tag: Option<&'a str>,
    set_priority: Option<&'a str>,
}

#[derive(Serialize)]
struct TeamRec<'a> {
    id: Uuid,
    name: &'a str,
    email: &'a str,
    role: &'a str,
    created_at: Ts,
    api_keys: Vec<ApiKeyRec>,
    integrations: Vec<IntegrationRec<'a>>,
}

/// A BYOK key as the export shows it: its name and the last 4 characters.
#[derive(Serialize)]
struct ApiKeyRec {
    name: String,
    last4: String,
}

#[derive(Serialize)]
struct IntegrationRec<'a> {
    provider: &'a str,
    connected_at: Ts,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Demo;
    use std::io::{Cursor, Read};

    #[test]
    fn acme_export_matches_its_size_and_rules() {
        let demo = Demo::new("demo");
        let ws = demo.workspace_by_name("Acme Support").unwrap();
        let url = |a: &Attachment| format!("https://x.example/attachments/{}", a.id);
        let opts = ExportOptions {
            exported_at: 1_790_000_000,
            link_expires_at: 1_790_604_800,
            large_attachment_url: &url,
            scratch_dir: None,
        };
        let mut phases = Vec::new();
        let (cur, summary) = write_export(ws, Cursor::new(Vec::new()), &opts, &mut |p, f| {
            assert!((0.0..=1.0).contains(&f));
            if phases.last().map(|l: &String| l != p).unwrap_or(true) {
                phases.push(p.to_string());
            }
            true
        })
        .unwrap();
        assert_eq!(summary.counts, ws.size());
        assert!(
            phases.contains(&"writing:messages".to_string()),
            "{phases:?}"
        );
        let bytes = cur.into_inner();
        for needle in ["sk-demo-acme-51f0c2d94e7a", "oauth-demo-acme-7d1e"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()));
        }
        let mut z = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let names: Vec<String> = z.file_names().map(|n| n.unwrap().into_owned()).collect();
        for e in ENTRIES {
            assert!(names.iter().any(|n| n == e), "{e} missing");
        }
        let mut team = String::new();
        z.by_name("team.json")
            .unwrap()
            .read_to_string(&mut team)
            .unwrap();
        assert!(team.contains(r#""api_keys":[{"name":"OpenAI production","last4":"4e7a"}]"#));
        assert!(!team.contains("oauth-demo"));
    }

    #[test]
    fn cancel_stops_the_export() {
        let demo = Demo::new("demo");
        let ws = demo.workspace_by_name("Northwind Traders").unwrap();
        let url = |_: &Attachment| String::new();
        let opts = ExportOptions {
            exported_at: 0,
            link_expires_at: 0,
            large_attachment_url: &url,
            scratch_dir: None,
        };
        let mut calls = 0;
        let r = write_export(ws, Cursor::new(Vec::new()), &opts, &mut |_, _| {
            calls += 1;
            calls < 5
        });
        assert!(matches!(r, Err(ExportError::Cancelled)));
    }
}
