//! Reply templates: `assets/templates/NAME.txt`, compiled in, each
//! overridable by a file of the same name in `templates/` beside the config
//! file.
//!
//! Placeholders are `{{name}}`. Every placeholder must be one this program
//! knows (checked when a template is loaded, overrides included), and every
//! placeholder must be filled with a non-empty value when rendering: a
//! customer never receives literal `{{…}}` text.

use anyhow::{anyhow, bail, Context, Result};
use include_dir::{include_dir, Dir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

static BUILTIN: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/assets/templates");

/// Every template a reply can use.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    Acknowledgement,
    EstimateOver48h,
    ScopeQuestion,
    RejectNotOwnerOrAdmin,
    RejectUseAccountEmail,
    RejectWorkspaceNotFound,
    RejectDuplicate,
}

impl Template {
    pub const ALL: [Template; 7] = [
        Template::Acknowledgement,
        Template::EstimateOver48h,
        Template::ScopeQuestion,
        Template::RejectNotOwnerOrAdmin,
        Template::RejectUseAccountEmail,
        Template::RejectWorkspaceNotFound,
        Template::RejectDuplicate,
    ];

    pub fn file_stem(self) -> &'static str {
        match self {
            Template::Acknowledgement => "acknowledgement",
            Template::EstimateOver48h => "estimate_over_48h",
            Template::ScopeQuestion => "scope_question",
            Template::RejectNotOwnerOrAdmin => "reject_not_owner_or_admin",
            Template::RejectUseAccountEmail => "reject_use_account_email",
            Template::RejectWorkspaceNotFound => "reject_workspace_not_found",
            Template::RejectDuplicate => "reject_duplicate",
        }
    }

    pub fn is_rejection(self) -> bool {
        matches!(
            self,
            Template::RejectNotOwnerOrAdmin
                | Template::RejectUseAccountEmail
                | Template::RejectWorkspaceNotFound
                | Template::RejectDuplicate
        )
    }
}

/// The export-contents block, inserted where a template says `{{export_contents}}`.
const EXPORT_CONTENTS: &str = "export_contents";

/// Placeholders this program fills.
pub const KNOWN: &[&str] = &[
    "requester_name",
    "workspace_name",
    "due_date",
    "business_days",
    "hours",
    "link_ttl_days",
    "operator_name",
    "existing_request",
    EXPORT_CONTENTS,
];

/// The placeholders in `text`, in order, or an error for a malformed one.
pub fn placeholders(text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| anyhow!("unclosed placeholder near {:?}", snippet(&rest[start..])))?;
        let name = after[..end].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("malformed placeholder {:?}", snippet(&rest[start..]));
        }
        out.push(name.to_string());
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        bail!(
            "stray \"}}}}\" near {:?}",
            snippet(&rest[rest.find("}}").unwrap_or(0)..])
        );
    }
    Ok(out)
}

fn snippet(s: &str) -> String {
    s.chars().take(30).collect()
}

/// Templates: the built-in ones, with overrides from a directory.
#[derive(Debug, Clone)]
pub struct Templates {
    texts: BTreeMap<String, (String, String)>, // stem → (text, where from)
}

impl Templates {
    /// Loads every template, preferring `override_dir/NAME.txt` when it
    /// exists; checks every placeholder of every template.
    pub fn load(override_dir: Option<&Path>) -> Result<Templates> {
        let mut texts = BTreeMap::new();
        let stems = Template::ALL
            .iter()
            .map(|t| t.file_stem())
            .chain([EXPORT_CONTENTS]);
        for stem in stems {
            let file = format!("{stem}.txt");
            let over: Option<PathBuf> = override_dir.map(|d| d.join(&file)).filter(|p| p.is_file());
            let (text, origin) = match over {
                Some(p) => (
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("cannot read template {}", p.display()))?,
                    p.display().to_string(),
                ),
                None => {
                    let f = BUILTIN
                        .get_file(&file)
                        .ok_or_else(|| anyhow!("built-in template {file} is missing"))?;
                    let text = f
                        .contents_utf8()
                        .ok_or_else(|| anyhow!("built-in template {file} is not UTF-8"))?;
                    (text.to_string(), format!("built-in {file}"))
                }
            };
            for name in placeholders(&text).with_context(|| format!("template {origin}"))? {
                if !KNOWN.contains(&name.as_str())
                    || (stem == EXPORT_CONTENTS && name == EXPORT_CONTENTS)
                {
                    bail!(
                        "template {origin}: unknown placeholder {{{{{name}}}}} (known: {})",
                        KNOWN.join(", ")
                    );
                }
            }
            texts.insert(stem.to_string(), (text, origin));
        }
        Ok(Templates { texts })
    }

    /// Renders `template` with `vars`. Every placeholder must have a
    /// non-empty value; `export_contents` is filled from its own template.
    pub fn render(&self, template: Template, vars: &BTreeMap<&str, String>) -> Result<String> {
        let mut vars = vars.clone();
        let (contents, _) = &self.texts[EXPORT_CONTENTS];
        vars.insert(
            EXPORT_CONTENTS,
            fill(contents.trim_end(), &vars, EXPORT_CONTENTS)?,
        );
        let (text, origin) = &self.texts[template.file_stem()];
        fill(text, &vars, origin)
    }
}

