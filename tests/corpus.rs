//! Corpus test for `concierge inspect`.
//!
//! Every `tests/corpus/NAME.eml` has a sibling `tests/corpus/NAME.expected.json`
//! holding the expected inspect line (every field except `file`). The binary is
//! run once over all of them; each output line is compared field by field and
//! every mismatch is collected before failing, so one run shows the whole
//! picture.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

const AUTHSERV_ID: &str = "mx.ochrehq.com";

/// The fields of an inspect line, besides `file`.
const FIELDS: [&str; 12] = [
    "message_id",
    "date",
    "from",
    "from_name",
    "reply_to",
    "subject",
    "kind",
    "workspace",
    "in_reply_to",
    "references",
    "auth",
    "warnings",
];

/// Sub-fields compared one by one, for clearer messages.
const NESTED: [(&str, &[&str]); 2] = [
    ("workspace", &["name", "id"]),
    ("auth", &["dkim", "spf", "dmarc"]),
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn inspect<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_concierge"))
        .current_dir(manifest_dir())
        .arg("inspect")
        .arg("--authserv-id")
        .arg(AUTHSERV_ID)
        .args(args)
        .output()
        .expect("failed to spawn the concierge binary")
}

/// `tests/corpus/*.eml`, as paths relative to the manifest dir, sorted.
fn corpus_files() -> Vec<String> {
    let dir = manifest_dir().join("tests").join("corpus");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("read_dir entry").file_name())
        .filter_map(|name| name.to_str().map(str::to_owned))
        .filter(|name| name.ends_with(".eml"))
        .map(|name| format!("tests/corpus/{name}"))
        .collect();
    files.sort();
    files
}

fn expected_path(eml: &str) -> PathBuf {
    let stem = eml.strip_suffix(".eml").expect("corpus file ends in .eml");
    manifest_dir().join(format!("{stem}.expected.json"))
}

fn is_forbidden_control(c: char) -> bool {
    let c = c as u32;
    c <= 0x1F || (0x7F..=0x9F).contains(&c)
}

/// Every string (and object key) in `value` that holds a forbidden control
/// character, as `json.path: "escaped string"`.
fn control_char_violations(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.chars().any(is_forbidden_control) => {
            out.push(format!("{path}: {}", s.escape_debug()));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                control_char_violations(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key.chars().any(is_forbidden_control) {
                    out.push(format!("{path}: key {}", key.escape_debug()));
                }
                control_char_violations(item, &format!("{path}.{key}"), out);
            }
        }
        _ => {}
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        Some(v) => v.to_string(),
        None => "<missing>".to_owned(),
    }
}

/// `warnings` as a sorted list of strings, or None when it is not an array of
/// strings.
fn warning_set(v: Option<&Value>) -> Option<Vec<String>> {
    let items = v?.as_array()?;
    let mut set = Vec::with_capacity(items.len());
    for item in items {
        set.push(item.as_str()?.to_owned());
    }
    set.sort();
    set.dedup();
    Some(set)
}

/// Compares one output line with its expectation; pushes one message per
/// mismatching field.
fn compare(file: &str, expected: &Value, actual: &Value, problems: &mut Vec<String>) {
    for field in FIELDS {
        let exp = expected.get(field);
        let act = actual.get(field);
        if let Some((_, subs)) = NESTED.iter().find(|(name, _)| *name == field) {
            if act.map(Value::is_object) != Some(true) {
                problems.push(format!(
                    "{file}: field `{field}`: expected an object {}, got {}",
                    show(exp),
                    show(act)
                ));
                continue;
            }
            for sub in subs.iter() {
                let e = exp.and_then(|v| v.get(*sub));
                let a = act.and_then(|v| v.get(*sub));
                if e != a {
                    problems.push(format!(
                        "{file}: field `{field}.{sub}`: expected {}, got {}",
                        show(e),
                        show(a)
                    ));
                }
            }
        } else if field == "warnings" {
            let e = warning_set(exp);
            let a = warning_set(act);
            if a.is_none() || e != a {
                problems.push(format!(
                    "{file}: field `warnings` (as a set): expected {:?}, got {}",
                    e.unwrap_or_default(),
                    show(act)
                ));
            }
        } else if exp != act {
            problems.push(format!(
                "{file}: field `{field}`: expected {}, got {}",
                show(exp),
                show(act)
            ));
        }
    }
}

