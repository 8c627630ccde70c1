//! The workers' own I/O: resolving a request against the backend, the
//! inbox poller, reading the outbox.

use super::*;
use crate::inbox::shutdown::Shutdown;

/// Runs `work` on a thread of its own, not on the runtime's blocking pool.
///
/// NOTE: the runtime waits for every `spawn_blocking` task when it ends,
/// so a worker stuck connecting (a team store or IMAP server that accepts
/// the connection and never answers: up to the 10 s connect timeout of
/// store/pg.rs, then again for each connection) held the quit for 10–20 s.
/// A plain thread does not: the process ends when the screen has quit,
/// and a transaction cut so is rolled back (nothing half-stored; the
/// inbox's batch and its cursor are one transaction, `store_batch`).
pub(super) fn detached(name: &str, work: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(work)
    {
        tracing::warn!("cannot start the {name} worker: {e}");
    }
}

/// The backend's view of a request: the requester's memberships (by account
/// email), the workspace, its size.
pub(super) async fn resolve(
    backend: &BackendClient,
    req: &RequestView,
) -> Result<Resolution, ApiError> {
    let email = req.account().unwrap_or_default().to_string();
    let members = if email.is_empty() {
        Vec::new()
    } else {
        backend.members(&email).await?
    };
    let memberships: Vec<Membership> = members
        .iter()
        .map(|m| Membership {
            member_id: m.member_id.to_string(),
            workspace_id: m.workspace_id.to_string(),
            workspace_name: m.workspace_name.clone(),
            email: m.email.clone(),
            role: m.role,
        })
        .collect();
    // Which workspace: the id the mail gave, else its name, else the only
    // workspace the requester belongs to.
    let named = req.workspace_name.as_deref().map(str::to_lowercase);
    let mut workspace: Option<(String, String)> = None;
    if let Some(id) = req
        .workspace_id
        .as_deref()
        .and_then(|w| uuid::Uuid::parse_str(w).ok())
    {
        match backend.workspace(id).await {
            Ok(d) => workspace = Some((d.workspace.id.to_string(), d.workspace.name)),
            Err(ApiError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if workspace.is_none() {
        if let Some(name) = &named {
            workspace = memberships
                .iter()
                .find(|m| m.workspace_name.to_lowercase() == *name)
                .map(|m| (m.workspace_id.clone(), m.workspace_name.clone()));
            if workspace.is_none() {
                if let Some(w) = backend
                    .workspaces(req.workspace_name.as_deref())
                    .await?
                    .into_iter()
                    .next()
                {
                    workspace = Some((w.id.to_string(), w.name));
                }
            }
        } else if memberships.len() == 1 {
            workspace = Some((
                memberships[0].workspace_id.clone(),
                memberships[0].workspace_name.clone(),
            ));
        }
    }
    let size = match &workspace {
        Some((id, _)) => {
            let id = uuid::Uuid::parse_str(id).map_err(|_| ApiError::NotFound {
                code: "bad_id".into(),
                message: id.clone(),
            })?;
            Some(backend.workspace(id).await?.size)
        }
        None => None,
    };
    Ok(Resolution {
        account_email: email,
        memberships,
        workspace,
        size,
    })
}

/// The inbox worker: new requests arrive as `Msg::Requests`. Returns what
/// stops it at once (the screen asks when it quits: a worker blocked in IDLE
/// would otherwise hold the runtime's shutdown until its read returns).
pub(super) fn start_inbox(
    inbox: Inbox,
    store_path: crate::store::Location,
    authserv_id: String,
    may_poll: Option<Arc<std::sync::atomic::AtomicBool>>,
    tx: mpsc::UnboundedSender<Event>,
) -> Option<Shutdown> {
    // Only the lease holder polls (the heartbeat keeps the flag).
    let mine = move || {
        may_poll
            .as_ref()
            .is_none_or(|f| f.load(std::sync::atomic::Ordering::SeqCst))
    };
    match inbox {
        Inbox::None => None,
        Inbox::Maildir(dir) => {
            let stop = Shutdown::new();
            let stopped = stop.clone();
            detached("maildir-inbox", move || {
                // Not openable yet: said, and tried again at the poll's pace.
                let mut store = loop {
                    match Store::open_at(&store_path) {
                        Ok(s) => break s,
                        Err(e) => {
                            let down = Health::Down(format!("the store: {e:#}"));
                            if tx.send(msg(Msg::Inbox(down))).is_err()
                                || stopped.sleep(Duration::from_secs(2))
                            {
                                return;
                            }
                        }
                    }
                };
                let mut first = true;
                loop {
                    if !mine() {
                        if tx.is_closed() || stopped.sleep(Duration::from_millis(500)) {
                            return;
                        }
                        first = true;
                        continue;
                    }
                    let result =
                        crate::inbox::maildir::MaildirSource::new(&dir).and_then(|mut src| {
                            crate::sync::sync_once(&mut src, &mut store, &authserv_id)
                        });
                    let ev = match result {
                        Ok(report) => {
                            if first {
                                let _ = tx.send(msg(Msg::Inbox(Health::Up("Maildir".into()))));
                                first = false;
                            }
                            let views: Vec<RequestView> = report
                                .request_ids
                                .iter()
                                .filter_map(|&id| store.load_request(id).ok())
                                .collect();
                            (!views.is_empty()).then(|| msg(Msg::Requests(views)))
                        }
                        Err(e) => Some(msg(Msg::Inbox(Health::Down(format!("{e:#}"))))),
                    };
                    if let Some(ev) = ev {
                        if tx.send(ev).is_err() {
                            return;
                        }
                    }
                    if tx.is_closed() || stopped.sleep(Duration::from_secs(2)) {
                        return;
                    }
                }
            });
            Some(stop)
        }
        Inbox::Imap { cfg, password } => {
            let opts = crate::sync::PollerOptions {
                authserv_id,
                may_poll: Some(crate::sync::MayPoll(Arc::new(mine))),
                ..Default::default()
            };
            let poller = crate::sync::Poller::start(cfg, password, store_path.clone(), opts);
            let stop = poller.stopper();
            // Ends when the poller has stopped (its channel closes).
            detached("imap-relay", move || {
                // Opened when first needed, and again after a failed open:
                // a store down at start must not hide every new request.
                let mut store: Option<Store> = None;
                for ev in poller.events.iter() {
                    let m = match ev {
                        crate::sync::PollerEvent::Connected { idle } => {
                            Msg::Inbox(Health::Up(if idle {
                                "IDLE".into()
                            } else {
                                "polling".into()
                            }))
                        }
                        crate::sync::PollerEvent::Synced(_, ids) => {
                            if store.is_none() && !ids.is_empty() {
                                store = Store::open_at(&store_path).ok();
                            }
                            let views = store
                                .as_ref()
                                .map(|s| {
                                    ids.iter()
                                        .filter_map(|&id| s.load_request(id).ok())
                                        .collect()
                                })
                                .unwrap_or_default();
                            Msg::Requests(views)
                        }
                        crate::sync::PollerEvent::Down { error, retry_in } => {
                            Msg::Inbox(Health::Down(format!(
                                "{error}; retry in {}s",
                                retry_in.as_secs().max(1)
                            )))
                        }
                        crate::sync::PollerEvent::Fatal(e) => Msg::Inbox(Health::Down(e)),
                    };
                    if tx.send(msg(m)).is_err() {
                        return;
                    }
                }
            });
            Some(stop)
        }
    }
}

/// Reads the mail in the outbox Maildirs, newest first.
pub fn read_outboxes(dirs: &[PathBuf]) -> Vec<OutboxMail> {
    let mut files = Vec::new();
    for d in dirs {
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(d.join(sub)) {
                files.extend(rd.flatten().map(|e| e.path()));
            }
        }
    }
    let mut mails: Vec<(std::time::SystemTime, OutboxMail)> = files
        .iter()
        .filter_map(|p| {
            let raw = std::fs::read(p).ok()?;
            let m = mail_parser::MessageParser::default().parse(&raw)?;
            let clean = |s: &str| crate::intake::sanitize::single_line(s).text;
            let to = m
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(clean)
                .unwrap_or_default();
            let mtime = std::fs::metadata(p)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            Some((
                mtime,
                OutboxMail {
                    to,
                    subject: clean(m.subject().unwrap_or("")),
                    date: m
                        .date()
                        .filter(|d| d.is_valid())
                        .and_then(|d| chrono::DateTime::from_timestamp(d.to_timestamp(), 0)),
                    body: crate::intake::sanitize::multi_line(&m.body_text(0).unwrap_or_default())
                        .text,
                },
            ))
        })
        .collect();
    mails.sort_by_key(|m| std::cmp::Reverse(m.0));
    mails.into_iter().map(|(_, m)| m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::tests::{blocked_store, next_msg};

    #[test]
    fn a_maildir_inbox_whose_store_cannot_be_opened_yet_says_so_and_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let (blocker, at) = blocked_store(dir.path());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let stop = start_inbox(Inbox::Maildir(maildir), at, "mx".into(), None, tx).unwrap();
        let inbox = |m| match m {
            Msg::Inbox(h) => Some(h),
            _ => None,
        };
        match next_msg(&mut rx, inbox) {
            Some(Health::Down(why)) => assert!(why.starts_with("the store: "), "{why}"),
            other => panic!("expected the store down first: {other:?}"),
        }
        std::fs::remove_file(&blocker).unwrap();
        let mut health = next_msg(&mut rx, inbox);
        // A retry may still have been under way when the file went.
        while matches!(&health, Some(Health::Down(why)) if why.starts_with("the store: ")) {
            health = next_msg(&mut rx, inbox);
        }
        assert_eq!(health, Some(Health::Up("Maildir".into())));
        stop.ask();
    }
}
