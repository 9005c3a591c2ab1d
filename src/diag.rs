//! Diagnostics about input files: where (`file:line:col`), what, and what
//! to do about it.
//!
//! Every error about a YAML file the user wrote (spec, case, world) goes
//! through [`Diagnostic`], rendered the way Hurl and rustc render theirs:
//! the location, the offending line with a caret under the column, and a
//! hint such as "did you mean `expect`?". Nothing is lost: the loader
//! collects every diagnostic of a run instead of stopping at the first.

use std::fmt;

/// One problem in one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user would type it (relative where possible).
    pub file: String,
    /// 1-based line and column; 0 when the problem is the whole file.
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// The source line the caret points into, when known.
    pub snippet: Option<String>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line: 0,
            col: 0,
            message: message.into(),
            snippet: None,
            hint: None,
        }
    }

    /// Points the diagnostic at `line:col` of `text`, keeping that line as
    /// the snippet.
    pub fn at(mut self, text: &str, line: usize, col: usize) -> Self {
        self.line = line;
        self.col = col.max(1);
        self.snippet = text
            .lines()
            .nth(line.saturating_sub(1))
            .map(|l| l.to_string());
        // A position past the last line (YAML's "at end of input") points
        // at the end of the last line, so it is shown with its caret.
        if self.snippet.is_none() && line > 0 {
            let last = text.lines().count().max(1);
            let snippet = text.lines().last().unwrap_or_default().to_string();
            self.line = last;
            self.col = snippet.chars().count() + 1;
            self.snippet = Some(snippet);
        }
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Builds a diagnostic from a YAML deserialization error, adding a
    /// "did you mean" hint for unknown fields and variants.
    pub fn from_yaml(file: &str, text: &str, err: &serde_yaml::Error) -> Self {
        // serde_norway appends " at line X column Y" to its Display; the
        // location is reported separately, so strip it from the message.
        let full = err.to_string();
        let message = match full.find(" at line ") {
            Some(i) => full[..i].to_string(),
            None => full.clone(),
        };
        let mut diag = Diagnostic::new(file, message.clone());
        diag = match err.location() {
            Some(loc) => diag.at(text, loc.line(), loc.column()),
            // serde_norway gives no place for a second document; other
            // placeless errors are about the document as a whole.
            None => {
                let (line, col) = second_document(text).unwrap_or((1, 1));
                diag.at(text, line, col)
            }
        };
        if let Some(hint) = suggestion_for_serde_message(&message) {
            diag = diag.with_hint(hint);
        }
        diag
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        if self.line > 0 {
            writeln!(f, "  --> {}:{}:{}", self.file, self.line, self.col)?;
        } else {
            writeln!(f, "  --> {}", self.file)?;
        }
        if let Some(snippet) = &self.snippet {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            writeln!(f, "{pad} |")?;
            writeln!(f, "{number} | {snippet}")?;
            let caret_pad: String = snippet
                .chars()
                .take(self.col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(f, "{pad} | {caret_pad}^")?;
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "  = help: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// Where a second YAML document starts: a `---` line after content.
fn second_document(text: &str) -> Option<(usize, usize)> {
    let mut content = false;
    for (i, line) in text.lines().enumerate() {
        let marker = line == "---" || line.starts_with("--- ");
        if marker && content {
            return Some((i + 1, 1));
        }
        let trimmed = line.trim();
        if !marker && !trimmed.is_empty() && !trimmed.starts_with('#') && trimmed != "..." {
            content = true;
        }
    }
    None
}

/// A list of diagnostics as one error, for loaders that report them all.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        let n = self.0.len();
        write!(f, "{n} error{}", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}

/// The `.yaml`/`.yml` files directly in `dir`, sorted so that loading and
/// its diagnostics come in the same order on every machine.
pub fn yaml_files_in(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, Diagnostic> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Diagnostic::new(dir.display().to_string(), format!("failed to read: {e}")))?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// The closest of `candidates` to `word`, when it is close enough to be a
/// plausible typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// serde says "unknown field `expcet`, expected one of `call`, `expect`";
/// turn that into "did you mean `expect`?".
fn suggestion_for_serde_message(message: &str) -> Option<String> {
    // The message may start with a path such as `cases[0].steps[1]: `.
    let at = message
        .find("unknown field `")
        .or_else(|| message.find("unknown variant `"))?;
    let rest = &message[at..];
    let rest = &rest[rest.find('`')? + 1..];
    let (word, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    match closest(word, expected.iter().copied()) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None if !expected.is_empty() => Some(format!(
            "remove `{word}`; allowed here: {}",
            expected.join(", ")
        )),
        None => None,
    }
}

/// Where, in `text`, the value for `key` is first written at or after
/// line `from_line` (1-based): the position of the key itself.
///
/// serde_norway gives no spans for values that deserialized fine, so the
/// semantic checks that run after deserialization (an unknown operation, an
/// undocumented error code) find their position with this scan. It is
/// bounded by `to_line` so that a key is looked up inside one case or step.
pub fn find_key(text: &str, key: &str, from_line: usize, to_line: usize) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    find_key_in(&lines, key, from_line, to_line)
}

/// [`find_key`] over lines split once: loaders that place many keys in one
/// file split it once instead of rescanning it from the top every time.
pub fn find_key_in(
    lines: &[&str],
    key: &str,
    from_line: usize,
    to_line: usize,
) -> Option<(usize, usize)> {
    let first = from_line.max(1);
    let last = to_line.min(lines.len());
    if first > last {
        return None;
    }
    for (offset, line) in lines[first - 1..last].iter().enumerate() {
        let number = first + offset;
        let mut search_from = 0;
        while let Some(pos) = line[search_from..].find(key) {
            let start = search_from + pos;
            let before = line[..start].chars().last();
            let after = &line[start + key.len()..];
            let bounded_before = matches!(before, None | Some(' ' | '{' | '-' | ',' | '"' | '\''));
            let after = after.trim_start_matches(['"', '\'']);
            if bounded_before && after.trim_start().starts_with(':') {
                let col = line[..start].chars().count() + 1;
                let col = if matches!(before, Some('"' | '\'')) {
                    col - 1
                } else {
                    col
                };
                return Some((number, col));
            }
            search_from = start + key.len();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_gets_did_you_mean() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Step {
            call: String,
            expect: Option<String>,
        }
        let text = "call: X\nexpcet: y\n";
        let err = serde_yaml::from_str::<Step>(text).unwrap_err();
        let diag = Diagnostic::from_yaml("c.yaml", text, &err);
        assert_eq!((diag.line, diag.col), (2, 1));
        assert_eq!(diag.hint.as_deref(), Some("did you mean `expect`?"));
        let shown = diag.to_string();
        assert!(shown.contains("--> c.yaml:2:1"), "{shown}");
        assert!(shown.contains("2 | expcet: y"), "{shown}");
    }

    #[test]
    fn find_key_skips_prefixes_and_values() {
        let text = "a:\n  xcall: 1\n  note: call\n  - call: Assign\n";
        assert_eq!(find_key(text, "call", 1, 10), Some((4, 5)));
        assert_eq!(find_key(text, "call", 1, 3), None);
    }
}
