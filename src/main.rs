//! The `concierge` binary: everything lives in the library (see `lib.rs` for
//! the crate map); this only hands the process arguments to [`concierge::cli`].

fn main() {
    std::process::exit(concierge::cli::main());
}
