//! Everything the operator sees: result lines, tables, progress, output formats.

pub mod output;
pub mod progress;
pub mod report;
pub mod table;
