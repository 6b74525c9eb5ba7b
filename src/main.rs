//! The `eidgw` command: parses the command line and hands over to the library.

use clap::Parser;

// Batch matching and token work allocate many small, short-lived values on several threads;
// mimalloc's per-thread free lists serve that far better than glibc's arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = eid_gateway::cli::Cli::parse();
    eid_gateway::cli::exit::finish(eid_gateway::cli::run(cli))
}
