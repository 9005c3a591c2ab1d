//! Reply bodies as the emulator builds them: a small tree of nodes that
//! writes itself as JSON or XML directly.
//!
//! A `serde_json::Value` costs an ordered map, a hashed and allocated key
//! per field and a string per address; a describe of an interface holding
//! 1,000 secondaries spent most of its time building and dropping that
//! tree. A [`Node`] keeps keys as `&'static str`, addresses as
//! [`Ipv4Addr`] (written straight into the output) and fixed words as
//! `&'static str`. The output is the same, byte for byte: JSON goes
//! through serde_json's own serializer (so escaping and numbers are
//! serde_json's), and [`Node::to_xml`] follows [`crate::dialect::xml`]'s
//! conventions; tests compare both with what the equivalent `Value` gives.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::dialect::xml::{document, escape_into, XmlTree};

/// One value of a reply body.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    /// Text owned by the reply (ids, messages).
    Str(String),
    /// Fixed text (`"Available"`, `""`).
    Static(&'static str),
    /// An address, written in dotted decimal.
    Ip(Ipv4Addr),
    List(Vec<Node>),
    /// Fields in order; a key appears once (as in a JSON object).
    Obj(Vec<(Cow<'static, str>, Node)>),
}

impl Node {
    /// `{k: v, ...}` with fixed keys, in order.
    pub fn obj<const N: usize>(entries: [(&'static str, Node); N]) -> Node {
        Node::Obj(
            entries
                .into_iter()
                .map(|(k, v)| (Cow::Borrowed(k), v))
                .collect(),
        )
    }

    /// `{key: value}` with a key made at run time (`<action>Response`).
    pub fn wrap(key: String, value: Node) -> Node {
        Node::Obj(vec![(Cow::Owned(key), value)])
    }

    /// Adds (or, if present, replaces) a field of an object.
    pub fn set(&mut self, key: &'static str, value: Node) {
        if let Node::Obj(entries) = self {
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => entries.push((Cow::Borrowed(key), value)),
            }
        }
    }

    /// The body as compact JSON, as `serde_json::to_string` of the
    /// equivalent `Value` gives it.
    pub fn to_json(&self) -> String {
        // Writing into a Vec<u8> cannot fail, nor can a node's serialization.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The body under `<root>` with an XML prolog, as
    /// [`crate::dialect::xml::json_to_xml`] renders the equivalent `Value`.
    pub fn to_xml(&self, root: &str) -> String {
        document(root, self, None)
    }

    /// As [`crate::dialect::xml::json_to_xml_wrapped`]: a list under key
    /// `K` is one `<K>` holding an `<item_name(K)>` per item (NAVER).
    pub fn to_xml_wrapped(&self, root: &str, item_name: &dyn Fn(&str) -> String) -> String {
        document(root, self, Some(item_name))
    }

    /// The equivalent `serde_json::Value` (tests; anything that needs one).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl From<&str> for Node {
    fn from(s: &str) -> Node {
        Node::Str(s.to_string())
    }
}

impl From<String> for Node {
    fn from(s: String) -> Node {
        Node::Str(s)
    }
}

impl From<bool> for Node {
    fn from(b: bool) -> Node {
        Node::Bool(b)
    }
}

impl From<i64> for Node {
    fn from(n: i64) -> Node {
        Node::Int(n)
    }
}

impl From<usize> for Node {
    fn from(n: usize) -> Node {
        Node::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<u64> for Node {
    fn from(n: u64) -> Node {
        Node::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<Ipv4Addr> for Node {
    fn from(ip: Ipv4Addr) -> Node {
        Node::Ip(ip)
    }
}

impl From<Vec<Node>> for Node {
    fn from(items: Vec<Node>) -> Node {
        Node::List(items)
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Int(n) => s.serialize_i64(*n),
            Node::Str(t) => s.serialize_str(t),
            Node::Static(t) => s.serialize_str(t),
            Node::Ip(ip) => s.serialize_str(DottedQuad::new(*ip).as_str()),
            Node::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Obj(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k.as_ref(), v)?;
                }
                map.end()
            }
        }
    }
}

/// An IPv4 address in dotted decimal, on the stack (`Ipv4Addr`'s
/// `Display` goes through the formatting machinery, four times per
/// address, which a 1,000-address reply feels).
struct DottedQuad {
    buf: [u8; 15],
    len: usize,
}

impl DottedQuad {
    fn new(ip: Ipv4Addr) -> DottedQuad {
        let mut q = DottedQuad {
            buf: [0; 15],
            len: 0,
        };
        for (i, octet) in ip.octets().into_iter().enumerate() {
            if i > 0 {
                q.push(b'.');
            }
            if octet >= 100 {
                q.push(b'0' + octet / 100);
            }
            if octet >= 10 {
                q.push(b'0' + octet / 10 % 10);
            }
            q.push(b'0' + octet % 10);
        }
        q
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and dots were written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl XmlTree for Node {
    fn items(&self) -> Option<&[Node]> {
        match self {
            Node::List(items) => Some(items),
            _ => None,
        }
    }

    fn fields(&self, field: &mut dyn FnMut(&str, &Node)) -> bool {
        let Node::Obj(entries) = self else {
            return false;
        };
        for (key, child) in entries {
            field(key, child);
        }
        true
    }

    fn write_text(&self, out: &mut String) {
        match self {
            Node::Str(s) => escape_into(out, s),
            Node::Static(s) => escape_into(out, s),
            Node::Ip(ip) => out.push_str(DottedQuad::new(*ip).as_str()),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::Int(n) => out.push_str(&n.to_string()),
            Node::Null | Node::List(_) | Node::Obj(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::xml;
    use proptest::prelude::*;

    fn node() -> impl Strategy<Value = Node> {
        let keys = prop::sample::select(vec!["A", "b", "Set", "PrivateIpSet", "x-y"]);
        let leaf = prop_oneof![
            Just(Node::Null),
            any::<bool>().prop_map(Node::Bool),
            any::<i64>().prop_map(Node::Int),
            ".{0,12}".prop_map(Node::Str),
            prop::sample::select(vec!["", "Available", "a<b>&'\"c"]).prop_map(Node::Static),
            any::<u32>().prop_map(|n| Node::Ip(Ipv4Addr::from(n))),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Node::List),
                prop::collection::btree_map(keys.clone(), inner, 0..5).prop_map(|m| {
                    Node::Obj(m.into_iter().map(|(k, v)| (Cow::Borrowed(k), v)).collect())
                }),
            ]
        })
    }

    fn item_name(list: &str) -> String {
        format!("{list}Item")
    }

    proptest! {
        /// The node's JSON and XML are what the equivalent Value gives.
        #[test]
        fn writes_what_the_equivalent_value_writes(n in node()) {
            let v = n.to_value();
            prop_assert_eq!(n.to_json(), v.to_string());
            prop_assert_eq!(n.to_xml("Root"), xml::json_to_xml("Root", &v));
            prop_assert_eq!(
                n.to_xml_wrapped("Root", &item_name),
                xml::json_to_xml_wrapped("Root", &v, &item_name)
            );
        }
    }

    #[test]
    fn addresses_are_dotted_decimal() {
        for ip in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.100.9",
            "1.22.103.40",
            "192.168.1.250",
        ] {
            let ip: Ipv4Addr = ip.parse().unwrap();
            assert_eq!(DottedQuad::new(ip).as_str(), ip.to_string());
        }
        for n in (0..=u32::MAX).step_by(65_537) {
            let ip = Ipv4Addr::from(n);
            assert_eq!(DottedQuad::new(ip).as_str(), ip.to_string());
        }
    }

    #[test]
    fn set_replaces_or_appends() {
        let mut n = Node::obj([("a", 1i64.into()), ("b", 2i64.into())]);
        n.set("a", 3i64.into());
        n.set("c", Node::Null);
        assert_eq!(n.to_json(), r#"{"a":3,"b":2,"c":null}"#);
    }
}
