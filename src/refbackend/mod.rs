//! `concierge backend serve`: the reference export backend (being built).

/// Arguments of `concierge backend serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

/// Runs the reference backend until interrupted.
pub fn run(_args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("the reference backend is not built yet")
}
