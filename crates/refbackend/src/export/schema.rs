//! The first line of each `.json` file of the export: its schema (entity,
//! version, and each field's type), as the help article documents it.

use super::*;

pub(super) fn schema(entity: &str, fields: serde_json::Value) -> serde_json::Value {
    json!({"schema": {"entity": entity, "version": 1, "fields": fields}})
}

const UUID: &str = "uuid";
const DATETIME: &str = "datetime (ISO 8601, UTC, e.g. 2026-05-06T14:32:01Z)";

pub(super) fn conversation_fields() -> serde_json::Value {
    json!({
        "id": UUID,
        "subject": "string",
        "status": "enum: open | pending | snoozed | closed",
        "channel": "enum: email | chat | web_form",
        "priority": "enum: low | normal | high | urgent",
        "customer_id": "uuid, references customers.json id",
        "assignee_id": "uuid or null, references team.json id",
        "tags": "array of string",
        "message_count": "integer, records in messages.json with this conversation_id",
        "created_at": DATETIME,
        "updated_at": DATETIME,
        "closed_at": "datetime or null (set when status is closed)",
    })
}

pub(super) fn message_fields() -> serde_json::Value {
    json!({
        "id": UUID,
        "conversation_id": "uuid, references conversations.json id",
        "author_type": "enum: customer | member",
        "author_id": "uuid, references customers.json id (customer) or team.json id (member)",
        "visibility": "enum: public | internal (internal: a note the customer never saw)",
        "body": "string (plain text)",
        "created_at": DATETIME,
        "attachments": {
            "type": "array of object",
            "fields": {
                "id": UUID,
                "filename": "string",
                "content_type": "string (MIME type)",
                "size": "integer, bytes",
                "sha256": "string, hex SHA-256 of the bytes",
                "path": "string or null: the file inside this ZIP (attachments under 50 MB)",
                "url": "string or null: a download URL (attachments of 50 MB or more), valid as long as the export link",
                "url_expires_at": "datetime or null: when url stops working",
            }
        },
    })
}

pub(super) fn customer_fields() -> serde_json::Value {
    json!({
        "id": UUID,
        "name": "string",
        "email": "string",
        "created_at": DATETIME,
        "custom_fields": {
            "type": "object",
            "fields": {
                "company": "string",
                "region": "enum: EMEA | NA | LATAM | APAC",
                "language": "string (ISO 639-1)",
                "vip": "boolean",
            }
        },
    })
}

pub(super) fn article_fields() -> serde_json::Value {
    json!({
        "id": UUID,
        "category_id": "uuid, references categories.json id",
        "title": "string",
        "body": "string (plain text)",
        "status": "enum: published | draft",
        "author_id": "uuid, references team.json id",
        "created_at": DATETIME,
        "updated_at": DATETIME,
        "published_at": "datetime or null (null for drafts)",
    })
}

pub(super) fn category_fields() -> serde_json::Value {
    json!({
        "id": UUID,
        "name": "string",
        "description": "string",
        "position": "integer, 0-based display order",
        "created_at": DATETIME,
    })
}

pub(super) fn routing_rule_fields() -> serde_json::Value {
    json!({
        "id": UUID,
        "name": "string",
        "position": "integer, 0-based evaluation order",
        "enabled": "boolean",
        "match": "enum: all | any (how the conditions combine)",
        "conditions": {
            "type": "array of object",
            "fields": {
                "field": "enum: tag | subject | channel",
                "operator": "enum: equals | contains",
                "value": "string",
            }
        },
        "actions": {
            "type": "object",
            "fields": {
                "assign_to": "uuid or null, references team.json id",
                "add_tag": "string or null",
                "set_priority": "enum or null: low | normal | high | urgent",
            }
        },
        "created_at": DATETIME,
    })
}

pub(super) fn team_fields() -> serde_json::Value {
    json!({
        "id": "uuid (the member id)",
        "name": "string",
        "email": "string",
        "role": "enum: owner | admin | agent",
        "created_at": DATETIME,
        "api_keys": {
            "type": "array of object",
            "note": "bring-your-own API keys this member added: only the name and the last 4 characters, never the key",
            "fields": {"name": "string", "last4": "string"}
        },
        "integrations": {
            "type": "array of object",
            "note": "integrations this member connected; their OAuth tokens are never exported",
            "fields": {"provider": "string", "connected_at": DATETIME}
        },
    })
}
