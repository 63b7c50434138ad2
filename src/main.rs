//! The `vauto` binary: everything lives in the library.

/// The static x86_64 bundle allocates with mimalloc instead of musl's allocator (see
/// `Cargo.toml`); every other build keeps the system allocator.
#[cfg(all(target_arch = "x86_64", target_env = "musl"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    vauto::main_entry()
}