#[test]
fn corpus_matches_expectations() {
    let files = corpus_files();
    assert!(
        files.len() >= 34,
        "expected at least 34 corpus files, found {}",
        files.len()
    );

    let mut problems: Vec<String> = Vec::new();

    // Load every expectation first, and check the corpus itself is well formed.
    let mut expectations: BTreeMap<&str, Value> = BTreeMap::new();
    for file in &files {
        let path = expected_path(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("{file}: cannot read {}: {e}", path.display()));
                continue;
            }
        };
        let value: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{file}: {} is not valid JSON: {e}", path.display()));
                continue;
            }
        };
        let mut have: Vec<&str> = value
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut want: Vec<&str> = FIELDS.to_vec();
        want.sort();
        have.sort();
        if have != want {
            problems.push(format!(
                "{file}: expectation file has keys {have:?}, want exactly {want:?}"
            ));
        }
        expectations.insert(file.as_str(), value);
    }

    let output = inspect(&files);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    if !output.status.success() {
        problems.push(format!(
            "exit status was {:?}, expected 0; stderr: {}",
            output.status.code(),
            stderr.trim()
        ));
    }

    let lines: Vec<&str> = stdout.lines().collect();
    if lines.len() != files.len() {
        problems.push(format!(
            "{} output lines for {} input files",
            lines.len(),
            files.len()
        ));
    }

    // Index the output by its `file` field; also check it lines up with the
    // order of the arguments.
    let mut actual: BTreeMap<String, Value> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!(
                    "output line {} is not valid JSON ({e}): {}",
                    i + 1,
                    line.escape_debug()
                ));
                continue;
            }
        };
        if !value.is_object() {
            problems.push(format!(
                "output line {} is not a JSON object: {line}",
                i + 1
            ));
            continue;
        }
        let mut bad = Vec::new();
        control_char_violations(&value, "$", &mut bad);
        let file = value.get("file").and_then(Value::as_str).map(str::to_owned);
        let label = file
            .clone()
            .unwrap_or_else(|| format!("output line {}", i + 1));
        for b in bad {
            problems.push(format!("{label}: control character in output string {b}"));
        }
        match file {
            Some(file) => {
                if let Some(arg) = files.get(i) {
                    if *arg != file {
                        problems.push(format!(
                            "output line {} has file {file:?}, expected {arg:?} (argument order)",
                            i + 1
                        ));
                    }
                }
                if actual.insert(file.clone(), value).is_some() {
                    problems.push(format!("{file}: more than one output line"));
                }
            }
            None => problems.push(format!(
                "output line {} has no string `file` field: {line}",
                i + 1
            )),
        }
    }

    for file in &files {
        let Some(expected) = expectations.get(file.as_str()) else {
            continue;
        };
        match actual.get(file) {
            Some(value) => compare(file, expected, value, &mut problems),
            None => problems.push(format!("{file}: no output line for this file")),
        }
    }

    if !problems.is_empty() {
        panic!(
            "{} problem(s) over {} corpus files:\n  {}",
            problems.len(),
            files.len(),
            problems.join("\n  ")
        );
    }
}

// ---------------------------------------------------------------------------
// Generated inputs
// ---------------------------------------------------------------------------

/// Standard base64 with line breaks every 76 characters (as in MIME).
fn base64_mime(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 38 + 8);
    let mut line = 0;
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = [
            ALPHABET[(n >> 18) as usize & 63] as char,
            ALPHABET[(n >> 12) as usize & 63] as char,
            if chunk.len() > 1 {
                ALPHABET[(n >> 6) as usize & 63] as char
            } else {
                '='
            },
            if chunk.len() > 2 {
                ALPHABET[n as usize & 63] as char
            } else {
                '='
            },
        ];
        out.extend(chars);
        line += 4;
        if line == 76 {
            out.push_str("\r\n");
            line = 0;
        }
    }
    if line != 0 {
        out.push_str("\r\n");
    }
    out
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn junk_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        let v = seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .prefix("concierge-corpus-")
        .suffix(".eml")
        .tempfile()
        .expect("create temp file");
    f.write_all(bytes).expect("write temp file");
    f.flush().expect("flush temp file");
    f
}

fn single_json_line(output: &Output, path: &str) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "inspect {path}: exit status {:?}, stderr: {}",
        output.status.code(),
        stderr.trim()
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "inspect {path}: expected one output line, got {stdout:?}"
    );
    let value: Value = serde_json::from_str(lines[0])
        .unwrap_or_else(|e| panic!("inspect {path}: output is not JSON ({e}): {}", lines[0]));
    let mut bad = Vec::new();
    control_char_violations(&value, "$", &mut bad);
    assert!(
        bad.is_empty(),
        "inspect {path}: control characters in output: {bad:?}"
    );
    assert_eq!(
        value.get("file").and_then(Value::as_str),
        Some(path),
        "inspect {path}: `file` must be the path as passed"
    );
    value
}

