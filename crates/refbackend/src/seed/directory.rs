//! What the demo seeds beside conversations: customers, the help center
//! (categories and articles), routing rules, and the size the API reports.

use super::text::*;
use super::*;

impl Workspace {
    /// Customer `k`.
    pub fn customer(&self, k: u64) -> Customer {
        let h = self.h(9, k, 0);
        let first = FIRST_NAMES[(h % FIRST_NAMES.len() as u64) as usize];
        let last = LAST_NAMES[((h >> 12) % LAST_NAMES.len() as u64) as usize];
        let company = COMPANIES[((h >> 24) % COMPANIES.len() as u64) as usize];
        let span = (DATA_END - 60 * 86_400 - self.created_at).max(1) as u64;
        Customer {
            id: self.customer_id(k),
            name: format!("{first} {last}"),
            email: format!(
                "{}.{}{}@{}",
                first.to_lowercase(),
                last.to_lowercase(),
                k,
                company_domain(company)
            ),
            created_at: self.created_at
                + ((k as u128 * span as u128) / self.shape.customers as u128) as i64,
            company,
            region: REGIONS[((h >> 36) % REGIONS.len() as u64) as usize],
            language: LANGUAGES[((h >> 40) % LANGUAGES.len() as u64) as usize],
            vip: (h >> 44) % 17 == 0,
        }
    }

    /// Category `c`.
    pub fn category(&self, c: u64) -> Category {
        let base = CATEGORY_NAMES[(c % CATEGORY_NAMES.len() as u64) as usize];
        let round = c / CATEGORY_NAMES.len() as u64;
        let name = if round == 0 {
            base.to_string()
        } else {
            format!("{base} ({})", round + 1)
        };
        Category {
            id: self.category_id(c),
            description: format!("Articles about {}.", base.to_lowercase()),
            name,
            position: c,
            created_at: self.created_at + 86_400 * (1 + c as i64),
        }
    }

    /// Article `a`: every fifth one (starting with the fourth) is a draft.
    pub fn article(&self, a: u64) -> Article {
        let mut rng = self.h(10, a, 0);
        let mut title = String::new();
        title.push_str(ARTICLE_STARTS[(rng % ARTICLE_STARTS.len() as u64) as usize]);
        title.push(' ');
        write_text(&mut title, &mut rng, 4);
        title.pop(); // the final '.'
        let mut body = String::with_capacity(1200);
        for _ in 0..3 + rng % 4 {
            let n = 20 + (rng % 30) as usize;
            write_text(&mut body, &mut rng, n);
            body.push_str("\n\n");
        }
        let draft = a % 5 == 3;
        let created_at = self.created_at + 86_400 * (2 + a as i64 % 700) + (rng % 86_400) as i64;
        let updated_at = created_at + (rng >> 20) as i64 % (86_400 * 90);
        Article {
            id: self.uuid("article", a, None),
            category_id: self.category_id(a % self.shape.categories),
            title,
            body: body.trim_end().to_string(),
            status: if draft { "draft" } else { "published" },
            author_id: self.members[(a % self.members.len() as u64) as usize].id,
            created_at,
            updated_at,
            published_at: (!draft).then_some(created_at + 3600),
        }
    }

    /// Routing rule `r`.
    pub fn routing_rule(&self, r: u64) -> RoutingRule {
        let h = self.h(11, r, 0);
        let tag = TAGS[(h % TAGS.len() as u64) as usize];
        let (field, op, value) = match (h >> 8) % 3 {
            0 => ("tag", "equals", tag),
            1 => (
                "subject",
                "contains",
                WORDS[((h >> 16) % WORDS.len() as u64) as usize],
            ),
            _ => (
                "channel",
                "equals",
                CHANNELS[((h >> 16) % CHANNELS.len() as u64) as usize],
            ),
        };
        let assign = (h >> 24) % 3 != 0;
        RoutingRule {
            id: self.uuid("routing_rule", r, None),
            name: format!("Route {value} ({})", r + 1),
            position: r,
            enabled: r % 7 != 6,
            match_mode: if (h >> 28) % 2 == 0 { "all" } else { "any" },
            condition_field: field,
            condition_operator: op,
            condition_value: value,
            assign_to: assign
                .then(|| self.members[((h >> 32) % self.members.len() as u64) as usize].id),
            add_tag: (!assign).then_some(tag),
            set_priority: ((h >> 40) % 4 == 0)
                .then(|| PRIORITIES[((h >> 44) % PRIORITIES.len() as u64) as usize]),
            created_at: self.created_at + 86_400 * (3 + r as i64),
        }
    }

    /// The size the API reports: the same walk as the export, without text.
    pub fn size(&self) -> WorkspaceSize {
        *self.size.get_or_init(|| {
            let mut s = WorkspaceSize {
                conversations: self.shape.conversations,
                customers: self.shape.customers,
                articles: self.shape.articles,
                categories: self.shape.categories,
                routing_rules: self.shape.routing_rules,
                members: self.members.len() as u64,
                ..WorkspaceSize::default()
            };
            for i in 0..self.shape.conversations {
                let n = self.message_count(i);
                s.messages += n as u64;
                for j in 0..n {
                    if self.message_kind(i, j) == MessageKind::Note {
                        s.internal_notes += 1;
                    }
                    if let Some(a) = self.attachment(i, j) {
                        s.attachments += 1;
                        s.attachment_bytes += a.size;
                        if a.size >= LARGE_ATTACHMENT_BYTES {
                            s.large_attachments += 1;
                        }
                    }
                }
            }
            s
        })
    }
}
