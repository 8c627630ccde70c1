//! Replies of record on screen: the detail's "Replies" section and the
//! outbox's list of replies whose outcome is unknown.
//!
//! A reply is `sending` from the moment it is stored until its send ends.
//! A send that ends always records `sent` or `failed` — unless its process
//! died (a crash, kill -9, a closed laptop) or the mail server's final
//! answer never came (RFC 5321 §4.1.1.4). Such a reply may or may not have
//! reached the customer, and plain "sending" would read as "wait". So a
//! `sending` reply is shown as in flight only while some process may still
//! be sending it (see [`shown`]); otherwise its outcome is unknown, and the
//! screen says how to find out and how to send it again.

use super::*;
use crate::store::requests::ReplySnap;

/// How long a send can still be running somewhere: two SMTP attempts of
/// at most [`crate::mail::smtp::SEND_TIMEOUT`] (30 s) each (an OAuth token
/// refused once is fetched again and tried once more), and the token
/// command twice, fit well inside 3 minutes.
pub const SEND_AT_MOST: chrono::TimeDelta = chrono::TimeDelta::minutes(3);

/// What a reply of record looks like on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Sent,
    Failed,
    /// Some process may be sending it right now.
    Sending,
    /// `sending`, and no process is sending it any more: it may or may not
    /// have been delivered.
    Unknown,
}