#[test]
fn large_prefilled_request_with_attachment() {
    const WS_ID: &str = "3f2c9a4e-8b1d-4c7e-9a52-6d0e1f7b2c31";
    let mut msg = String::new();
    msg.push_str(
        "Return-Path: <owner@acme.example>\r\n\
         Authentication-Results: mx.ochrehq.com; dkim=pass header.d=acme.example;\r\n\
         \tspf=pass smtp.mailfrom=acme.example; dmarc=pass header.from=acme.example\r\n\
         Date: Mon, 23 Nov 2026 10:14:05 +0100\r\n\
         From: Ada Owner <owner@acme.example>\r\n\
         To: hello@ochrehq.com\r\n\
         Subject: Data export request: Acme Support\r\n\
         Message-ID: <req-big@acme.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"big-boundary-7f3a\"\r\n\
         \r\n\
         --big-boundary-7f3a\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         \r\n\
         Hello Ochre team,\r\n\
         \r\n\
         I would like to request a full export of our workspace data.\r\n\
         \r\n\
         Workspace: Acme Support\r\n",
    );
    msg.push_str(&format!("Workspace ID: {}\r\n\r\n", WS_ID.to_uppercase()));
    for i in 0..4000 {
        msg.push_str(&format!(
            "Note {i:04}: please make sure every conversation, customer and article is included.\r\n"
        ));
    }
    msg.push_str(
        "\r\n--big-boundary-7f3a\r\n\
         Content-Type: application/octet-stream; name=\"backup.bin\"\r\n\
         Content-Disposition: attachment; filename=\"backup.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n",
    );
    msg.push_str(&base64_mime(&junk_bytes(1_536_000, 0x0C4E_C0DE)));
    msg.push_str("--big-boundary-7f3a--\r\n");
    assert!(
        msg.len() > 2_000_000,
        "generated message is {} bytes",
        msg.len()
    );

    let file = write_temp(msg.as_bytes());
    let path = file.path().to_str().expect("utf-8 temp path").to_owned();
    let value = single_json_line(&inspect([&path]), &path);

    assert_eq!(value["kind"], "export_request", "kind; line: {value}");
    assert_eq!(
        value["workspace"]["name"], "Acme Support",
        "workspace.name; line: {value}"
    );
    assert_eq!(
        value["workspace"]["id"], WS_ID,
        "workspace.id; line: {value}"
    );
    assert_eq!(value["from"], "owner@acme.example", "from; line: {value}");
    assert_eq!(
        value["message_id"], "req-big@acme.example",
        "message_id; line: {value}"
    );
    assert_eq!(value["date"], "2026-11-23T09:14:05Z", "date; line: {value}");
    assert_eq!(
        value["auth"],
        serde_json::json!({"dkim": "pass", "spf": "pass", "dmarc": "pass"}),
        "auth; line: {value}"
    );
    assert_eq!(
        value["warnings"],
        serde_json::json!([]),
        "warnings; line: {value}"
    );
}

#[test]
fn unreadable_file_exits_1_with_one_line() {
    let path = "/nonexistent/file.eml";
    let output = inspect([path]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "exit status for an unreadable file; stderr: {stderr}"
    );
    let message = stderr.trim_end();
    assert!(!message.is_empty(), "stderr must explain the failure");
    assert_eq!(
        message.lines().count(),
        1,
        "stderr must be a single line, got: {stderr:?}"
    );
    assert!(
        message.contains(path),
        "stderr must mention the path {path}, got: {stderr:?}"
    );
}

#[test]
fn binary_junk_is_other_and_malformed() {
    // No ':' anywhere, so nothing can pass for a header; NULs, 0xFF, ESC and
    // C1 bytes included.
    let mut bytes = vec![
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x1B, 0x9B, 0xFF,
    ];
    bytes.extend(
        junk_bytes(16 * 1024, 0xDEAD_BEEF)
            .into_iter()
            .filter(|&b| b != b':'),
    );
    let file = write_temp(&bytes);
    let path = file.path().to_str().expect("utf-8 temp path").to_owned();
    let value = single_json_line(&inspect([&path]), &path);

    assert_eq!(value["kind"], "other", "kind; line: {value}");
    let warnings = warning_set(value.get("warnings"))
        .unwrap_or_else(|| panic!("warnings must be an array of strings; line: {value}"));
    assert!(
        warnings.iter().any(|w| w == "malformed"),
        "warnings must include malformed; line: {value}"
    );
    for field in FIELDS {
        assert!(
            value.get(field).is_some(),
            "field `{field}` missing; line: {value}"
        );
    }
}
