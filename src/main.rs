//! The `eidgw` command: parses the command line and hands over to the library.

use clap::Parser;

// Batch matching and token work allocate many small, short-lived values on several threads;
// mimalloc's per-thread free lists serve that far better than glibc's arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = eid_gateway::cli::Cli::parse();
    // A command whose output goes to `head` ends quietly when the pipe closes, as Unix tools
    // do, instead of panicking on the failed print. The servers keep Rust's default.
    if !matches!(
        cli.command,
        eid_gateway::cli::Command::Serve(_) | eid_gateway::cli::Command::Demo(_)
    ) {
        sigpipe::reset();
    }
    eid_gateway::cli::exit::finish(eid_gateway::cli::run(cli))
}
