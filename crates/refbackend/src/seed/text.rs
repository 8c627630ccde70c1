//! The seed's raw material: the deterministic hash and text generators,
//! the ISO 8601 timestamp type, and the word lists (data tables).

use super::*;

/// SplitMix64's finalizer: a fast, well-mixed 64-bit hash.
#[inline]
pub(super) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline]
pub(super) fn next(rng: &mut u64) -> u64 {
    *rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mix(*rng)
}

/// Appends `words` words as sentences ending in '.'.
pub(super) fn write_text(out: &mut String, rng: &mut u64, words: usize) {
    let mut start = true;
    for k in 0..words {
        let r = next(rng);
        let w = WORDS[(r % WORDS.len() as u64) as usize];
        if start {
            let mut cs = w.chars();
            if let Some(c) = cs.next() {
                out.push(c.to_ascii_uppercase());
                out.push_str(cs.as_str());
            }
            start = false;
        } else {
            out.push_str(w);
        }
        if k + 1 == words || (r >> 32) % 9 == 0 {
            out.push('.');
            start = true;
        } else if (r >> 40) % 13 == 0 {
            out.push(',');
        }
        if k + 1 != words {
            out.push(' ');
        }
    }
}

pub(super) fn subject(h: u64) -> String {
    let a = SUBJECT_STARTS[((h >> 56) % SUBJECT_STARTS.len() as u64) as usize];
    let b = SUBJECT_THINGS[((h >> 60) % SUBJECT_THINGS.len() as u64) as usize];
    format!("{a} {b}")
}

pub(super) fn company_domain(company: &str) -> String {
    let mut d: String = company
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    d.push_str(".example");
    d
}

/// A timestamp (seconds since the Unix epoch) that serializes as ISO 8601 in
/// UTC with a `Z`: `2026-05-06T14:32:01Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ts(pub i64);

impl Ts {
    /// Formats into `buf` without allocating.
    pub fn format(self, buf: &mut [u8; 20]) -> &str {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
        let put2 = |b: &mut [u8], v: i64| {
            b[0] = b'0' + (v / 10) as u8;
            b[1] = b'0' + (v % 10) as u8;
        };
        let y = y.clamp(0, 9999);
        buf[0] = b'0' + (y / 1000) as u8;
        buf[1] = b'0' + (y / 100 % 10) as u8;
        buf[2] = b'0' + (y / 10 % 10) as u8;
        buf[3] = b'0' + (y % 10) as u8;
        buf[4] = b'-';
        put2(&mut buf[5..7], m as i64);
        buf[7] = b'-';
        put2(&mut buf[8..10], d as i64);
        buf[10] = b'T';
        put2(&mut buf[11..13], hh);
        buf[13] = b':';
        put2(&mut buf[14..16], mm);
        buf[16] = b':';
        put2(&mut buf[17..19], ss);
        buf[19] = b'Z';
        std::str::from_utf8(buf).expect("ASCII")
    }
}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 20];
        s.serialize_str(self.format(&mut buf))
    }
}

impl std::fmt::Display for Ts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = [0u8; 20];
        f.write_str(self.format(&mut buf))
    }
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
pub(super) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub(super) const ATTACHMENT_KINDS: &[(&str, &str, &str)] = &[
    ("error-log", "txt", "text/plain"),
    ("steps-to-reproduce", "txt", "text/plain"),
    ("order-history", "csv", "text/csv"),
    ("browser-console", "log", "text/plain"),
];

