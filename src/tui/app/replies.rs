//! A reply's network side: sending it (after its record is stored, so it
//! is never lost nor sent twice) and filing it over IMAP.

use super::*;

impl Runtime {
    /// Stores the reply's record, then sends it on a task.
    pub(super) fn send_reply(
        &mut self,
        id: i64,
        template: Template,
        body: &str,
        again: bool,
        seen: Option<i64>,
    ) -> Vec<Msg> {
        let Some(sender) = self.sender.clone() else {
            return Self::failed(id, "sending the reply", "no [smtp] configured");
        };
        let reply = match self
            .store
            .reply_target(id)
            .and_then(|t| crate::reply::build(&self.from, &t, body))
        {
            Ok(r) => r,
            Err(e) => return Self::failed(id, "building the reply", format!("{e:#}")),
        };
        let reply_id = match crate::ops::reply::begin(
            &mut self.store,
            id,
            template,
            &reply,
            again,
            &self.actor,
            seen,
        ) {
            Ok(r) => r,
            Err(e)
                if crate::domain::StoreError::of(&e)
                    .is_some_and(|s| matches!(s, crate::domain::StoreError::Stale { .. })) =>
            {
                return self.refused(id, "sending the reply", e)
            }
            Err(e) => return Self::failed(id, "recording the reply", format!("{e:#}")),
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let sent = crate::ops::reply::outcome_of(
                &sender.send(&reply).await.map_err(anyhow::Error::from),
            );
            let _ = tx.send(outcome(Outcome::ReplySent {
                id,
                reply_id,
                template,
                reply,
                outcome: sent,
            }));
        });
        vec![]
    }

    /// `\Answered` and the Sent copy, on a blocking thread.
    pub(super) fn file_reply(&self, id: i64, reply_id: i64, reply: Reply) {
        let Some(cfg) = self.config.clone() else {
            return;
        };
        let (Some(imap), crate::config::SourceKind::Imap) = (cfg.imap.clone(), cfg.intake.source)
        else {
            return;
        };
        let Ok(answered) = self.store.reply_target(id).map(|t| t.answered.message_id) else {
            return;
        };
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let result = imap
                .password()
                .and_then(|pw| crate::inbox::imap::file_reply(&imap, &pw, &answered, &reply.bytes));
            let ev = match result {
                Ok((flagged, copied)) => outcome(Outcome::ReplyFiled {
                    reply_id,
                    flagged,
                    copied,
                }),
                Err(e) => msg(Msg::Failed {
                    id,
                    what: "filing the reply over IMAP".into(),
                    error: format!("{e:#}"),
                }),
            };
            let _ = tx.send(ev);
        });
    }
}