fn fill(text: &str, vars: &BTreeMap<&str, String>, origin: &str) -> Result<String> {
    let names = placeholders(text)?;
    let missing: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| vars.get(n).is_none_or(|v| v.trim().is_empty()))
        .collect();
    if !missing.is_empty() {
        bail!(
            "template {origin}: no value for {}",
            missing
                .iter()
                .map(|n| format!("{{{{{n}}}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut out = String::with_capacity(text.len() + 256);
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").unwrap_or(0);
        let name = after[..end].trim();
        out.push_str(&vars[name]);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    debug_assert!(!out.contains("{{"));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_vars() -> BTreeMap<&'static str, String> {
        [
            ("requester_name", "Ada Owner"),
            ("workspace_name", "Acme Support"),
            ("due_date", "Monday 30 November 2026, 18:00 UTC"),
            ("business_days", "1"),
            ("hours", "0.9"),
            ("link_ttl_days", "7"),
            ("operator_name", "Sam"),
            ("existing_request", "Ada Owner on 23 November 2026"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
    }

    #[test]
    fn every_template_renders_with_all_placeholders_filled() {
        let t = Templates::load(None).unwrap();
        for tpl in Template::ALL {
            let text = t.render(tpl, &all_vars()).unwrap();
            assert!(!text.contains("{{") && !text.contains("}}"), "{tpl:?}");
            assert!(text.contains("Sam"), "{tpl:?}");
        }
        let ack = t.render(Template::Acknowledgement, &all_vars()).unwrap();
        assert!(
            ack.contains("Monday 30 November 2026")
                && ack.contains("billing data")
                && ack.contains("last 4")
        );
    }

    #[test]
    fn every_template_refuses_a_missing_value() {
        let t = Templates::load(None).unwrap();
        for tpl in Template::ALL {
            let stem = tpl.file_stem();
            let text = &t.texts[stem].0;
            for name in placeholders(text).unwrap() {
                if name == EXPORT_CONTENTS {
                    continue;
                }
                let mut vars = all_vars();
                vars.remove(name.as_str());
                let err = t.render(tpl, &vars).unwrap_err().to_string();
                assert!(
                    err.contains(&format!("{{{{{name}}}}}")),
                    "{tpl:?} without {name}: {err}"
                );
                let mut vars = all_vars();
                vars.insert(Box::leak(name.clone().into_boxed_str()), "  ".into());
                assert!(t.render(tpl, &vars).is_err(), "{tpl:?} with blank {name}");
            }
        }
    }

    #[test]
    fn overrides_are_checked_on_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("acknowledgement.txt"),
            "Hi {{requester_name}}, ready by {{due_date}}.\n",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        assert_eq!(
            t.render(Template::Acknowledgement, &all_vars()).unwrap(),
            "Hi Ada Owner, ready by Monday 30 November 2026, 18:00 UTC.\n"
        );

        std::fs::write(
            dir.path().join("scope_question.txt"),
            "Hi {{requester_nmae}}\n",
        )
        .unwrap();
        let err = Templates::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            err.contains("requester_nmae") && err.contains("scope_question.txt"),
            "{err}"
        );

        std::fs::write(
            dir.path().join("scope_question.txt"),
            "Hi {{requester_name\n",
        )
        .unwrap();
        let err = format!("{:#}", Templates::load(Some(dir.path())).unwrap_err());
        assert!(
            err.contains("unclosed") && err.contains("scope_question.txt"),
            "{err}"
        );
    }
}
