//! JSON documents as full-text fields: every string, number and boolean of
//! a document is a text, and each is also indexed under its path, so a
//! query can search the whole document or one path of it.
//!
//! A path joins object keys with `.`; arrays are transparent (the elements
//! of `{"authors": [{"name": "Ann"}]}` are at `authors.name`). A term found
//! at path `p` is also indexed as the qualified term `\0p\0term`: NUL
//! cannot occur in an analyzed term (it is removed from texts and keys
//! first), so qualified and plain terms never collide, and a qualified
//! term is at least three characters longer than its plain term, beyond
//! the reach of a two-edit fuzzy match of a plain query term.

use serde_json::Value;

/// The separator around a path in a qualified term.
const MARK: char = '\0';

/// What a qualified term of `path` starts with.
pub fn path_qualifier(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 2);
    out.push(MARK);
    out.extend(path.chars().filter(|&c| c != MARK));
    out.push(MARK);
    out
}

/// The texts of a JSON document, in document order, each with the
/// qualifier of its path (empty for a document that is a bare value, which
/// has no path), or `None` when `document` is not valid JSON. Nulls, and
/// empty arrays and objects, hold no text.
pub fn json_fields(document: &str) -> Option<Vec<(String, String)>> {
    let value: Value = serde_json::from_str(document).ok()?;
    let mut out = Vec::new();
    let mut path = String::new();
    walk(&value, &mut path, &mut out);
    Some(out)
}

fn walk(value: &Value, path: &mut String, out: &mut Vec<(String, String)>) {
    let text = match value {
        Value::Null => return,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.chars().filter(|&c| c != MARK).collect(),
        Value::Array(items) => {
            for item in items {
                walk(item, path, out);
            }
            return;
        }
        Value::Object(map) => {
            // Keys in ascending byte order, whatever order the map keeps
            // (serde_json's `preserve_order` feature would keep the document's).
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (key, item) in entries {
                let before = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.extend(key.chars().filter(|&c| c != MARK));
                walk(item, path, out);
                path.truncate(before);
            }
            return;
        }
    };
    let qualifier = if path.is_empty() {
        String::new()
    } else {
        path_qualifier(path)
    };
    out.push((qualifier, text));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fields_follow_paths_through_objects_and_arrays() {
        let fields = json_fields(
            r#"{"title": "Happy puppy", "n": 3, "ok": true, "x": null,
                                     "authors": [{"name": "Ann"}, {"name": "Bo"}], "tags": ["a", ["b"]]}"#,
        )
        .unwrap();
        let shown: Vec<(String, &str)> = fields
            .iter()
            .map(|(q, t)| (q.trim_matches(MARK).to_string(), t.as_str()))
            .collect();
        let expect = |path: &str, text: &'static str| (path.to_string(), text);
        for field in [
            expect("title", "Happy puppy"),
            expect("n", "3"),
            expect("ok", "true"),
            expect("authors.name", "Ann"),
            expect("authors.name", "Bo"),
            expect("tags", "a"),
            expect("tags", "b"),
        ] {
            assert!(shown.contains(&field), "{field:?} in {shown:?}");
        }
        assert_eq!(shown.len(), 7, "null holds no text");
        assert_eq!(fields[0].0.chars().next(), Some(MARK));
    }

    #[test]
    fn keys_are_walked_in_ascending_byte_order() {
        let fields = json_fields(r#"{"b": "2", "a": "1", "B": "0"}"#).unwrap();
        let texts: Vec<&str> = fields.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["0", "1", "2"]);
    }

    #[test]
    fn bare_values_have_no_path_and_invalid_json_is_none() {
        assert_eq!(
            json_fields(r#""just text""#).unwrap(),
            [(String::new(), "just text".to_string())]
        );
        assert_eq!(json_fields("[]").unwrap(), Vec::<(String, String)>::new());
        assert!(json_fields("{not json").is_none());
        // NUL never reaches a term or a path.
        let fields = json_fields("{\"a\\u0000b\": \"x\\u0000y\"}").unwrap();
        assert_eq!(fields, [(path_qualifier("ab"), "xy".to_string())]);
    }
}
