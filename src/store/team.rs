//! Team mode on one store: request versions and the collision stop, the
//! change log that says what a version changed, operators' names, claims.
//!
//! Every change to a request that an operator's next action depends on
//! (a decision, a reply going out, a link, an override, a new message from
//! the customer, the export's status) bumps `requests.version` by one and
//! writes its one row of the change table (`changes`, with the version,
//! who and what: see `changes.rs`), in the transaction of the change
//! itself. An action an operator takes carries the version their screen
//! showed (`seen`); the store compares it inside the action's own IMMEDIATE
//! transaction, before the record that lets anything be sent or started,
//! and refuses with [`StoreError::Stale`] and the changes since. SQLite's
//! IMMEDIATE transactions (and PostgreSQL's row lock on the request) order
//! two operators acting at once: the second one reads the first one's
//! version and stops.
//!
//! NOTE: what does not bump, and why:
//! - notes: a colleague's scope note informs, it does not contradict; it
//!   must not stop a reply that is still right (the live feed shows it);
//! - claims: advisory; whoever holds the request, a right action stays right;
//! - a reply's outcome (`sent`/`failed`): the send was announced (and
//!   bumped) when it was recorded; its outcome arriving seconds later must
//!   not stop the same operator's next action;
//! - job progress within one status, and a lookup that found the same
//!   account and workspace again: every open screen follows jobs and runs
//!   lookups, so bumping on those would stop every action every few seconds.

use super::db::{params, Conn, OptionalExtension, Tx};
use super::{audit, now, Store};
use crate::domain::{Action, Changed, StoreError};
use anyhow::{bail, Result};

/// The version of a request its operator saw; `None` when no operator saw
/// anything to act on (the intake, a job follower, a one-shot command that
/// reads and acts in one go).
pub type Seen = Option<i64>;

/// The longest "what" kept in the change log (one status-bar line).
pub(crate) const WHAT_MAX: usize = 120;
/// The longest quote of a customer's message in a change.
const QUOTE_MAX: usize = 60;

/// Refuses with [`StoreError::Stale`] when the request is no longer at
/// `seen`. Call inside the action's transaction, before its first write.
pub(crate) fn check_version(tx: &Tx<'_>, id: i64, seen: Seen) -> Result<()> {
    let Some(seen) = seen else { return Ok(()) };
    // NOTE: an UPDATE, not a SELECT: it takes the row's write lock, so on
    // PostgreSQL (READ COMMITTED) a second operator waits for the first
    // one's commit and then finds the version moved (the WHERE is checked
    // again on the newest row); a plain read would let both through. On
    // SQLite the IMMEDIATE transaction already serializes the two.
    let locked = tx.execute(
        "UPDATE requests SET version = version WHERE id = ?1 AND version = ?2",
        params![id, seen],
    )?;
    if locked == 1 {
        return Ok(());
    }
    let current: Option<i64> = tx
        .query_row(
            "SELECT version FROM requests WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .optional()?;
    let current = current.ok_or(StoreError::NotFound {
        what: "request",
        id,
    })?;
    if current != seen {
        return Err(StoreError::Stale {
            id,
            seen,
            now: current,
            changes: changes_since(tx, id, seen)?,
        }
        .into());
    }
    Ok(())
}

/// Bumps the request's version and records the change `kind` (the audit
/// action) that `actor` (an operator id) made, saying `what`; returns the
/// new version. Call inside the change's transaction, INSTEAD of
/// `changes::record`: the change's one row carries the version.
pub(crate) fn bump(tx: &Tx<'_>, id: i64, kind: &str, actor: &str, what: &str) -> Result<i64> {
    bump_with(tx, id, kind, actor, None, what)
}

/// [`bump`] with the display name given ("the customer").
pub(crate) fn bump_as(
    tx: &Tx<'_>,
    id: i64,
    kind: &str,
    actor: &str,
    who: &str,
    what: &str,
) -> Result<i64> {
    bump_with(tx, id, kind, actor, Some(who), what)
}

fn bump_with(
    tx: &Tx<'_>,
    id: i64,
    kind: &str,
    actor: &str,
    who: Option<&str>,
    what: &str,
) -> Result<i64> {
    let version: i64 = tx.query_row(
        "UPDATE requests SET version = version + 1 WHERE id = ?1 RETURNING version",
        params![id],
        |r| r.get(0),
    )?;
    // The registered name (`who: None`) was sanitized and capped at 64
    // when it was registered; anything else is here.
    let who = who.map(|w| one_line(w, WHAT_MAX));
    super::changes::record_version(
        tx,
        id,
        kind,
        actor,
        super::changes::Versioned {
            version,
            who: who.as_deref(),
            what: &one_line(what, WHAT_MAX),
        },
    )?;
    Ok(version)
}

/// The changes to request `id` after version `seen`, oldest first.
pub fn changes_since(conn: &Conn, id: i64, seen: i64) -> Result<Vec<Changed>> {
    conn.query_map(
        "SELECT version, at, who, what FROM changes WHERE request_id = ?1 AND version > ?2 ORDER BY version",
        params![id, seen],
        |r| {
            Ok(Changed {
                version: r.get(0)?,
                at: r.get(1)?,
                who: r.get(2)?,
                what: r.get(3)?,
            })
        },
    )
}

/// An operator's display name: the registered name, else the id itself.
fn display_name(conn: &Conn, actor: &str) -> Result<String> {
    let name: Option<String> = conn
        .query_row(
            "SELECT name FROM operators WHERE id = ?1",
            params![actor],
            |r| r.get(0),
        )
        .optional()?;
    Ok(name.unwrap_or_else(|| actor.to_string()))
}

/// Sanitized (escape sequences out, one line) and capped at `max` chars.
pub(crate) fn one_line(s: &str, max: usize) -> String {
    let text = crate::intake::sanitize::single_line(s).text;
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max - 1).collect();
    format!("{}…", cut.trim_end())
}