pub(super) const TAGS: &[&str] = &[
    "bug",
    "how-to",
    "feature-request",
    "login",
    "export",
    "mobile",
    "api",
    "integration",
    "urgent",
    "feedback",
    "onboarding",
    "refund",
    "shipping",
    "account",
];
pub(super) const CHANNELS: &[&str] = &["email", "chat", "web_form"];
pub(super) const PRIORITIES: &[&str] = &["low", "normal", "normal", "high", "urgent"];
pub(super) const REGIONS: &[&str] = &["EMEA", "NA", "LATAM", "APAC"];
pub(super) const LANGUAGES: &[&str] = &["en", "de", "fr", "es", "pt", "ja"];
pub(super) const SUBJECT_STARTS: &[&str] = &[
    "Cannot access",
    "Question about",
    "Problem with",
    "Feedback on",
    "Help with",
    "Error in",
    "Request to change",
    "Unexpected behaviour of",
    "How do I use",
    "Slow loading of",
    "Missing data in",
    "Cannot update",
    "Trouble with",
    "Clarification on",
    "Issue after update of",
    "Suggestion for",
];
pub(super) const SUBJECT_THINGS: &[&str] = &[
    "my account",
    "the dashboard",
    "the mobile app",
    "the API",
    "notifications",
    "the reports page",
    "team permissions",
    "the Slack integration",
    "search",
    "saved replies",
    "the inbox view",
    "two-factor login",
    "CSV import",
    "the help center",
    "webhooks",
    "custom fields",
];
pub(super) const ARTICLE_STARTS: &[&str] = &[
    "How to",
    "Getting started with",
    "Troubleshooting",
    "Understanding",
    "Setting up",
    "FAQ:",
    "Best practices for",
    "Managing",
];
pub(super) const CATEGORY_NAMES: &[&str] = &[
    "Getting started",
    "Account and login",
    "Integrations",
    "Reports",
    "Mobile app",
    "Automation",
    "Security",
    "Troubleshooting",
    "API",
    "Team management",
    "Notifications",
    "Data and privacy",
];
pub(super) const FIRST_NAMES: &[&str] = &[
    "Mira", "Jonas", "Priya", "Tomas", "Amara", "Lucas", "Yuki", "Elena", "Omar", "Sofia", "Kwame",
    "Ingrid", "Mateo", "Aisha", "Liam", "Chen", "Noor", "Felix", "Zara", "Diego", "Hana", "Ravi",
    "Lena", "Kofi",
];
pub(super) const LAST_NAMES: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Sharma",
    "Novak",
    "Mensah",
    "Moreau",
    "Tanaka",
    "Rossi",
    "Haddad",
    "Garcia",
    "Boateng",
    "Berg",
    "Silva",
    "Khan",
    "Murphy",
    "Wang",
    "Rahman",
    "Weber",
    "Ali",
    "Lopez",
    "Sato",
    "Patel",
    "Fischer",
    "Owusu",
];
pub(super) const COMPANIES: &[&str] = &[
    "Blue Harbor",
    "Kestrel Labs",
    "Northgate",
    "Pinecrest",
    "Umbra Studio",
    "Vantage Foods",
    "Lumen Health",
    "Redwood Logistics",
    "Sable & Co",
    "Tidewater",
    "Orbit Retail",
    "Quarry Works",
];
pub(super) const WORDS: &[&str] = &[
    "the",
    "account",
    "report",
    "order",
    "please",
    "thanks",
    "we",
    "you",
    "can",
    "not",
    "update",
    "page",
    "error",
    "when",
    "after",
    "before",
    "login",
    "team",
    "settings",
    "export",
    "dashboard",
    "button",
    "shows",
    "again",
    "today",
    "yesterday",
    "since",
    "version",
    "app",
    "mobile",
    "browser",
    "tried",
    "cache",
    "cleared",
    "still",
    "works",
    "broken",
    "widget",
    "customer",
    "email",
    "notification",
    "missing",
    "data",
    "sync",
    "integration",
    "slack",
    "permission",
    "admin",
    "role",
    "changed",
    "new",
    "old",
    "screen",
    "click",
    "loads",
    "slowly",
    "quickly",
    "issue",
    "fixed",
    "look",
    "into",
    "this",
    "that",
    "with",
    "for",
    "and",
    "our",
    "your",
    "team's",
    "shared",
    "inbox",
    "reply",
    "draft",
    "saved",
    "search",
    "filter",
    "results",
    "empty",
    "field",
    "custom",
    "value",
    "import",
    "csv",
    "file",
    "upload",
    "attached",
    "screenshot",
    "steps",
    "reproduce",
    "expected",
    "actual",
    "happens",
    "every",
    "time",
    "sometimes",
    "never",
    "help",
    "center",
    "article",
    "link",
    "open",
    "closed",
    "pending",
    "ticket",
    "assign",
    "agent",
    "queue",
    "priority",
    "urgent",
    "week",
    "month",
    "schedule",
    "report's",
    "total",
    "count",
    "wrong",
    "right",
    "number",
    "time zone",
    "date",
    "format",
];
