//! The detail pane's export part: what is in flight for the request (a
//! spinner and what it waits for) and the export job (status, progress,
//! times, the link).

use super::*;

/// What is in flight for it: a spinner and what it waits for.
pub(super) fn in_flight(out: &mut Vec<Line<'static>>, row: &Row, state: &State, w: usize) {
    let r = &row.req;
    // What is in flight for it.
    if let Some((_, what)) = state.pending.iter().find(|(p, _)| *p == r.id) {
        marked(
            out,
            0,
            Span::styled(spinner(state), Style::new().fg(ACCENT)),
            &format!("{what}…"),
            Style::new().fg(ACCENT),
            w,
        );
    } else if row.resolving {
        let what = "looking up the requester and the workspace…";
        marked(
            out,
            0,
            Span::styled(spinner(state), Style::new().fg(ACCENT)),
            what,
            Style::new().fg(ACCENT),
            w,
        );
    }
}

/// The export job: status, progress, times, the link.
pub(super) fn job(out: &mut Vec<Line<'static>>, row: &Row, state: &State, w: usize) {
    let r = &row.req;
    if let Some(job) = &r.job {
        out.push(Line::raw(""));
        out.push(Line::from(vec![
            Span::styled(
                "Export job ",
                Style::new().fg(ACCENT).add_modifier(Modifier::BOLD),
            ),
            Span::styled(fit(&job.id, w.saturating_sub(11)), DIM),
        ]));
        let color = match job.status {
            JobStatus::Emailed => OK,
            JobStatus::Cancelled => WARN,
            JobStatus::Failed => BAD,
            _ => ACCENT,
        };
        let mut status = vec![
            Span::raw(" "),
            Span::styled(
                job.status.as_str(),
                Style::new().fg(color).add_modifier(Modifier::BOLD),
            ),
        ];
        if let Some(phase) = job.phase.as_deref().filter(|p| !p.is_empty()) {
            if !job.is_terminal() {
                status.push(Span::raw(format!(" · {}", fit(&words(phase), 30))));
            }
        }
        if !job.is_terminal() {
            status.push(Span::raw(format!(
                " · {:.0}%",
                (job.progress.clamp(0.0, 1.0) * 100.0)
            )));
        }
        out.push(Line::from(status));
        if let Some(t) = job.created_at {
            marked(
                out,
                1,
                Span::styled("started ", DIM),
                &when(t, state),
                Style::new(),
                w,
            );
        }
        if let Some(t) = job.finished_at {
            marked(
                out,
                1,
                Span::styled("finished", DIM),
                &when(t, state),
                Style::new(),
                w,
            );
        }
        if let Some(t) = job.emailed_at {
            let to = job
                .deliver_to
                .as_deref()
                .map(|d| format!(" to {d}"))
                .unwrap_or_default();
            marked(
                out,
                1,
                Span::styled("emailed ", DIM),
                &format!("{}{to}", when(t, state)),
                Style::new(),
                w,
            );
        }
        if let Some(exp) = job.link_expires_at {
            let left = (exp - state.now).num_seconds();
            let (text, color) = if left > 0 {
                (
                    format!("link expires in {}", duration(left)),
                    if left < 24 * 3600 { WARN } else { OK },
                )
            } else {
                (format!("link expired {} ago", duration(-left)), BAD)
            };
            marked(out, 0, Span::raw(""), &text, Style::new().fg(color), w);
        }
        if let Some(e) = &job.error {
            marked(
                out,
                1,
                Span::styled("error", Style::new().fg(BAD).add_modifier(Modifier::BOLD)),
                e,
                Style::new().fg(BAD),
                w,
            );
        }
        if r.state.allows(crate::domain::Action::Retry) {
            let key = first_key(state, Action::RetryJob).unwrap_or_else(|| "t".into());
            marked(
                out,
                1,
                Span::styled("→", Style::new().fg(ACCENT)),
                &format!("{key}: start the export again (the backend is asked for a live export of the workspace first)"),
                Style::new(),
                w,
            );
        }
    }
}