/// What a customer's message says, for the change log: its first line of
/// its own (quoted lines and blank lines skipped), sanitized and capped.
pub(crate) fn customer_said(body: &str) -> String {
    let first = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('>'))
        .unwrap_or("");
    format!("“{}”", one_line(first, QUOTE_MAX))
}

/// Who holds a request, as the screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The operator id (email, or name when no email is configured).
    pub by: String,
    pub name: String,
    /// When it was taken (none in a row written without one).
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The change-feed kind of an operator's new or changed display name.
pub const OPERATOR_NAMED: &str = "operator.named";

impl Store {
    /// Records (or renames) the operator `id` as `name`: changes and
    /// claims show names, the audit keeps ids. A new or changed name is
    /// announced in the change feed ([`OPERATOR_NAMED`]), so open screens
    /// read the names again (a rename used to show the old name on
    /// colleagues' screens until they restarted).
    pub fn register_operator(&mut self, id: &str, name: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        let named = tx.execute(
            "INSERT INTO operators (id, name, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at
             WHERE operators.name <> excluded.name",
            params![id, one_line(name, 64), now()],
        )?;
        if named > 0 {
            super::changes::record(&tx, None, OPERATOR_NAMED, id)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The request's current version.
    pub fn version(&self, id: i64) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT version FROM requests WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                StoreError::NotFound {
                    what: "request",
                    id,
                }
                .into()
            })
    }

    /// The changes to request `id` after version `seen`, oldest first.
    pub fn changes_since(&self, id: i64, seen: i64) -> Result<Vec<Changed>> {
        changes_since(&self.conn, id, seen)
    }

    /// Who holds request `id`, if anyone.
    pub fn claim_of(&self, id: i64) -> Result<Option<Claim>> {
        claim_of(&self.conn, id)
    }

    /// Takes request `id` for operator `by`. `holder_seen` is who held it on
    /// the operator's screen when they asked (and, for someone else's, when
    /// they confirmed): a holder that changed since is refused
    /// ([`StoreError::Conflict`]), so a take-over is never blind. Audited as
    /// `request.claimed` with the previous holder. Taking one's own claim
    /// again changes nothing.
    pub fn claim(&mut self, id: i64, by: &str, holder_seen: Option<&str>) -> Result<Claim> {
        let tx = self.conn.transaction()?;
        let previous = claim_of(&tx, id)?;
        let holder = previous.as_ref().map(|c| c.by.as_str());
        if holder == Some(by) {
            tx.commit()?;
            return Ok(previous.expect("held"));
        }
        if holder != holder_seen {
            let now_held = previous
                .as_ref()
                .map_or("nobody".into(), |c| c.name.clone());
            bail!(StoreError::Conflict(format!(
                "request {id} is now held by {now_held}: look again before taking it"
            )));
        }
        tx.execute(
            "UPDATE requests SET claimed_by = ?2, claimed_at = ?3 WHERE id = ?1",
            params![id, by, now()],
        )?;
        audit::append_tx(
            &tx,
            by,
            "request.claimed",
            &format!("request:{id}"),
            &serde_json::json!({ "previous": holder }),
        )?;
        // Every open screen shows the new holder (the change feed).
        super::changes::record(&tx, Some(id), "request.claimed", by)?;
        let claim = claim_of(&tx, id)?.expect("just claimed");
        tx.commit()?;
        Ok(claim)
    }

    /// Gives request `id` back; only its holder can. Audited as
    /// `request.released`.
    pub fn release(&mut self, id: i64, by: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        match claim_of(&tx, id)? {
            Some(c) if c.by == by => {}
            Some(c) => bail!(StoreError::Conflict(format!(
                "request {id} is held by {}, not by you",
                c.name
            ))),
            None => bail!(StoreError::Conflict(format!("request {id} is not held"))),
        }
        tx.execute(
            "UPDATE requests SET claimed_by = NULL, claimed_at = NULL WHERE id = ?1",
            params![id],
        )?;
        audit::append_tx(
            &tx,
            by,
            "request.released",
            &format!("request:{id}"),
            &serde_json::json!({}),
        )?;
        super::changes::record(&tx, Some(id), "request.released", by)?;
        tx.commit()?;
        Ok(())
    }

    /// Records that `actor` asks the backend to cancel the export, after
    /// the collision check: the cancel is sent only once this is stored.
    pub fn cancel_requested(&mut self, id: i64, seen: Seen, actor: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        check_version(&tx, id, seen)?;
        super::requests::ensure_allows(&tx, id, Action::Cancel)?;
        bump(&tx, id, "job.cancel", actor, "cancelled the export")?;
        audit::append_tx(
            &tx,
            actor,
            "job.cancel",
            &format!("request:{id}"),
            &serde_json::json!({}),
        )?;
        tx.commit()?;
        Ok(())
    }
}

