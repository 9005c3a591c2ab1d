//! The expected/actual diff of a step, word by word.
//!
//! The runner keeps a step's expectation and the reply as two index-aligned
//! lists of lines (`code: InvalidEniId.NotFound`); this module turns them
//! into hunks of lines whose changed words are marked, which every format
//! then draws its own way: `-`/`+` text for JUnit and Markdown, colour on a
//! terminal, `<del>`/`<ins>` in HTML. The words come from `similar`'s
//! inline diff, so a long line that differs in one value shows that value.

use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

/// Lines of unchanged context kept around a change; a step's listing is
/// short, so this usually shows all of it.
const CONTEXT: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Context,
    Removed,
    Added,
}

impl Tag {
    pub fn sign(self) -> char {
        match self {
            Tag::Context => ' ',
            Tag::Removed => '-',
            Tag::Added => '+',
        }
    }
}

/// One line of a hunk: its words, each marked when it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub tag: Tag,
    pub segments: Vec<(bool, String)>,
}

impl Line {
    pub fn text(&self) -> String {
        self.segments.iter().map(|(_, s)| s.as_str()).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// `@@ -1,3 +1,3 @@`
    pub header: String,
    pub lines: Vec<Line>,
}

/// The hunks of `expected` against `actual`; none when they agree.
pub fn hunks(expected: &[String], actual: &[String]) -> Vec<Hunk> {
    let old = joined(expected);
    let new = joined(actual);
    let diff = TextDiff::from_lines(&old, &new);
    diff.grouped_ops(CONTEXT)
        .into_iter()
        .map(|group| {
            let header = similar::udiff::UnifiedHunkHeader::new(&group).to_string();
            let mut lines = Vec::new();
            for op in &group {
                for change in diff.iter_inline_changes(op) {
                    let tag = match change.tag() {
                        ChangeTag::Equal => Tag::Context,
                        ChangeTag::Delete => Tag::Removed,
                        ChangeTag::Insert => Tag::Added,
                    };
                    let mut segments: Vec<(bool, String)> = Vec::new();
                    for (emphasized, text) in change.iter_strings_lossy() {
                        let text = text.trim_end_matches('\n');
                        if text.is_empty() {
                            continue;
                        }
                        // Context lines have nothing to emphasize; a
                        // changed line emphasized whole reads as plain.
                        let emphasized = emphasized && tag != Tag::Context;
                        match segments.last_mut() {
                            Some((e, s)) if *e == emphasized => s.push_str(text),
                            _ => segments.push((emphasized, text.to_string())),
                        }
                    }
                    lines.push(Line { tag, segments });
                }
            }
            Hunk { header, lines }
        })
        .collect()
}

fn joined(lines: &[String]) -> String {
    let mut text = String::new();
    for line in lines {
        // A line break inside a line would split it and break the
        // index alignment the reader relies on.
        text.push_str(&line.replace('\n', "\\n"));
        text.push('\n');
    }
    text
}

/// The plain unified diff, `--- expected` / `+++ actual` headed.
pub fn unified(hunks: &[Hunk]) -> String {
    let mut out = String::from("--- expected\n+++ actual\n");
    for hunk in hunks {
        let _ = writeln!(out, "{}", hunk.header);
        for line in &hunk.lines {
            let _ = writeln!(out, "{}{}", line.tag.sign(), line.text());
        }
    }
    out
}

/// The unified diff with ANSI colour: removed lines red, added green, and
/// the words that changed in reverse video, so they stand out even where
/// red and green do not.
pub fn ansi(hunks: &[Hunk]) -> String {
    use anstyle::{AnsiColor, Effects, Style};
    let red = Style::new().fg_color(Some(AnsiColor::Red.into()));
    let green = Style::new().fg_color(Some(AnsiColor::Green.into()));
    let dim = Style::new().effects(Effects::DIMMED);
    let cyan = Style::new().fg_color(Some(AnsiColor::Cyan.into()));
    let mut out = format!("{dim}--- expected{dim:#}\n{dim}+++ actual{dim:#}\n");
    for hunk in hunks {
        let _ = writeln!(out, "{cyan}{}{cyan:#}", hunk.header);
        for line in &hunk.lines {
            let base = match line.tag {
                Tag::Context => Style::new(),
                Tag::Removed => red,
                Tag::Added => green,
            };
            let strong = base.effects(Effects::BOLD | Effects::INVERT);
            let _ = write!(out, "{base}{}", line.tag.sign());
            for (emphasized, text) in &line.segments {
                if *emphasized {
                    let _ = write!(out, "{strong}{text}{strong:#}{base}");
                } else {
                    out.push_str(text);
                }
            }
            let _ = writeln!(out, "{base:#}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_changed_word_is_marked_and_the_rest_is_not() {
        let h = hunks(
            &lines(&["status: 404", "code: InvalidEniId.NotFound"]),
            &lines(&["status: 404", "code: MissingParameter"]),
        );
        assert_eq!(h.len(), 1);
        let removed = h[0].lines.iter().find(|l| l.tag == Tag::Removed).unwrap();
        assert_eq!(removed.text(), "code: InvalidEniId.NotFound");
        assert!(removed.segments.contains(&(false, "code: ".to_string())));
        assert!(removed
            .segments
            .iter()
            .any(|(e, s)| *e && s.contains("InvalidEniId")));
        let text = unified(&h);
        assert!(text.contains(" status: 404\n"), "{text}");
        assert!(text.contains("-code: InvalidEniId.NotFound\n"), "{text}");
        assert!(text.contains("+code: MissingParameter\n"), "{text}");
        let coloured = ansi(&h);
        assert!(coloured.contains("\u{1b}["), "{coloured:?}");
        assert!(
            coloured.contains("MissingParameter"),
            "the words survive the colour: {coloured:?}"
        );
    }

    #[test]
    fn agreeing_lines_have_no_hunk() {
        assert!(hunks(&lines(&["a"]), &lines(&["a"])).is_empty());
    }
}
