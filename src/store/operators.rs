//! Operators' display names as a screen shows them: the change feed and
//! the audit log keep operator ids (`[operator] email`), the screen says
//! "note added by Kim". The `operators` table is written by
//! `Store::register_operator` (every screen, at start); it holds one row per
//! team member, so reading it whole is one small query.

use super::db::{params, Conn};
use anyhow::Result;
use std::collections::HashMap;

/// Every registered operator: id → display name.
pub fn names(conn: &Conn) -> Result<HashMap<String, String>> {
    let rows = conn.query_map("SELECT id, name FROM operators", params![], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    Ok(rows.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn registered_operators_are_named_and_a_rename_is_read() {
        let mut s = Store::in_memory().unwrap();
        assert!(names(s.conn()).unwrap().is_empty());
        s.register_operator("kim@ochrehq.com", "Kim").unwrap();
        s.register_operator("sam@ochrehq.com", "Sam").unwrap();
        let announced = |s: &Store| {
            crate::store::changes::after(s.conn(), 0, 100)
                .unwrap()
                .iter()
                .filter(|c| c.kind == crate::store::team::OPERATOR_NAMED)
                .count()
        };
        assert_eq!(announced(&s), 2, "two new names");
        s.register_operator("kim@ochrehq.com", "Kim").unwrap();
        assert_eq!(announced(&s), 2, "the same name again is no change");
        s.register_operator("kim@ochrehq.com", "Kim Lee").unwrap();
        assert_eq!(announced(&s), 3, "a rename is announced to open screens");
        let n = names(s.conn()).unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(n["kim@ochrehq.com"], "Kim Lee");
        assert_eq!(n["sam@ochrehq.com"], "Sam");
    }
}