fn claim_of(conn: &Conn, id: i64) -> Result<Option<Claim>> {
    let row: Option<(Option<String>, Option<chrono::DateTime<chrono::Utc>>)> = conn
        .query_row(
            "SELECT claimed_by, claimed_at FROM requests WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((by, at)) = row else {
        bail!(StoreError::NotFound {
            what: "request",
            id
        });
    };
    match by {
        Some(by) => Ok(Some(Claim {
            name: display_name(conn, &by)?,
            by,
            at,
        })),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{mail, request};

    fn store_with_request(s: &mut Store) {
        request(s, 1, "Ada <owner@acme.example>");
    }

    fn stale(e: &anyhow::Error) -> Vec<Changed> {
        match StoreError::of(e) {
            Some(StoreError::Stale { changes, .. }) => changes.clone(),
            _ => panic!("not a collision stop: {e:#}"),
        }
    }

    #[test]
    fn a_follow_up_bumps_the_version_and_says_what_the_customer_wrote() {
        let mut s = Store::in_memory().unwrap();
        store_with_request(&mut s);
        assert_eq!(s.version(1).unwrap(), 0);
        let follow = "From: owner@acme.example\r\nMessage-ID: <r2@acme.example>\r\nIn-Reply-To: <r1@acme.example>\r\nSubject: Re: Data export request: Acme\r\n\r\n> quoted\r\n\r\nActually \x1b[31mcancel\x1b[0m it please, we changed our mind about the whole thing entirely\r\n";
        s.store_batch("INBOX", &[mail(follow)], None).unwrap();
        assert_eq!(s.version(1).unwrap(), 1);
        let c = s.changes_since(1, 0).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].who, "the customer");
        assert!(
            c[0].what.starts_with("replied: “Actually cancel it please"),
            "{}",
            c[0].what
        );
        assert!(c[0].what.ends_with("…”"), "capped: {}", c[0].what);
        assert!(!c[0].what.contains('\x1b'));
    }

    #[test]
    fn every_decision_bumps_but_a_note_or_a_claim_does_not() {
        let mut s = Store::in_memory().unwrap();
        store_with_request(&mut s);
        s.register_operator("kim@ochrehq.com", "Kim").unwrap();
        s.add_note(1, "kim@ochrehq.com", "Scope: all").unwrap();
        s.claim(1, "kim@ochrehq.com", None).unwrap();
        assert_eq!(
            s.version(1).unwrap(),
            0,
            "notes and claims are no collision"
        );
        s.override_auth(1, "called them", "kim@ochrehq.com", Some(0))
            .unwrap();
        s.set_workspace(1, "w1", "Acme", "kim@ochrehq.com", Some(1))
            .unwrap();
        s.set_account_email(1, "owner@acme.example", "kim@ochrehq.com", Some(2))
            .unwrap();
        s.approve(1, "k", None, None, &[], "kim@ochrehq.com", Some(3))
            .unwrap();
        assert_eq!(s.load_request(1).unwrap().version, 4);
        let said: Vec<String> = s
            .changes_since(1, 0)
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c.who, c.what))
            .collect();
        assert_eq!(
            said,
            [
                "Kim accepted the sender-authentication failure",
                "Kim linked the workspace Acme",
                "Kim linked the account owner@acme.example",
                "Kim approved it"
            ]
        );
    }

    #[test]
    fn an_action_on_an_older_version_stops_and_records_nothing() {
        let mut s = Store::in_memory().unwrap();
        store_with_request(&mut s);
        s.register_operator("kim@ochrehq.com", "Kim").unwrap();
        let reply = crate::mail::outgoing::Reply {
            message_id: "a@ochrehq.com".into(),
            to: "owner@acme.example".into(),
            subject: "Re: x".into(),
            bytes: b"ack".to_vec(),
        };
        // Kim acknowledges at version 0; Sam, who also read version 0,
        // then approves, rejects and acknowledges: all stop.
        s.reply_begin(1, "acknowledgement", &reply, "kim@ochrehq.com", Some(0))
            .unwrap();
        let audit_before = audit::verify(s.conn()).unwrap().unwrap();
        let e = s
            .approve(1, "k", None, None, &[], "sam", Some(0))
            .unwrap_err();
        let c = stale(&e);
        assert_eq!(c.len(), 1);
        let text = format!("{e}");
        assert!(
            text.contains("Kim sent the acknowledgement just now"),
            "{text}"
        );
        assert!(s.reject(1, "no", "sam", Some(0)).is_err());
        let again = crate::mail::outgoing::Reply {
            message_id: "b@ochrehq.com".into(),
            ..reply
        };
        let e = s
            .reply_begin(1, "acknowledgement", &again, "sam", Some(0))
            .unwrap_err();
        stale(&e);
        let v = s.load_request(1).unwrap();
        assert_eq!(v.state, crate::domain::RequestState::New);
        assert_eq!(v.replies.len(), 1, "the second reply was never recorded");
        assert_eq!(
            audit::verify(s.conn()).unwrap().unwrap(),
            audit_before,
            "nothing was audited"
        );
        // With the version now on screen, the action goes.
        s.reject(1, "no", "sam", Some(v.version)).unwrap();
    }

    #[test]
    fn two_operators_on_two_connections_racing_get_one_decision_and_one_stop() {
        const ROUNDS: i64 = 12;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("team.db");
        {
            let mut s = Store::open(&path).unwrap();
            for n in 1..=ROUNDS {
                let raw = format!("From: owner@acme.example\r\nMessage-ID: <r{n}@acme.example>\r\nSubject: Data export request: Acme {n}\r\n\r\nhi\r\n");
                s.store_batch("INBOX", &[mail(&raw)], None).unwrap();
            }
        }
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let racers: Vec<_> = ["kim", "sam"]
            .into_iter()
            .enumerate()
            .map(|(i, who)| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut s = Store::open(&path).unwrap();
                    let mut won = Vec::new();
                    for id in 1..=ROUNDS {
                        let seen = s.load_request(id).unwrap().version;
                        barrier.wait();
                        // Kim approves, Sam rejects: the same moment.
                        let r = if i == 0 {
                            s.approve(id, "k", None, None, &[], who, Some(seen))
                        } else {
                            s.reject(id, "agent", who, Some(seen))
                        };
                        // Recorded, not asserted here: a panic in one
                        // racer would leave the other waiting at the barrier.
                        match r {
                            Ok(()) => won.push((id, "won".to_string())),
                            Err(e)
                                if matches!(StoreError::of(&e), Some(StoreError::Stale { .. })) => {
                            }
                            Err(e) => won.push((id, format!("{e:#}"))),
                        }
                    }
                    won
                })
            })
            .collect();
        let won: Vec<(i64, String)> = racers.into_iter().flat_map(|t| t.join().unwrap()).collect();
        let s = Store::open(&path).unwrap();
        for id in 1..=ROUNDS {
            let outcomes: Vec<&str> = won
                .iter()
                .filter(|w| w.0 == id)
                .map(|w| w.1.as_str())
                .collect();
            assert_eq!(
                outcomes,
                ["won"],
                "request {id}: one decision, one collision stop"
            );
            let winners = outcomes.len();
            assert_eq!(winners, 1, "request {id}: one decision");
            let decisions: i64 = s
                .conn()
                .query_row(
                    "SELECT COUNT(*) FROM audit WHERE subject = ?1 AND action IN ('request.approved', 'request.rejected')",
                    params![format!("request:{id}")],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(decisions, 1, "request {id}: one decision audited");
            assert_eq!(s.version(id).unwrap(), 1);
        }
        assert!(audit::verify(s.conn()).unwrap().is_ok());
    }
}
