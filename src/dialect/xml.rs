//! XML <-> JSON conversion for vendor bodies, Alibaba style.
//!
//! Alibaba RPC answers in JSON or XML (`Format`), and the two carry the same
//! tree: an object key is an element, and a list under key `K` is a run of
//! repeated `<K>` elements (`PrivateIpSet.PrivateIpAddress[]` becomes
//! `<PrivateIpSet><PrivateIpAddress>a</PrivateIpAddress><PrivateIpAddress>b</PrivateIpAddress></PrivateIpSet>`).
//! The emulator's replies are written by the same walk as [`json_to_xml`]
//! (`XmlTree`); the runner reads XML bodies back with [`xml_to_json`] so
//! that one set of body paths serves both formats.
//! XML has no types, so the way back yields strings, and a list of one comes
//! back as a single value (the case paths treat that as a list of one).

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value};

/// Why an XML body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    #[error("failed to parse XML at byte {position}: {message}")]
    Syntax { position: u64, message: String },
    #[error("failed to parse XML: the document has no root element")]
    NoRoot,
    #[error("failed to parse XML: content after the root element `{root}`")]
    TrailingContent { root: String },
    #[error("failed to parse XML: closing tag `{found}` does not match `{expected}`")]
    Mismatch { expected: String, found: String },
    #[error("failed to parse XML: the document ends inside `{open}`")]
    Unclosed { open: String },
    #[error("failed to parse XML: elements nest deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Deepest nesting read; vendor replies nest a handful of levels. A deeper
/// document is refused before it is built: the JSON tree it would become
/// is dropped, compared and printed recursively, and would overflow the stack.
pub const MAX_DEPTH: usize = 128;

/// Renders `value` under a `<root>` element with an XML prolog, a list as
/// its element repeated (Alibaba).
pub fn json_to_xml(root: &str, value: &Value) -> String {
    document(root, value, None)
}

/// Renders `value` under `<root>`, a list under key `K` as one `<K>`
/// element holding an `<item_name(K)>` element per item (NAVER:
/// `<secondaryIpList><secondaryIp>..</secondaryIp></secondaryIpList>`).
pub fn json_to_xml_wrapped(
    root: &str,
    value: &Value,
    item_name: &dyn Fn(&str) -> String,
) -> String {
    document(root, value, Some(item_name))
}

/// An XML prolog and `node` as the element `root` (see [`write_tree`]).
pub(crate) fn document<T: XmlTree>(
    root: &str,
    node: &T,
    wrap: Option<&dyn Fn(&str) -> String>,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    write_tree(&mut out, root, node, wrap);
    out
}

/// A tree the XML writer can walk: a JSON value here, the emulator's reply
/// nodes there. Both are written by [`write_tree`], so the two shapes of
/// the same reply are the same bytes.
pub(crate) trait XmlTree: Sized {
    /// The items, when this is a list.
    fn items(&self) -> Option<&[Self]>;
    /// Calls `field` for each key and value in order when this is an
    /// object, and says whether it was one.
    fn fields(&self, field: &mut dyn FnMut(&str, &Self)) -> bool;
    /// A leaf's text, escaped (nothing for null).
    fn write_text(&self, out: &mut String);
}

/// Writes `node` as the element `name`. `wrap` names the element each item
/// of a list is wrapped in, inside an element of the list's own name; with
/// no `wrap`, a list is its element repeated and nested lists flatten.
fn write_tree<T: XmlTree>(
    out: &mut String,
    name: &str,
    node: &T,
    wrap: Option<&dyn Fn(&str) -> String>,
) {
    if let Some(items) = node.items() {
        match wrap {
            Some(item_name) => {
                let item = item_name(name);
                open(out, name);
                for v in items {
                    write_tree(out, &item, v, wrap);
                }
                close(out, name);
            }
            None => {
                for item in items {
                    write_tree(out, name, item, wrap);
                }
            }
        }
        return;
    }
    open(out, name);
    if !node.fields(&mut |key, child| write_tree(out, key, child, wrap)) {
        node.write_text(out);
    }
    close(out, name);
}

impl XmlTree for Value {
    fn items(&self) -> Option<&[Value]> {
        self.as_array().map(Vec::as_slice)
    }

    fn fields(&self, field: &mut dyn FnMut(&str, &Value)) -> bool {
        let Value::Object(map) = self else {
            return false;
        };
        for (key, child) in map {
            field(key, child);
        }
        true
    }

    fn write_text(&self, out: &mut String) {
        match self {
            Value::String(s) => escape_into(out, s),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::Null | Value::Array(_) | Value::Object(_) => {}
        }
    }
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

pub(crate) fn escape_into(out: &mut String, text: &str) {
    // Most text needs no escaping: copy it whole.
    if !text.contains(['&', '<', '>', '"', '\'']) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
}

/// One element being read: its name, its children so far, its text.
struct Open {
    name: String,
    children: Map<String, Value>,
    text: String,
}

impl Open {
    fn new(name: String) -> Self {
        Open {
            name,
            children: Map::new(),
            text: String::new(),
        }
    }

    /// Leaves (no child elements) are their text; others are objects, and
    /// mixed text beside child elements is dropped (vendors never send it).
    fn into_value(self) -> (String, Value) {
        if self.children.is_empty() {
            (self.name, Value::String(self.text))
        } else {
            (self.name, Value::Object(self.children))
        }
    }

