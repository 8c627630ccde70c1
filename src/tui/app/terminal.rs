//! The terminal: the loop that reads keys and draws, the log file, and
//! `$EDITOR`.

use super::*;

/// Runs the app on the terminal until the user quits.
pub fn run(setup: Setup, log_file: Option<PathBuf>) -> Result<()> {
    run_with(setup, log_file, None)
}

/// [`run`], with a first line for the status bar (the demo's join hint).
pub fn run_with(setup: Setup, log_file: Option<PathBuf>, hello: Option<String>) -> Result<()> {
    // NOTE: never log to the terminal while the screen is up; a file, or nothing.
    if let Some(path) = log_file {
        init_log(&path);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run_async(setup, hello))
}

pub(super) async fn run_async(setup: Setup, hello: Option<String>) -> Result<()> {
    use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
    use futures_util::StreamExt;

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut app = App::start(setup, tx.clone())?;
    if let Some(text) = hello {
        app.state.status = Some((text, false));
    }
    let mut terminal = ratatui::init();
    crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste).ok();
    let mut events = EventStream::new();
    let result: Result<()> = async {
        terminal.draw(|f| crate::tui::ui::render(f, &mut app.state))?;
        loop {
            // Tick fast only while something moves on screen.
            let animating = !app.state.pending.is_empty() || app.state.rows.iter().any(|r| r.resolving || r.req.state.is_in_flight());
            let tick = if animating { Duration::from_millis(500) } else { Duration::from_secs(30) };
            let event = tokio::select! {
                ev = events.next() => match ev {
                    Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => Some(Event::Msg(Msg::Key(k))),
                    Some(Ok(TermEvent::Paste(s))) => Some(Event::Msg(Msg::Paste(s))),
                    Some(Ok(TermEvent::Resize(..))) => Some(Event::Msg(Msg::Resize)),
                    Some(Ok(_)) => None,
                    Some(Err(e)) => return Err(e.into()),
                    None => return Ok(()),
                },
                Some(ev) = rx.recv() => Some(ev),
                _ = tokio::time::sleep(tick) => Some(Event::Msg(Msg::Tick(chrono::Utc::now()))),
            };
            let Some(event) = event else { continue };
            app.state.now = chrono::Utc::now();
            app.handle(event);
            // `update` asked for `$EDITOR` (Ctrl-E): it needs the terminal.
            if let Some(text) = app.take_edit() {
                ratatui::restore();
                let editor = std::env::var("VISUAL")
                    .or_else(|_| std::env::var("EDITOR"))
                    .unwrap_or_else(|_| "vi".into());
                let edited = edit_in_editor(&text, &editor);
                terminal = ratatui::init();
                terminal.clear()?;
                app.handle(Event::Msg(match edited {
                    Ok(t) => Msg::Edited(t),
                    Err(e) => Msg::EditorFailed(format!("{e:#}")),
                }));
            }
            if app.state.quit {
                return Ok(());
            }
            terminal.draw(|f| crate::tui::ui::render(f, &mut app.state))?;
        }
    }
    .await;
    crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste).ok();
    ratatui::restore();
    result
}

/// Logs to `path` (appending, no colours); a log that cannot be opened is
/// simply not written.
pub(super) fn init_log(path: &std::path::Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONCIERGE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .try_init();
}

/// The log file: `$XDG_STATE_HOME/concierge/concierge.log` (or the data dir).
pub fn default_log_path() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| {
        d.state_dir()
            .unwrap_or_else(|| d.data_dir())
            .join("concierge")
            .join("concierge.log")
    })
}

/// Opens `text` in `editor` (`$VISUAL`/`$EDITOR`, default `vi`) and returns
/// the result, sanitized like any other text that reaches the screen.
pub(super) fn edit_in_editor(text: &str, editor: &str) -> Result<String> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let argv = shell_words::split(editor).context("$EDITOR is not a valid command line")?;
    let (prog, args) = argv.split_first().context("$EDITOR is empty")?;
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("concierge-edit-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("reply.txt");
    std::fs::write(&path, text)?;
    let status = std::process::Command::new(prog)
        .args(args)
        .arg(&path)
        .status()
        .with_context(|| format!("cannot run {prog}"));
    let out = std::fs::read_to_string(&path);
    let _ = std::fs::remove_dir_all(&dir);
    let status = status?;
    if !status.success() {
        anyhow::bail!("{prog} exited with {status}; the text was kept as it was");
    }
    Ok(crate::intake::sanitize::multi_line(&out?).text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editor_edits_a_copy_and_its_output_is_sanitized() {
        let out = edit_in_editor("Hello Ada", "sed -i s/Hello/Howdy/").unwrap();
        assert_eq!(out.trim_end(), "Howdy Ada");
        let out =
            edit_in_editor("x", "sh -c 'printf \"ok\\033[31m red\" > \"$1\"' editor").unwrap();
        assert_eq!(out, "ok red");
        let err = edit_in_editor("keep me", "false").unwrap_err().to_string();
        assert!(err.contains("kept"), "{err}");
    }
}
