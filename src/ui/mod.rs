//! Everything the operator sees: result lines, tables, progress, output formats.

pub(crate) mod heartbeat;
pub(crate) mod output;
pub(crate) mod progress;
pub(crate) mod report;
pub(crate) mod stdout;
pub(crate) mod table;
