//! `concierge inspect` on files: the same bounded read as `sync`, going on
//! after a file it cannot read (exit 1 at the end), file names sanitized.

use std::process::Command;

fn inspect(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_concierge"))
        .arg("inspect")
        .args(["--authserv-id", "mx.ochrehq.com"])
        .args(args)
        .output()
        .unwrap()
}

const REQUEST: &[u8] =
    b"From: Owner <owner@acme.example>\r\nSubject: Data export request: Acme\r\n\
Message-ID: <r1@acme.example>\r\n\r\nWorkspace: Acme Support\r\n";

#[test]
fn an_unreadable_file_is_reported_and_the_others_are_still_inspected() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.eml");
    std::fs::write(&good, REQUEST).unwrap();
    let missing = dir.path().join("missing.eml");
    let out = inspect(&[
        missing.as_os_str(),
        dir.path().as_os_str(), // a directory cannot be read as a file
        good.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["kind"], "export_request");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    assert!(stderr.contains("missing.eml: no such file"), "{stderr}");
    // A directory is named as one, with what to give instead.
    assert!(
        stderr.contains("it is a directory: give the mail files in it"),
        "{stderr}"
    );
    assert!(!stderr.contains("os error"), "{stderr}");
}

#[test]
fn file_names_are_sanitized_on_stdout_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = dir.path().join("evil\x1b[31mred\u{202e}.eml");
    std::fs::write(&hostile, REQUEST).unwrap();
    let gone = dir.path().join("gone\x1b]0;title\x07.eml");
    let out = inspect(&[hostile.as_os_str(), gone.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let file = line["file"].as_str().unwrap();
    assert!(file.ends_with(".eml") && file.contains("evil"), "{file}");
    assert!(
        !file.contains('\x1b') && !file.contains('\u{202e}'),
        "{file:?}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("gone"), "{stderr}");
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\x07'),
        "{stderr:?}"
    );
}

#[test]
fn an_endless_file_is_read_to_a_bound() {
    // /dev/zero never ends: inspect reads its bounded prefix and answers.
    let out = inspect(&[std::ffi::OsStr::new("/dev/zero")]);
    assert!(out.status.success(), "{out:?}");
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(line["kind"], "other");
}
