//! The thread in the detail pane and zoomed (Enter), with hostile mail, at
//! 80×24 and 120×40 (issue 14: "the thread/zoom view has no snapshot").
//! The mails go the whole real way: raw bytes → intake → a SQLite store
//! file → the thread as the store hands it back → the renderer. Besides
//! the snapshots (tests/snapshots/), every cell of every screen is checked
//! for what must never reach a terminal: C0/C1 controls (ESC included),
//! bidi overrides and isolates, and the debris a stripped ESC leaves
//! (`[31m`, `]0;`).

use concierge::intake::{inspect, Options};
use concierge::store::Store;
use concierge::tui::state::State;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// The request: escape sequences in the subject (one hidden in an RFC 2047
/// encoded word), an OSC title change and a screen clear in the body, bidi
/// overrides and isolates around a file name.
const REQUEST: &[u8] = b"Authentication-Results: mx.ochrehq.com; dkim=pass; spf=pass; dmarc=pass header.from=acme.example\r\n\
From: =?UTF-8?Q?Ada_=1B[31mOwner=1B[0m?= <owner@acme.example>\r\n\
To: hello@ochrehq.com\r\n\
Date: Mon, 23 Nov 2026 09:14:05 +0000\r\n\
Message-ID: <hostile-1@acme.example>\r\n\
Subject: Data export request: Acme Support \x1b[5mNOW\x1b[0m =?UTF-8?B?G1szMW1yZWQ=?=\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello,\x1b]0;pwned title\x07 please export everything.\x1b[2J\x1b[H\r\n\
Attachment: \xe2\x80\xaegnp.exe\xe2\x80\xac and \xe2\x81\xa6isolated\xe2\x81\xa9 text.\r\n\
Workspace: Acme Support\r\n\
Bell\x07 backspace\x08 NUL\x00 DEL\x7f C1\xc2\x9b31m end.\r\n";

/// A follow-up whose body is one 10 KB line without a space, then one
/// with spaces.
fn long_lines() -> Vec<u8> {
    let mut m = b"From: Ada Owner <owner@acme.example>\r\n\
To: hello@ochrehq.com\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <hostile-2@acme.example>\r\n\
In-Reply-To: <hostile-1@acme.example>\r\n\
References: <hostile-1@acme.example>\r\n\
Subject: Re: Data export request: Acme Support\r\n\
\r\n"
        .to_vec();
    m.extend(std::iter::repeat_n(b'A', 10_240));
    m.extend_from_slice(b"\r\n");
    for i in 0..1_707 {
        m.extend_from_slice(format!("w{i:04} ").as_bytes());
    }
    m.extend_from_slice(b"\r\n");
    m
}

/// A follow-up with broken MIME: a multipart whose boundary never comes, a
/// base64 part that is not base64, an unknown charset and raw 8-bit bytes
/// in a header.
const BROKEN_MIME: &[u8] = b"From: Ada Owner <owner@acme.example>\r\n\
To: hello@ochrehq.com\r\n\
Date: Mon, 23 Nov 2026 11:00:00 +0000\r\n\
Message-ID: <hostile-3@acme.example>\r\n\
In-Reply-To: <hostile-1@acme.example>\r\n\
Subject: Re: Data export request: Acme Support \xff\xfe\xc3\x28\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"never-comes\"\r\n\
\r\n\
--not-the-boundary\r\n\
Content-Type: text/plain; charset=x-unknown-7\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
!!!! not base64 \x1b[31m at all ====\r\n\
--never-comes\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
broken =ZZ soft break =\r\n\
and =1B[41m an escaped ESC\r\n";

/// The store with the three mails, and the screen's state for it, the
/// thread loaded as the app loads it.
fn state() -> (tempfile::TempDir, State) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("concierge.db")).unwrap();
    let opts = Options::default();
    let long = long_lines();
    for raw in [REQUEST, &long[..], BROKEN_MIME] {
        let i = inspect(raw, &opts);
        let key = i.store_key(raw);
        store.store_batch("INBOX", &[(i, key, None)], None).unwrap();
    }
    let requests = store.load_requests().unwrap();
    assert_eq!(
        requests.len(),
        1,
        "the follow-ups joined the request's thread"
    );
    let id = requests[0].id;
    let thread = store.thread_messages(id).unwrap();
    assert_eq!(thread.len(), 3);
    // NOTE: checked here as well as on the screen, because ratatui itself
    // drops zero-width characters such as U+202E when it fills cells: a
    // bidi control the sanitizer let through would not show up below.
    for m in &thread {
        let fields = [Some(&m.subject), Some(&m.body), m.from_name.as_ref()];
        for text in fields.into_iter().flatten() {
            assert!(
                !text.chars().any(|c| is_bidi(c) || c == '\u{1b}'),
                "the store holds unsanitized text: {text:?}"
            );
        }
    }
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T11:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut s = State::new(
        requests,
        concierge::estimate::Rates::default(),
        "Sam".into(),
        now,
    );
    s.thread = Some((id, thread));
    (dir, s)
}

/// The bidi controls of UAX #9 §2: marks, embeddings, overrides, isolates.
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Renders and returns the screen as text, one line per row, after
/// checking every cell for what must never reach a terminal.
fn screen(s: &mut State, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| concierge::tui::ui::render(f, s)).unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for c in out.chars() {
        let bad = (c.is_control() && c != '\n') || is_bidi(c);
        assert!(!bad, "{:?} reached the screen ({w}×{h}):\n{out}", c);
    }
    // Debris: what is left when only the ESC of a sequence is removed. The
    // broken-MIME mail's undecoded quoted-printable `=1B[41m` is the
    // sender's literal text, shown as written, and no debris.
    for debris in ["[31m", "[0m", "[5m", "[2J", "[H", "]0;", "[41m", "pwned"] {
        let bad = out
            .match_indices(debris)
            .any(|(i, _)| !out[..i].ends_with("=1B"));
        assert!(
            !bad,
            "escape-sequence debris {debris:?} on the screen ({w}×{h}):\n{out}"
        );
    }
    out
}

#[test]
fn the_thread_of_hostile_mail_in_the_detail_and_zoomed() {
    let (_dir, mut s) = state();
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        s.zoom = false;
        let detail = screen(&mut s, w, h);
        insta::assert_snapshot!(format!("detail_{w}x{h}"), detail);
        s.zoom = true;
        let zoomed = screen(&mut s, w, h);
        insta::assert_snapshot!(format!("zoom_{w}x{h}"), zoomed);
    }
}

#[test]
fn the_zoomed_thread_scrolls_to_the_broken_mime_without_debris() {
    let (_dir, mut s) = state();
    s.zoom = true;
    // Page down through the whole thread: every screen on the way is
    // checked, the 10 KB lines wrapped, and the last mail reached.
    let (mut seen_first, mut seen_last) = (false, false);
    for step in 0..400u16 {
        s.detail_scroll = step * 20;
        let out = screen(&mut s, 80, 24);
        seen_first |= out.contains("please export everything");
        seen_last |= out.contains("escaped ESC");
    }
    assert!(seen_first, "the request's own text was never shown");
    assert!(seen_last, "the broken-MIME mail was never shown");
}
