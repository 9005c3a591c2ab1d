//! Templates: `{{eni.available}}` in a parameter or an expected value.
//!
//! Parsed once at load into literal and variable parts, so rendering in the
//! hot path is a concatenation with one lookup per variable.

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in `{text}`; close it with `}}}}`"))?;
            let name = after[..close].trim();
            if name.is_empty() || name.contains(char::is_whitespace) || name.contains('{') {
                return Err(format!(
                    "`{{{{{}}}}}` is not a variable name; write `{{{{fixture.name}}}}`",
                    &after[..close]
                ));
            }
            parts.push(Part::Variable(name.to_string()));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Template { parts })
    }

    pub fn literal(text: impl Into<String>) -> Template {
        Template {
            parts: vec![Part::Literal(text.into())],
        }
    }

    /// The variables this template reads.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Variable(v) => Some(v.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Renders with `lookup`; the error names the first unknown variable.
    pub fn render<'a, F>(&'a self, lookup: F) -> Result<Cow<'a, str>, String>
    where
        F: Fn(&str) -> Option<&'a str>,
    {
        match self.parts.as_slice() {
            [] => Ok(Cow::Borrowed("")),
            [Part::Literal(l)] => Ok(Cow::Borrowed(l)),
            [Part::Variable(v)] => lookup(v).map(Cow::Borrowed).ok_or_else(|| v.clone()),
            parts => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Literal(l) => out.push_str(l),
                        Part::Variable(v) => out.push_str(lookup(v).ok_or_else(|| v.clone())?),
                    }
                }
                Ok(Cow::Owned(out))
            }
        }
    }

    /// Renders into a new string; the lookup's values may live shorter
    /// than the template.
    pub fn render_owned<'v, F>(&self, lookup: F) -> Result<String, String>
    where
        F: Fn(&str) -> Option<&'v str>,
    {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(l) => out.push_str(l),
                Part::Variable(v) => out.push_str(lookup(v).ok_or_else(|| v.clone())?),
            }
        }
        Ok(out)
    }

    /// The variable's name when the template is exactly one `{{variable}}`
    /// and nothing else (a list variable can only be used so).
    pub fn sole_variable(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Variable(v)] => Some(v),
            _ => None,
        }
    }

    /// The text with the variables `lookup` knows replaced and the others
    /// left as written (`{{name}}`): a partial rendering, for values known
    /// at load time (a parametrized case's row).
    pub fn substitute<'v>(&self, lookup: impl Fn(&str) -> Option<&'v str>) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(l) => l.clone(),
                Part::Variable(v) => match lookup(v) {
                    Some(value) => value.to_string(),
                    None => format!("{{{{{v}}}}}"),
                },
            })
            .collect()
    }

    /// The template as written, for messages and diffs.
    pub fn source(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(l) => l.clone(),
                Part::Variable(v) => format!("{{{{{v}}}}}"),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_variables_and_names_the_missing_one() {
        let t = Template::parse("ip {{a}} and {{ b }}").unwrap();
        let lookup = |k: &str| match k {
            "a" => Some("1"),
            "b" => Some("2"),
            _ => None,
        };
        assert_eq!(t.render(lookup).unwrap(), "ip 1 and 2");
        let t = Template::parse("{{c}}").unwrap();
        assert_eq!(t.render(lookup).unwrap_err(), "c");
    }

    #[test]
    fn rejects_unclosed_and_empty() {
        assert!(Template::parse("{{a").unwrap_err().contains("unclosed"));
        assert!(Template::parse("{{ }}").is_err());
    }
}
