//! A JSON tree that keeps every member of every object, duplicates included, so that signed
//! documents can be read strictly: containers-signature(5) asks consumers to refuse payloads
//! that "can be interpreted ambiguously (e.g. a duplicated member in a JSON object)", which
//! `serde_json::Value` (last member wins) cannot see.
//!
//! Only what verification reads is kept: numbers and booleans are reduced to their kind.
//! Nesting is bounded by serde_json's recursion limit (128), so a hostile document fails with
//! an error instead of exhausting the stack.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value; objects are their members in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JsonNode {
    Null,
    Bool,
    Number,
    String(String),
    Array(Vec<JsonNode>),
    Object(Vec<(String, JsonNode)>),
}

impl JsonNode {
    pub(crate) fn as_object(&self) -> Option<&[(String, JsonNode)]> {
        match self {
            JsonNode::Object(members) => Some(members.as_slice()),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&[JsonNode]> {
        match self {
            JsonNode::Array(items) => Some(items.as_slice()),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            JsonNode::String(text) => Some(text.as_str()),
            _ => None,
        }
    }

    /// The JSON type's name, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            JsonNode::Null => "null",
            JsonNode::Bool => "boolean",
            JsonNode::Number => "number",
            JsonNode::String(_) => "string",
            JsonNode::Array(_) => "array",
            JsonNode::Object(_) => "object",
        }
    }
}

/// Parses one JSON document (trailing non-whitespace is an error).
pub(crate) fn parse(bytes: &[u8]) -> Result<JsonNode, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// How member names are compared with the names looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyMatch {
    /// Byte for byte (protobuf JSON, in-toto).
    Exact,
    /// ASCII case-insensitively, as Go's `encoding/json` matches struct fields (simple signing).
    IgnoreAsciiCase,
}

impl KeyMatch {
    fn matches(self, wanted: &str, key: &str) -> bool {
        match self {
            KeyMatch::Exact => wanted == key,
            KeyMatch::IgnoreAsciiCase => wanted.eq_ignore_ascii_case(key),
        }
    }
}

/// The members of one object looked up by name.
pub(crate) struct Members<'a, const N: usize> {
    /// For each name looked for, its value if present.
    pub(crate) found: [Option<&'a JsonNode>; N],
    /// Names of the other members, in document order.
    pub(crate) unknown: Vec<&'a str>,
}

/// Looks up `names` in `object`. A name present twice (under `matching`) is an error carrying
/// the second spelling: the document is ambiguous.
pub(crate) fn members<'a, const N: usize>(
    object: &'a [(String, JsonNode)],
    names: [&str; N],
    matching: KeyMatch,
) -> Result<Members<'a, N>, String> {
    let mut found: [Option<&'a JsonNode>; N] = [None; N];
    let mut unknown = Vec::new();
    for (key, value) in object {
        match names
            .iter()
            .position(|wanted| matching.matches(wanted, key))
        {
            Some(index) => {
                let Some(slot) = found.get_mut(index) else {
                    continue;
                };
                if slot.is_some() {
                    return Err(key.clone());
                }
                *slot = Some(value);
            }
            None => unknown.push(key.as_str()),
        }
    }
    Ok(Members { found, unknown })
}

impl<'de> Deserialize<'de> for JsonNode {
    fn deserialize<D>(deserializer: D) -> Result<JsonNode, D::Error>
    where
        D: Deserializer<'de>,
    {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = JsonNode;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _value: bool) -> Result<JsonNode, E> {
        Ok(JsonNode::Bool)
    }

    fn visit_i64<E: de::Error>(self, _value: i64) -> Result<JsonNode, E> {
        Ok(JsonNode::Number)
    }

    fn visit_u64<E: de::Error>(self, _value: u64) -> Result<JsonNode, E> {
        Ok(JsonNode::Number)
    }

    fn visit_f64<E: de::Error>(self, _value: f64) -> Result<JsonNode, E> {
        Ok(JsonNode::Number)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<JsonNode, E> {
        Ok(JsonNode::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<JsonNode, E> {
        Ok(JsonNode::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonNode, E> {
        Ok(JsonNode::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<JsonNode, E> {
        Ok(JsonNode::Null)
    }

    fn visit_some<D>(self, deserializer: D) -> Result<JsonNode, D::Error>
    where
        D: Deserializer<'de>,
    {
        JsonNode::deserialize(deserializer)
    }

    fn visit_seq<A>(self, mut seq: A) -> Result<JsonNode, A::Error>
    where
        A: SeqAccess<'de>,
    {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<JsonNode>()? {
            items.push(item);
        }
        Ok(JsonNode::Array(items))
    }

    fn visit_map<A>(self, mut map: A) -> Result<JsonNode, A::Error>
    where
        A: MapAccess<'de>,
    {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, JsonNode>()? {
            members.push((key, value));
        }
        Ok(JsonNode::Object(members))
    }
}
