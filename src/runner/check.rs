//! Judging one response against one step's expectation.
//!
//! The expectation and the response are each rendered as the same short
//! list of lines (`status: 404`, `code: InvalidEniId.NotFound`,
//! `body.Path: length 1`); a line that differs is a mismatch. That pair of
//! texts is what the unified diff of a failing step shows: the reader sees
//! the expected and actual values side by side, in the case's own terms.

use similar::TextDiff;

use crate::case::matcher::Lookup;
use crate::case::Expect;
use crate::dialect::Decoded;
use crate::spec::Kind;

/// The two views of one step, and whether they agree.
#[derive(Debug, Default)]
pub struct Verdict {
    pub expected: Vec<String>,
    pub actual: Vec<String>,
    pub mismatches: usize,
}

impl Verdict {
    fn line(&mut self, expected: String, actual: Option<String>) {
        match actual {
            None => {
                self.actual.push(expected.clone());
                self.expected.push(expected);
            }
            Some(actual) => {
                self.mismatches += 1;
                self.expected.push(expected);
                self.actual.push(actual);
            }
        }
    }

    /// A unified diff of the two views, `None` when they agree.
    pub fn diff(&self) -> Option<String> {
        if self.mismatches == 0 {
            return None;
        }
        let expected = self.expected.join("\n") + "\n";
        let actual = self.actual.join("\n") + "\n";
        Some(
            TextDiff::from_lines(&expected, &actual)
                .unified_diff()
                .context_radius(8)
                .header("expected", "actual")
                .to_string(),
        )
    }
}

/// What to do about a mismatch at `location` (`file:line` of the step) on
/// `target`; shown under every rendering of the diff.
pub fn accept_hint(location: &str, target: &str) -> String {
    format!(
        "to accept the actual behaviour, edit the `expect` of the step at {location}; \
         if only this target behaves so, add `deviations: {{{target}: \"why\"}}` to the case"
    )
}

/// Judges `got` against `expect`; `documented_status` is the status the
/// operation's catalog gives an expected error code, used when the case
/// does not name one, and `actual_kind` the neutral kind the catalog gives
/// the code that came (what an expectation of a kind is judged by).
pub fn judge(
    expect: &Expect,
    got: &Decoded,
    lookup: Lookup<'_>,
    documented_status: Option<u16>,
    actual_kind: Option<Kind>,
) -> Verdict {
    let mut v = Verdict::default();
    let actual_error = got
        .error
        .as_ref()
        .map(|e| format!("error: {} {:?}", e.code, e.message));
    match expect {
        Expect::Success { status, body } => {
            let status_ok = match status {
                Some(s) => got.status == *s,
                None => (200..300).contains(&got.status),
            };
            let want = match status {
                Some(s) => format!("status: {s}"),
                None => "status: 2xx".to_string(),
            };
            v.line(
                want,
                (!status_ok).then(|| format!("status: {}", got.status)),
            );
            v.line("error: none".into(), actual_error);
            if got.error.is_none() {
                for (path, matcher) in body {
                    let selected = path.select(&got.body);
                    let outcome = matcher.check(selected.as_ref(), got.xml, lookup);
                    v.line(
                        format!("body.{path}: {}", matcher.describe(lookup)),
                        outcome.err().map(|actual| format!("body.{path}: {actual}")),
                    );
                }
            }
        }
        Expect::Error {
            status,
            codes,
            numeric_code,
            message,
            kind,
        } => {
            if let Some(status) = status.or(documented_status) {
                v.line(
                    format!("status: {status}"),
                    (got.status != status).then(|| format!("status: {}", got.status)),
                );
            }
            let actual_code = got.error.as_ref().map(|e| e.code.as_str());
            let listed = codes.iter().any(|c| Some(c.as_str()) == actual_code);
            match kind {
                // A neutral outcome: the vendor's code is one of the kind's,
                // which the line shows on both sides.
                Some(kind) => {
                    let holds = listed || (actual_code.is_some() && actual_kind == Some(*kind));
                    v.line(
                        format!("outcome: {kind} ({})", shorten(codes)),
                        (!holds).then(|| match actual_code {
                            Some(code) => format!(
                                "outcome: {} ({code})",
                                actual_kind.map_or("undocumented", Kind::as_str)
                            ),
                            None => format!("outcome: ok (HTTP {}, no error)", got.status),
                        }),
                    );
                }
                None => {
                    let expected = match codes.as_slice() {
                        [one] => format!("code: {one}"),
                        several => format!("code: any of {}", several.join(" | ")),
                    };
                    v.line(
                        expected,
                        (!listed).then(|| format!("code: {}", actual_code.unwrap_or("(no error)"))),
                    );
                }
            }
            if let Some(number) = numeric_code {
                let actual = got.error.as_ref().and_then(|e| e.number);
                v.line(
                    format!("numeric code: {number}"),
                    (actual != Some(*number)).then(|| {
                        format!(
                            "numeric code: {}",
                            actual.map_or("(none)".to_string(), |n| n.to_string())
                        )
                    }),
                );
            }
            if let Some(re) = message {
                let actual_message = got.error.as_ref().map(|e| e.message.as_str());
                v.line(
                    format!("message: matches /{}/", re.as_str()),
                    (!actual_message.is_some_and(|m| re.is_match(m)))
                        .then(|| format!("message: {:?}", actual_message.unwrap_or(""))),
                );
            }
        }
    }
    v
}

