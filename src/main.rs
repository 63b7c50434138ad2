//! The `vauto` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    vauto::main_entry()
}
