//! Diagnostics: `file:line:column: severity: message`, the format editors and CI understand.

use serde::Serialize;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// How bad a diagnostic is: errors refuse the set, warnings are printed and the set loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The set is refused.
    Error,
    /// The set loads; the admin should look.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding about a dial-plan set, with its position (1-based line and column; the column
/// counts characters, not bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, as given to [`super::DialPlanSet::load_dir`] joined with the file name.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}:{}:{}: {}: {}", self.file.display(), self.line, self.column, self.severity, self.message)
    }
}

/// A source file's text with a line index, to turn byte offsets into line:column.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(path: PathBuf, text: String) -> Source {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source { path, text, line_starts }
    }

    /// 1-based (line, column) of a byte offset; the column counts characters.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// Collects diagnostics for one file.
pub(crate) struct Sink<'a> {
    pub src: &'a Source,
    pub out: &'a mut Vec<Diagnostic>,
}

impl Sink<'_> {
    pub fn at(&mut self, severity: Severity, offset: usize, message: impl Into<String>) {
        let (line, column) = self.src.line_col(offset);
        self.out.push(Diagnostic { file: self.src.path.clone(), line, column, severity, message: message.into() });
    }
    pub fn error(&mut self, span: &Range<usize>, message: impl Into<String>) {
        self.at(Severity::Error, span.start, message);
    }
    pub fn warning(&mut self, span: &Range<usize>, message: impl Into<String>) {
        self.at(Severity::Warning, span.start, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let s = Source::new("f".into(), "ab\nàè = 1\n".into());
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(3), (2, 1));
        // "àè" is 4 bytes, 2 characters: the '=' is at column 4.
        assert_eq!(s.line_col(3 + 5), (2, 4));
    }

    #[test]
    fn display_is_file_line_col() {
        let d = Diagnostic { file: "d/x.toml".into(), line: 3, column: 7, severity: Severity::Error, message: "bad".into() };
        assert_eq!(d.to_string(), "d/x.toml:3:7: error: bad");
    }
}
