//! The JSON of every type, byte for byte, and the words of the enums.

use super::*;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const ID1: &str = "00000000-0000-0000-0000-000000000001";
const ID2: &str = "00000000-0000-0000-0000-000000000002";

#[test]
fn only_owners_and_admins_may_request() {
    assert!(Role::Owner.may_request_export());
    assert!(Role::Admin.may_request_export());
    assert!(!Role::Agent.may_request_export());
}

#[test]
fn terminal_states() {
    for s in [JobStatus::Emailed, JobStatus::Failed, JobStatus::Cancelled] {
        assert!(s.is_terminal());
        assert_eq!(s.rank(), 3);
    }
    for s in [JobStatus::Queued, JobStatus::Running, JobStatus::Ready] {
        assert!(!s.is_terminal());
    }
    assert!(JobStatus::Queued.rank() < JobStatus::Running.rank());
    assert!(JobStatus::Running.rank() < JobStatus::Ready.rank());
    assert!(JobStatus::Ready.rank() < JobStatus::Emailed.rank());
}

#[test]
fn the_words_are_the_serde_names_and_parse_back() {
    for r in Role::ALL {
        let json = serde_json::to_string(r).unwrap();
        assert_eq!(json, format!("\"{}\"", r.as_str()));
        assert_eq!(r.to_string(), r.as_str());
        assert_eq!(Role::parse(r.as_str()), Some(*r));
        assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), *r);
    }
    for s in JobStatus::ALL {
        let json = serde_json::to_string(s).unwrap();
        assert_eq!(json, format!("\"{}\"", s.as_str()));
        assert_eq!(JobStatus::parse(s.as_str()), Some(*s));
        assert_eq!(serde_json::from_str::<JobStatus>(&json).unwrap(), *s);
    }
    assert_eq!(Role::ALL.len(), 3);
    assert_eq!(JobStatus::ALL.len(), 6);
    assert_eq!(Role::parse("Owner"), None);
    assert_eq!(JobStatus::parse("done"), None);
}

#[test]
fn a_workspace_with_its_size_is_flat_on_the_wire() {
    let size = WorkspaceSize {
        conversations: 1,
        messages: 2,
        internal_notes: 3,
        customers: 4,
        articles: 5,
        categories: 6,
        routing_rules: 7,
        members: 8,
        attachments: 9,
        attachment_bytes: 10,
        large_attachments: 11,
    };
    let d = WorkspaceDetails {
        workspace: Workspace {
            id: id(1),
            name: "Acme Support".into(),
            created_at: at("2024-01-02T03:04:05Z"),
        },
        size,
    };
    let json = format!(
        concat!(
            r#"{{"id":"{ID1}","name":"Acme Support","created_at":"2024-01-02T03:04:05Z","#,
            r#""size":{{"conversations":1,"messages":2,"internal_notes":3,"customers":4,"#,
            r#""articles":5,"categories":6,"routing_rules":7,"members":8,"attachments":9,"#,
            r#""attachment_bytes":10,"large_attachments":11}}}}"#
        ),
        ID1 = ID1
    );
    assert_eq!(serde_json::to_string(&d).unwrap(), json);
    assert_eq!(serde_json::from_str::<WorkspaceDetails>(&json).unwrap(), d);
    // A list item is the workspace alone.
    assert_eq!(
        serde_json::to_string(&d.workspace).unwrap(),
        format!(r#"{{"id":"{ID1}","name":"Acme Support","created_at":"2024-01-02T03:04:05Z"}}"#)
    );
}

#[test]
fn a_member_on_the_wire() {
    let m = Member {
        member_id: id(1),
        workspace_id: id(2),
        workspace_name: "Globex".into(),
        email: "owner@globex.example".into(),
        name: "Olga".into(),
        role: Role::Admin,
    };
    let json = format!(
        r#"{{"member_id":"{ID1}","workspace_id":"{ID2}","workspace_name":"Globex","email":"owner@globex.example","name":"Olga","role":"admin"}}"#
    );
    assert_eq!(serde_json::to_string(&m).unwrap(), json);
    assert_eq!(serde_json::from_str::<Member>(&json).unwrap(), m);
}

#[test]
fn an_export_request_leaves_force_out_unless_it_is_set() {
    let mut r = ExportRequest {
        workspace_id: id(1),
        requested_by: id(2),
        request_message_id: "req-1@acme.example".into(),
        note: None,
        force: false,
    };
    let plain = format!(
        r#"{{"workspace_id":"{ID1}","requested_by":"{ID2}","request_message_id":"req-1@acme.example","note":null}}"#
    );
    assert_eq!(serde_json::to_string(&r).unwrap(), plain);
    assert_eq!(serde_json::from_str::<ExportRequest>(&plain).unwrap(), r);
    r.force = true;
    r.note = Some("all of it".into());
    let forced = serde_json::to_string(&r).unwrap();
    assert!(
        forced.ends_with(r#""note":"all of it","force":true}"#),
        "{forced}"
    );
    assert_eq!(serde_json::from_str::<ExportRequest>(&forced).unwrap(), r);
    // `note` may be left out; an unknown field is refused (the server
    // answers 400 rather than ignoring what a client meant).
    let no_note =
        format!(r#"{{"workspace_id":"{ID1}","requested_by":"{ID2}","request_message_id":"m"}}"#);
    assert_eq!(
        serde_json::from_str::<ExportRequest>(&no_note)
            .unwrap()
            .note,
        None
    );
    let unknown = plain.replace(r#""note":null"#, r#""note":null,"email":"x@y""#);
    assert!(serde_json::from_str::<ExportRequest>(&unknown).is_err());
}

#[test]
fn a_job_on_the_wire() {
    let j = Job {
        id: id(1),
        workspace_id: id(2),
        status: JobStatus::Emailed,
        phase: Some("emailing".into()),
        progress: 1.0,
        created_at: at("2024-05-06T07:08:09Z"),
        started_at: Some(at("2024-05-06T07:08:10.250Z")),
        finished_at: None,
        emailed_at: None,
        deliver_to: Some("o***@acme.example".into()),
        link_expires_at: None,
        error: None,
    };
    let json = format!(
        concat!(
            r#"{{"id":"{ID1}","workspace_id":"{ID2}","status":"emailed","phase":"emailing","#,
            r#""progress":1.0,"created_at":"2024-05-06T07:08:09Z","#,
            r#""started_at":"2024-05-06T07:08:10.250Z","finished_at":null,"emailed_at":null,"#,
            r#""deliver_to":"o***@acme.example","link_expires_at":null,"error":null}}"#
        ),
        ID1 = ID1,
        ID2 = ID2
    );
    assert_eq!(serde_json::to_string(&j).unwrap(), json);
    assert_eq!(serde_json::from_str::<Job>(&json).unwrap(), j);
}

#[test]
fn an_error_body_names_a_job_only_when_it_has_one() {
    let mut e = ErrorBody {
        error: ErrorDetail {
            code: codes::NOT_FOUND.into(),
            message: "no such route".into(),
            job_id: None,
        },
    };
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"error":{"code":"not_found","message":"no such route"}}"#
    );
    e.error.job_id = Some(id(1));
    e.error.code = codes::EXPORT_IN_PROGRESS.into();
    let json = serde_json::to_string(&e).unwrap();
    assert!(
        json.ends_with(&format!(r#""job_id":"{ID1}"}}}}"#)),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<ErrorBody>(&json).unwrap(), e);
}