/// A kind's codes for one diff line: the first few, then how many more.
fn shorten(codes: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut text = codes
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" | ");
    if codes.len() > SHOWN {
        text.push_str(&format!(" | … {} more", codes.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{BodyPath, Matcher};
    use crate::dialect::VendorError;
    use serde_json::json;

    fn none(_: &str) -> Option<&'static str> {
        None
    }

    #[test]
    fn wrong_code_shows_in_the_diff() {
        let expect = Expect::Error {
            status: Some(404),
            codes: vec!["InvalidEniId.NotFound".into()],
            numeric_code: None,
            message: None,
            kind: None,
        };
        let got = Decoded {
            status: 403,
            body: json!({}),
            xml: false,
            error: Some(VendorError {
                code: "MissingParameter".into(),
                number: None,
                message: "m".into(),
            }),
        };
        let v = judge(&expect, &got, &none, None, None);
        assert_eq!(v.mismatches, 2);
        let diff = v.diff().unwrap();
        assert!(diff.contains("-code: InvalidEniId.NotFound"), "{diff}");
        assert!(diff.contains("+code: MissingParameter"), "{diff}");
        assert!(diff.contains("+status: 403"), "{diff}");
    }

    #[test]
    fn body_matchers_line_up() {
        let expect = Expect::Success {
            status: Some(200),
            body: vec![(
                BodyPath::parse("A[*]").unwrap(),
                Matcher::Length(crate::case::matcher::Count::Fixed(1)),
            )],
        };
        let got = Decoded {
            status: 200,
            body: json!({"A": ["x", "y"]}),
            xml: false,
            error: None,
        };
        let v = judge(&expect, &got, &none, None, None);
        assert_eq!(v.mismatches, 1);
        let diff = v.diff().unwrap();
        assert!(diff.contains("-body.A[*]: length 1"), "{diff}");
        assert!(
            diff.contains("+body.A[*]: length 2 [\"x\",\"y\"]"),
            "{diff}"
        );
        assert!(diff.contains(" status: 200"), "{diff}");
    }

    #[test]
    fn an_omitted_status_is_the_documented_one_and_numeric_codes_are_checked() {
        let expect = Expect::Error {
            status: None,
            codes: vec!["InvalidVpc.NotFound".into()],
            numeric_code: Some(5000),
            message: None,
            kind: None,
        };
        let got = Decoded {
            status: 200,
            body: json!({"code": 4000, "codeDesc": "InvalidVpc.NotFound"}),
            xml: false,
            error: Some(VendorError {
                code: "InvalidVpc.NotFound".into(),
                number: Some(4000),
                message: "m".into(),
            }),
        };
        let v = judge(&expect, &got, &none, Some(200), None);
        assert_eq!(v.mismatches, 1);
        let diff = v.diff().unwrap();
        assert!(diff.contains(" status: 200"), "{diff}");
        assert!(diff.contains("-numeric code: 5000"), "{diff}");
        assert!(diff.contains("+numeric code: 4000"), "{diff}");
        let v = judge(&expect, &got, &none, Some(400), None);
        assert!(v.diff().unwrap().contains("-status: 400"));
    }

    fn error(code: &str, status: u16) -> Decoded {
        Decoded {
            status,
            body: json!({}),
            xml: false,
            error: Some(VendorError {
                code: code.into(),
                number: None,
                message: "m".into(),
            }),
        }
    }

    #[test]
    fn a_kind_accepts_any_code_of_that_kind_and_names_both_outcomes() {
        let expect = Expect::Error {
            status: None,
            codes: vec!["InvalidIp.IpAssigned".into()],
            numeric_code: None,
            message: None,
            kind: Some(Kind::IpInUse),
        };
        // Not listed, but of the kind (a templated or later code).
        let v = judge(
            &expect,
            &error("InvalidIp.Other", 403),
            &none,
            Some(403),
            Some(Kind::IpInUse),
        );
        assert_eq!(v.mismatches, 0, "{:?}", v.diff());
        let v = judge(
            &expect,
            &error("InvalidEniId.NotFound", 404),
            &none,
            Some(403),
            Some(Kind::InterfaceNotFound),
        );
        let diff = v.diff().unwrap();
        assert!(
            diff.contains("-outcome: ip-in-use (InvalidIp.IpAssigned)"),
            "{diff}"
        );
        assert!(
            diff.contains("+outcome: interface-not-found (InvalidEniId.NotFound)"),
            "{diff}"
        );
        let ok = Decoded {
            status: 200,
            body: json!({}),
            xml: false,
            error: None,
        };
        let diff = judge(&expect, &ok, &none, Some(403), None).diff().unwrap();
        assert!(diff.contains("+outcome: ok (HTTP 200, no error)"), "{diff}");
        let diff = judge(&expect, &error("Made.Up", 403), &none, Some(403), None)
            .diff()
            .unwrap();
        assert!(diff.contains("+outcome: undocumented (Made.Up)"), "{diff}");
    }

    #[test]
    fn a_long_list_of_codes_is_shortened() {
        let codes: Vec<String> = (1..=6).map(|i| format!("C{i}")).collect();
        assert_eq!(shorten(&codes), "C1 | C2 | C3 | C4 | … 2 more");
        assert_eq!(shorten(&codes[..2]), "C1 | C2");
    }
}
