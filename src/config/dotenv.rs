//! Reading `.env` the way python-dotenv does (`dotenv/parser.py`), so the file people already
//! have for `docker compose` or a Python tool works unchanged.
//!
//! One binding per line: optional `export `, `KEY`, `=` (spaces around it allowed), then a
//! value. An unquoted value is the rest of the line, up to a ` #` comment, trailing spaces
//! removed (`SSH_PUBLIC_KEY=ssh-ed25519 AAAA… me@host` is one value). `'single'` quotes are
//! literal but for `\\` and `\'`; `"double"` quotes understand `\n`, `\t`, `\"`, `\\`, …; both
//! may span lines. `#` lines are comments, and a `KEY` without `=` names no value. A UTF-8 BOM
//! at the start is refused when the file is read, with the fix. Values are not interpolated (`${A}` in a value stays as
//! written), as with `docker --env-file`.

/// A problem at a 1-based (line, column) of the file.
pub(crate) type ParseError = (usize, usize, String);

/// The `KEY=value` bindings of `text`, in order.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, ParseError> {
    let mut out = Vec::new();
    let mut r = Reader { text, pos: 0 };
    loop {
        r.skip(|c| c.is_whitespace());
        if r.rest().is_empty() {
            return Ok(out);
        }
        if r.rest().starts_with('#') {
            r.skip(|c| c != '\n');
            continue;
        }
        if let Some(rest) = r.rest().strip_prefix("export")
            && rest.starts_with([' ', '\t'])
        {
            r.pos += "export".len();
            r.skip(|c| c == ' ' || c == '\t');
        }
        let binding = r.binding()?;
        out.extend(binding);
    }
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip(&mut self, keep: impl Fn(char) -> bool) {
        let n = self.rest().find(|c| !keep(c)).unwrap_or(self.rest().len());
        self.pos += n;
    }

    /// The (line, column) of byte offset `at`.
    fn where_(&self, at: usize) -> (usize, usize) {
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[start..].chars().count() + 1)
    }

    fn error(&self, at: usize, message: String) -> ParseError {
        let (line, column) = self.where_(at);
        (line, column, message)
    }

    /// `KEY=value` (or a bare `KEY`, which sets nothing) up to the end of its line.
    fn binding(&mut self) -> Result<Option<(String, String)>, ParseError> {
        let start = self.pos;
        let key_end = self
            .rest()
            .find(|c: char| c == '=' || c == '#' || c.is_whitespace())
            .unwrap_or(self.rest().len());
        let key = &self.rest()[..key_end];
        if key.is_empty()
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || key.starts_with(|c: char| c.is_ascii_digit())
        {
            // The name only: the rest of the line may be a secret (a webhook URL, a token).
            let shown: String = self
                .rest()
                .chars()
                .take_while(|c| *c != '\n' && *c != '=')
                .collect();
            return Err(self.error(
                start,
                format!("`{shown}` is not a binding: expected `NAME=value`, NAME being letters, digits and `_` (not starting with a digit)"),
            ));
        }
        let key = key.to_string();
        self.pos += key_end;
        self.skip(|c| c == ' ' || c == '\t');
        if !self.rest().starts_with('=') {
            // `KEY` alone (docker: "take it from the environment"): nothing to record.
            self.end_of_line(&key)?;
            return Ok(None);
        }
        self.pos += 1;
        let before = self.pos;
        self.skip(|c| c == ' ' || c == '\t');
        let value = match self.rest().chars().next() {
            Some(q @ ('\'' | '"')) => self.quoted(q, &key)?,
            // `KEY= # comment` is empty; `KEY=#x` is `#x`.
            Some('#') if self.pos > before => String::new(),
            _ => self.unquoted(),
        };
        self.end_of_line(&key)?;
        Ok(Some((key, value)))
    }

    fn unquoted(&mut self) -> String {
        let line_end = self.rest().find('\n').unwrap_or(self.rest().len());
        let line = &self.rest()[..line_end];
        // A comment starts at a `#` after whitespace.
        let cut = line
            .char_indices()
            .find(|&(i, c)| c == '#' && line[..i].ends_with([' ', '\t']))
            .map_or(line.len(), |(i, _)| i);
        let value = line[..cut].trim_end().to_string();
        self.pos += cut;
        value
    }

    /// A `'…'` or `"…"` value, the quotes removed and its escapes decoded.
    fn quoted(&mut self, quote: char, key: &str) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut value = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                self.pos += i + 1;
                return Ok(value);
            }
            if c != '\\' {
                value.push(c);
                continue;
            }
            let next = chars.clone().next().map(|(_, n)| n);
            let decoded = match (quote, next) {
                (_, Some(n @ ('\\' | '\''))) => Some(n),
                ('"', Some('"')) => Some('"'),
                ('"', Some('n')) => Some('\n'),
                ('"', Some('t')) => Some('\t'),
                ('"', Some('r')) => Some('\r'),
                ('"', Some('a')) => Some('\u{7}'),
                ('"', Some('b')) => Some('\u{8}'),
                ('"', Some('f')) => Some('\u{c}'),
                ('"', Some('v')) => Some('\u{b}'),
                _ => None,
            };
            match decoded {
                Some(d) => {
                    value.push(d);
                    chars.next();
                }
                None => value.push('\\'),
            }
        }
        Err(self.error(
            open,
            format!("the value of `{key}` opens a {quote} quote that is never closed: close it (a quoted value may span lines)"),
        ))
    }

    /// After a value: spaces, an optional `# comment`, then the end of the line.
    fn end_of_line(&mut self, key: &str) -> Result<(), ParseError> {
        self.skip(|c| c == ' ' || c == '\t' || c == '\r');
        let rest = self.rest();
        if rest.is_empty() || rest.starts_with('\n') || rest.starts_with('#') {
            self.skip(|c| c != '\n');
            return Ok(());
        }
        Err(self.error(
            self.pos,
            format!("unexpected text after the value of `{key}`: quote the whole value, or start a comment with ` #`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap()
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn reads_what_python_dotenv_reads() {
        let text = "# comment\n\nexport A=1\nSSH_PUBLIC_KEY=ssh-ed25519 AAAA me@host  # mine\n\
                    B = 'single # not a comment \\n'\nC=\"two\\nlines \\\"q\\\"\"\nD=\nE= # only a comment\n\
                    F=#hash\nG=a#b\nH\nI='multi\nline'\n  J=x\r\n";
        assert_eq!(
            ok(text),
            [
                kv("A", "1"),
                kv("SSH_PUBLIC_KEY", "ssh-ed25519 AAAA me@host"),
                kv("B", "single # not a comment \\n"),
                kv("C", "two\nlines \"q\""),
                kv("D", ""),
                kv("E", ""),
                kv("F", "#hash"),
                kv("G", "a#b"),
                kv("I", "multi\nline"),
                kv("J", "x"),
            ]
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(
            parse("A=1\nB=\"open\n").unwrap_err(),
            (2, 3, "the value of `B` opens a \" quote that is never closed: close it (a quoted value may span lines)".to_string())
        );
        assert_eq!(parse("A='x' y\n").unwrap_err().0, 1);
        assert_eq!(parse("A=1\n\nMY-KEY=2\n").unwrap_err().0, 3);
    }

    #[test]
    fn a_bad_name_is_shown_without_its_value() {
        let (_, _, msg) =
            parse("SLACK-URL=https://hooks.slack.com/services/T0/B0/secret\n").unwrap_err();
        assert_eq!(
            msg,
            "`SLACK-URL` is not a binding: expected `NAME=value`, NAME being letters, digits and `_` (not starting with a digit)"
        );
    }
}
