//! The `eidgw` command: parses the command line and hands over to the library.

use clap::Parser;

// Batch matching and token work allocate many small, short-lived values on several threads;
// mimalloc's per-thread free lists serve that far better than glibc's arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (mimalloc.h, v3: the option just before
/// `mi_option_use_numa_nodes`; the Rust bindings name only some options).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const _: () = assert!(MI_OPTION_PURGE_DELAY + 1 == libmimalloc_sys::mi_option_use_numa_nodes);

/// Freed memory goes back to the system at once. mimalloc's default holds it for a while and
/// hands it back only when the thread that freed it allocates again: a hashing thread that drops
/// its 19 MiB of argon2 memory and waits for the next login never does, and an idle gateway
/// kept ~15 MiB it no longer used. Measured with `scripts/bench-peers`: idle RSS 51.9 → 36.4 MiB,
/// throughput within the run-to-run noise. `MIMALLOC_PURGE_DELAY` in the environment still wins.
/// (That the arena is committed as it is used is a build setting: `.cargo/config.toml`.)
fn return_freed_memory_at_once() {
    // SAFETY: plain integers in, nothing out; mimalloc's options may be set at any time.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 0)
    };
}

fn main() -> std::process::ExitCode {
    let cli = eid_gateway::cli::Cli::parse();
    return_freed_memory_at_once();
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