/// Where a `sending` reply stands. `here`: this screen is sending it now
/// (its request has an operation in flight). `others`: other screens run on
/// the store (team mode), so one of them may be sending it, for at most
/// [`SEND_AT_MOST`] after `began`. NOTE: a `concierge reply` run on the
/// command line has no presence entry; while it runs (at most a minute),
/// a screen without colleagues shows its reply as unknown.
pub fn shown(
    reply: &ReplySnap,
    here: bool,
    others: bool,
    began: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Shown {
    match reply.state {
        ReplyState::Sent => Shown::Sent,
        ReplyState::Failed => Shown::Failed,
        ReplyState::Sending if here => Shown::Sending,
        ReplyState::Sending => {
            let recent = began.is_none_or(|t| now - t < SEND_AT_MOST);
            if others && recent {
                Shown::Sending
            } else {
                Shown::Unknown
            }
        }
    }
}

fn shown_in(state: &State, request: i64, reply: &ReplySnap) -> Shown {
    shown(
        reply,
        state.is_pending(request),
        !state.others.is_empty(),
        reply.at,
        state.now,
    )
}

/// An unknown outcome in words, with the way out: where to look, how to
/// send it again (the same bytes with `--force`, or a fresh copy with the
/// reply key, which asks first).
pub fn unknown_advice(state: &State, reply_id: i64) -> String {
    let key = first_key(state, Action::Reply).unwrap_or_else(|| "r".into());
    format!(
        "reply {reply_id} may or may not have reached the customer: check the Sent \
         copy, then resend with `concierge reply --retry {reply_id} --force`, or {key} \
         (asks first)"
    )
}

/// The detail's "Replies" section.
pub(super) fn reply_lines(out: &mut Vec<Line<'static>>, row: &Row, state: &State, w: usize) {
    let r = &row.req;
    if r.replies.is_empty() {
        return;
    }
    out.push(Line::raw(""));
    out.push(heading(&format!("Replies ({})", r.replies.len())));
    for reply in &r.replies {
        let look = shown_in(state, r.id, reply);
        let (color, word) = match look {
            Shown::Sent => (OK, "sent"),
            Shown::Failed => (BAD, "failed"),
            Shown::Sending => (WARN, "sending…"),
            Shown::Unknown => (BAD, "outcome unknown"),
        };
        let at = format!(" · {}", when_known(reply.at, state));
        let mark = Span::styled("✉", Style::new().fg(color));
        let text = format!("{} → {} · {word}{at}", words(&reply.template), reply.to);
        let style = match look {
            Shown::Unknown => Style::new().fg(BAD),
            _ => Style::new(),
        };
        marked(out, 1, mark, &text, style, w);
        if look == Shown::Unknown {
            let advice = unknown_advice(state, reply.id);
            marked(out, 3, Span::raw(""), &advice, Style::new().fg(BAD), w);
        }
    }
}

/// Every reply whose outcome is unknown, as (request, reply), oldest first.
pub(super) fn unknown_replies(state: &State) -> Vec<(i64, &ReplySnap)> {
    let mut out: Vec<(i64, &ReplySnap)> = state
        .rows
        .iter()
        .flat_map(|row| row.req.replies.iter().map(move |rep| (row.req.id, rep)))
        .filter(|(id, rep)| shown_in(state, *id, rep) == Shown::Unknown)
        .collect();
    out.sort_by_key(|(_, rep)| rep.id);
    out
}

/// The outbox's warning lines for replies whose outcome is unknown.
pub(super) fn unknown_lines(state: &State, w: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for (id, rep) in unknown_replies(state) {
        let text = format!("#{id} → {}: {}", rep.to, unknown_advice(state, rep.id));
        marked(
            &mut out,
            0,
            Span::styled("⚠", Style::new().fg(BAD)),
            &text,
            Style::new().fg(BAD),
            w,
        );
    }
    out
}

/// Above the outbox's mail: the replies whose outcome is unknown, in a
/// box of their own. Returns the area left for the mail.
pub(super) fn outbox_warnings(f: &mut Frame<'_>, main: Rect, state: &State) -> Rect {
    let lines = unknown_lines(state, (main.width as usize).saturating_sub(4));
    if lines.is_empty() {
        return main;
    }
    let h = (lines.len() as u16 + 2).min(main.height / 2);
    let [top, rest] = Layout::vertical([Constraint::Length(h), Constraint::Min(0)]).areas(main);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(BAD))
        .title(Line::styled(
            " Outcome unknown ",
            Style::new().fg(BAD).add_modifier(Modifier::BOLD),
        ));
    let inner = block.inner(top);
    f.render_widget(block, top);
    f.render_widget(Paragraph::new(lines), inner);
    rest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::ui::tests::{demo_state, draw, fg_at, select, text};

    fn reply(state: ReplyState) -> ReplySnap {
        ReplySnap {
            id: 3,
            template: "acknowledgement".into(),
            state,
            to: "owner@acme.example".into(),
            at: Some(at("2026-11-23T09:00:00Z")),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_sending_reply_nobody_sends_any_more_has_an_unknown_outcome() {
        let r = reply(ReplyState::Sending);
        let began = Some(at("2026-11-23T09:00:00Z"));
        let now = at("2026-11-23T09:00:10Z");
        // After a restart, alone on the store: nobody can be sending it.
        assert_eq!(shown(&r, false, false, began, now), Shown::Unknown);
        // This screen sends it right now.
        assert_eq!(shown(&r, true, false, began, now), Shown::Sending);
        // A colleague's screen may be sending it, for a while.
        assert_eq!(shown(&r, false, true, began, now), Shown::Sending);
        let later = at("2026-11-23T09:03:00Z");
        assert_eq!(shown(&r, false, true, began, later), Shown::Unknown);
    }

    /// Acme's acknowledgement (#1, reply 1), left `sending` by a crash.
    fn crashed() -> State {
        let mut s = demo_state();
        let row = s.rows.iter_mut().find(|r| r.req.id == 1).unwrap();
        row.req.replies[0].state = ReplyState::Sending;
        s
    }

    #[test]
    fn the_detail_says_a_crashed_reply_may_or_may_not_have_gone_and_the_way_out() {
        let mut s = crashed();
        select(&mut s, 1);
        s.zoom = true;
        let t = draw(&mut s, 100, 44);
        let screen = text(&t);
        insta::assert_snapshot!(screen);
        assert!(screen.contains("outcome unknown"), "{screen}");
        assert!(!screen.contains("sending"), "{screen}");
        assert!(
            screen.contains("concierge reply --retry 1 --force"),
            "{screen}"
        );
        assert_eq!(fg_at(&t, "outcome unknown"), BAD);
    }

    #[test]
    fn a_reply_this_screen_is_sending_reads_sending() {
        let mut s = crashed();
        s.pending = vec![(1, "sending the reply".into())];
        select(&mut s, 1);
        s.zoom = true;
        let screen = text(&draw(&mut s, 100, 44));
        assert!(screen.contains("sending…"), "{screen}");
        assert!(!screen.contains("outcome unknown"), "{screen}");
    }

    #[test]
    fn the_outbox_lists_replies_whose_outcome_is_unknown_above_the_mail() {
        let mut s = crashed();
        s.has_outbox = true;
        s.outbox = vec![crate::tui::state::OutboxMail {
            to: "it@globex.example".into(),
            subject: "Re: Data export request: Globex".into(),
            date: Some(at("2026-11-24T14:02:00Z")),
            body: "Hi,\n\nwe received your request.".into(),
        }];
        s.mode = Mode::Outbox { selected: 0 };
        let t = draw(&mut s, 80, 24);
        let screen = text(&t);
        insta::assert_snapshot!(screen);
        assert!(screen.contains("Outcome unknown"), "{screen}");
        assert!(
            screen.contains("#1 → owner@acme.example: reply 1"),
            "{screen}"
        );
        // Nothing to warn about: the outbox is as before.
        let mut s = demo_state();
        s.has_outbox = true;
        s.mode = Mode::Outbox { selected: 0 };
        assert!(!text(&draw(&mut s, 80, 24)).contains("Outcome unknown"));
    }

    #[test]
    fn sent_and_failed_replies_are_shown_as_they_are() {
        let now = at("2026-11-23T10:00:00Z");
        for (state, look) in [
            (ReplyState::Sent, Shown::Sent),
            (ReplyState::Failed, Shown::Failed),
        ] {
            for (here, others) in [(false, false), (true, true)] {
                assert_eq!(shown(&reply(state), here, others, None, now), look);
            }
        }
    }
}