    /// A repeated sibling name turns the entry into a list.
    fn add_child(&mut self, name: String, value: Value) {
        match self.children.get_mut(&name) {
            None => {
                self.children.insert(name, value);
            }
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
}

/// Reads an XML document into its root element name and a JSON tree.
pub fn xml_to_json(xml: &str) -> Result<(String, Value), XmlError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<(String, Value)> = None;
    loop {
        let syntax = |e: quick_xml::Error, reader: &Reader<&[u8]>| XmlError::Syntax {
            position: reader.buffer_position(),
            message: e.to_string(),
        };
        let event = reader.read_event().map_err(|e| syntax(e, &reader))?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(XmlError::TrailingContent {
                        root: root.map(|r| r.0).unwrap_or_default(),
                    });
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                stack.push(Open::new(name));
            }
            Event::Empty(empty) => {
                let name = String::from_utf8_lossy(empty.name().as_ref()).into_owned();
                match stack.last_mut() {
                    Some(parent) => parent.add_child(name, Value::String(String::new())),
                    None if root.is_none() => root = Some((name, Value::String(String::new()))),
                    None => return Err(XmlError::TrailingContent { root: name }),
                }
            }
            Event::End(end) => {
                let found = String::from_utf8_lossy(end.name().as_ref()).into_owned();
                let Some(done) = stack.pop() else {
                    return Err(XmlError::Mismatch {
                        expected: String::new(),
                        found,
                    });
                };
                if done.name != found {
                    return Err(XmlError::Mismatch {
                        expected: done.name,
                        found,
                    });
                }
                let (name, value) = done.into_value();
                match stack.last_mut() {
                    Some(parent) => parent.add_child(name, value),
                    None => root = Some((name, value)),
                }
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(|e| syntax(e, &reader))?;
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => {
                        return Err(XmlError::TrailingContent {
                            root: root.map(|r| r.0).unwrap_or_default(),
                        })
                    }
                }
            }
            Event::CData(data) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::Eof => break,
            // Prolog, comments, processing instructions, doctype: no data.
            _ => {}
        }
    }
    if let Some(open) = stack.pop() {
        return Err(XmlError::Unclosed { open: open.name });
    }
    root.ok_or(XmlError::NoRoot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arrays_become_repeated_elements() {
        let body = json!({"RequestId": "R", "PrivateIpSet": {"PrivateIpAddress": ["a", "b"]}});
        let xml = json_to_xml("AssignResponse", &body);
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><AssignResponse><RequestId>R</RequestId>\
             <PrivateIpSet><PrivateIpAddress>a</PrivateIpAddress><PrivateIpAddress>b</PrivateIpAddress>\
             </PrivateIpSet></AssignResponse>"
        );
    }

    #[test]
    fn round_trip_keeps_strings_and_lists_of_two() {
        let body = json!({
            "RequestId": "R<&>\"'",
            "Sets": {"Set": [{"Ip": "a", "Primary": "true"}, {"Ip": "b", "Primary": "false"}]},
            "Empty": ""
        });
        let (root, back) = xml_to_json(&json_to_xml("Root", &body)).unwrap();
        assert_eq!(root, "Root");
        assert_eq!(back, body);
    }

    #[test]
    fn scalars_come_back_as_strings_and_single_items_unwrapped() {
        let body = json!({"N": 3, "B": true, "L": {"X": ["only"]}, "Z": null});
        let (_, back) = xml_to_json(&json_to_xml("R", &body)).unwrap();
        assert_eq!(
            back,
            json!({"N": "3", "B": "true", "L": {"X": "only"}, "Z": ""})
        );
    }

    #[test]
    fn reads_vendor_xml_with_whitespace_and_self_closing() {
        let xml = "<?xml version=\"1.0\"?>\n<Error>\n  <Code>X</Code>\n  <Recommend/>\n</Error>\n";
        let (root, v) = xml_to_json(xml).unwrap();
        assert_eq!(root, "Error");
        assert_eq!(v, json!({"Code": "X", "Recommend": ""}));
    }

    #[test]
    fn malformed_documents_are_errors() {
        assert!(matches!(
            xml_to_json("<a><b></a>"),
            Err(XmlError::Syntax { .. } | XmlError::Mismatch { .. })
        ));
        assert!(matches!(
            xml_to_json("<a>"),
            Err(XmlError::Unclosed { .. } | XmlError::Syntax { .. })
        ));
        assert!(matches!(xml_to_json(""), Err(XmlError::NoRoot)));
        assert!(xml_to_json("<a/><b/>").is_err());
    }

    /// Found by tests/hostile.rs: a reply nesting 200,000 elements was
    /// read into a JSON tree whose drop overflowed the stack and aborted
    /// the harness. It is refused at the limit; the limit itself reads.
    #[test]
    fn deeply_nested_replies_are_refused_not_a_stack_overflow() {
        let deep = "<a>".repeat(200_000) + &"</a>".repeat(200_000);
        assert!(matches!(xml_to_json(&deep), Err(XmlError::TooDeep)));
        let at_limit = "<a>".repeat(MAX_DEPTH) + &"</a>".repeat(MAX_DEPTH);
        assert!(xml_to_json(&at_limit).is_ok());
        let over = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(matches!(xml_to_json(&over), Err(XmlError::TooDeep)));
    }
}
