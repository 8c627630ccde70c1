//! `concierge store migrate` and `concierge store copy --to URL`.

use super::{copy, pg::PgTarget, Store};
use crate::cli::StoreCommand;
use crate::config::Config;
use anyhow::{Context, Result};

pub fn run(cfg: &Config, command: StoreCommand) -> Result<i32> {
    match command {
        StoreCommand::Migrate => {
            let mut store = match cfg.store_target()? {
                Some(t) => Store::connect_pg_unmigrated(&t)?,
                None => Store::open_unmigrated(&cfg.store_path()?)?,
            };
            let (from, to) = store.migrate()?;
            if from == to {
                println!("store schema {to} is current");
            } else {
                println!("store schema {from} → {to}");
            }
            Ok(0)
        }
        StoreCommand::Copy {
            to,
            password_env,
            ca_file,
        } => {
            if super::pg::url_has_password(&to) {
                anyhow::bail!("--to must not contain a password (it would be visible to every process): use --password-env");
            }
            let source = cfg.open_store().context("the source store")?;
            let mut target = PgTarget {
                url: to,
                password: None,
                ca_file: ca_file.or_else(|| cfg.store.ca_file.clone()),
            };
            target.password = match password_env {
                Some(var) => Some(crate::secret::from_env(&var).context("--password-env")?),
                None => cfg.store_target()?.and_then(|t| t.password),
            };
            let dest = Store::connect_pg(&target).context("the team store (--to)")?;
            let done = copy::copy(&source, &dest)?;
            for (table, n) in &done.tables {
                println!("{table}: {n} rows");
            }
            println!(
                "copied; audit log intact on both sides: {} entries",
                done.audit_entries
            );
            Ok(0)
        }
    }
}
