//! `vauto report [PROJECT [SPEC]]`: attempt statistics from the journal.

use super::Ctx;
use crate::cli::Format;
use crate::error::{Error, exit};
use crate::ops::report::{self, Filter, ReportError};

/// Aggregates the journal over `--since` (default 24h) and prints tables, JSON or YAML.
pub fn report(ctx: &Ctx) -> Result<u8, Error> {
    let now = chrono::Utc::now();
    let since = report::parse_since(ctx.args.since.as_deref().unwrap_or("24h"), now)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let filter = Filter {
        project: ctx.cmd.project.clone(),
        spec: ctx.cmd.spec.clone(),
        since,
    };
    let r = report::aggregate(&ctx.state_dir, filter).map_err(|e| match e {
        ReportError::Since(_) => Error::Usage(e.to_string()),
        ReportError::Io { .. } => Error::Other(e.to_string()),
    })?;
    match ctx.args.output {
        Format::Table => print!("{}", report::render_table(&r)),
        f => crate::ui::output::print_doc(f, &r),
    }
    Ok(exit::OK)
}
