//! `vauto __man`: the man page, rendered from the same clap definition as `--help`.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Args;

/// The hidden word that prints the man page (used by `bundle.sh`; not an action).
pub(super) const MAN_WORD: &str = "__man";

/// Renders `vauto(1)` in roff. No date is set so the same source gives the same bytes.
pub(super) fn render() -> std::io::Result<Vec<u8>> {
    let cmd = <Args as CommandFactory>::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .section("1")
        .manual("vauto manual")
        .source(format!("vauto {}", env!("VAUTO_VERSION")))
        .render(&mut out)?;
    Ok(out)
}

/// Prints the man page to stdout; returns the exit code.
pub(super) fn print() -> u8 {
    match render().and_then(|page| std::io::stdout().lock().write_all(&page)) {
        Ok(()) => crate::error::exit::OK,
        Err(e) => {
            eprintln!("error: cannot write the man page: {e}");
            crate::error::exit::FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_page_names_the_actions_and_options() {
        let page = String::from_utf8(render().unwrap()).unwrap();
        assert!(page.contains(".TH vauto 1"));
        for word in ["\\-\\-config\\-dir", "\\-\\-replicas", "validate"] {
            assert!(page.contains(word), "missing {word}");
        }
        // Reproducible: rendering twice gives the same bytes.
        assert_eq!(render().unwrap(), page.into_bytes());
    }
}
