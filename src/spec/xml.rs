//! How an XML reply maps to the JSON its operation's schema describes.
//!
//! An XML body turned into JSON has only text leaves, and it cannot tell a
//! list of one from a single element; vendors also shape lists differently
//! (Alibaba repeats the element itself, NAVER wraps the items in a list
//! element). The spec's `response.xml` says which; the schema says which
//! nodes are lists, numbers and booleans. Guided by both, the XML tree takes
//! the JSON shape, so one schema and one set of case paths serve both
//! formats, and NAVER's default XML replies get contract findings too.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How a vendor's XML writes a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum XmlLists {
    /// The element repeats, once per item (Alibaba).
    Repeated,
    /// One list element holds one child element per item (NAVER:
    /// `<secondaryIpList><secondaryIp>..</secondaryIp></secondaryIpList>`).
    Wrapped,
}

/// `value` (an XML body as JSON) in the shape `schema` describes.
pub fn coerce(schema: &Value, root: &Value, value: Value, lists: XmlLists) -> Value {
    let schema = resolve(schema, root);
    match schema_type(schema) {
        Some("array") => {
            let items = match (value, lists) {
                (Value::Array(items), _) => items,
                // An empty list element reads as an empty string or null.
                (Value::Null, _) => Vec::new(),
                (Value::String(s), XmlLists::Wrapped) if s.trim().is_empty() => Vec::new(),
                (Value::Object(map), XmlLists::Wrapped) if map.len() == 1 => {
                    match map.into_iter().next().map(|(_, v)| v) {
                        Some(Value::Array(items)) => items,
                        Some(one) => vec![one],
                        None => Vec::new(),
                    }
                }
                (one, _) => vec![one],
            };
            let item_schema = schema.get("items").unwrap_or(&Value::Null);
            Value::Array(
                items
                    .into_iter()
                    .map(|item| coerce(item_schema, root, item, lists))
                    .collect(),
            )
        }
        Some("object") => match value {
            Value::Object(map) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let mut out = Map::with_capacity(map.len());
                for (key, child) in map {
                    let child = match properties.and_then(|p| p.get(&key)) {
                        Some(child_schema) => coerce(child_schema, root, child, lists),
                        None => child,
                    };
                    out.insert(key, child);
                }
                Value::Object(out)
            }
            // `<x/>` for an object with no fields.
            Value::String(s) if s.trim().is_empty() => Value::Object(Map::new()),
            other => other,
        },
        Some("integer") | Some("number") => match &value {
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| s.trim().parse::<f64>().map(Value::from))
                .unwrap_or(value),
            _ => value,
        },
        Some("boolean") => match value.as_str().map(str::trim) {
            Some("true") => Value::Bool(true),
            Some("false") => Value::Bool(false),
            _ => value,
        },
        _ => value,
    }
}

/// Follows a local `$ref` (`#/$defs/name`).
fn resolve<'s>(schema: &'s Value, root: &'s Value) -> &'s Value {
    let mut current = schema;
    for _ in 0..16 {
        let Some(pointer) = current
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        else {
            break;
        };
        match root.pointer(pointer) {
            Some(target) => current = target,
            None => break,
        }
    }
    current
}

/// The schema's `type`, the first non-null one of a list of types.
fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrapped_lists_numbers_and_booleans_take_the_json_shape() {
        let schema = json!({
            "type": "object",
            "properties": {
                "r": {
                    "type": "object",
                    "properties": {
                        "totalRows": {"type": "integer"},
                        "list": {"type": "array", "items": {"$ref": "#/$defs/nic"}}
                    }
                }
            },
            "$defs": {"nic": {"type": "object", "properties": {
                "isDefault": {"type": "boolean"},
                "ips": {"type": "array", "items": {"type": "string"}}
            }}}
        });
        let one = json!({"r": {"totalRows": "1", "list": {"nic": {
            "isDefault": "true", "ips": {"ip": "10.0.0.5"}}}}});
        assert_eq!(
            coerce(&schema, &schema, one, XmlLists::Wrapped),
            json!({"r": {"totalRows": 1, "list": [{"isDefault": true, "ips": ["10.0.0.5"]}]}})
        );
        let two = json!({"r": {"list": {"nic": [{"ips": ""}, {"ips": {"ip": ["a", "b"]}}]}}});
        assert_eq!(
            coerce(&schema, &schema, two, XmlLists::Wrapped),
            json!({"r": {"list": [{"ips": []}, {"ips": ["a", "b"]}]}})
        );
    }

    #[test]
    fn repeated_lists_make_one_element_a_list_of_one() {
        let schema = json!({"type": "object", "properties": {
            "Ip": {"type": "array", "items": {"type": "string"}}}});
        assert_eq!(
            coerce(
                &schema,
                &schema,
                json!({"Ip": "10.0.0.1"}),
                XmlLists::Repeated
            ),
            json!({"Ip": ["10.0.0.1"]})
        );
        assert_eq!(
            coerce(
                &schema,
                &schema,
                json!({"Ip": "not a number"}),
                XmlLists::Repeated
            ),
            json!({"Ip": ["not a number"]})
        );
    }
}
