//! Everything the operator sees: result lines, tables, progress, output formats.
