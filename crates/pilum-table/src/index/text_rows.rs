//! How a row of a text column becomes what an inverted index reads: its
//! texts (a string, a list's elements, a struct's text fields), for JSON
//! columns each value with the qualifier of its path, and the tokens a
//! query compares against rows no segment covers.

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_schema::{DataType, Field};
use pilum_index::text::{Analyzer, ELEMENT_GAP, TermCache, Token, json_fields};
use std::borrow::Cow;

/// Whether `data_type` holds text an inverted index can analyze: strings,
/// lists of strings, and structs with at least one such field (nested
/// structs included; their other fields are not indexed).
pub(crate) fn is_text_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::List(f) | DataType::LargeList(f) => {
            matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        }
        DataType::Struct(fields) => fields.iter().any(|f| is_text_type(f.data_type())),
        _ => false,
    }
}

/// The strings of row `row` of a text column (none when null), borrowed:
/// one string, a list's elements, or a struct's text fields in order.
pub(crate) fn row_texts(array: &dyn Array, row: usize) -> Vec<&str> {
    fn strings(values: &dyn Array, range: std::ops::Range<usize>) -> Vec<&str> {
        range
            .filter(|&i| !values.is_null(i))
            .filter_map(|i| match values.data_type() {
                DataType::Utf8 => Some(values.as_string::<i32>().value(i)),
                DataType::LargeUtf8 => Some(values.as_string::<i64>().value(i)),
                DataType::Utf8View => Some(values.as_string_view().value(i)),
                _ => None,
            })
            .collect()
    }
    if array.is_null(row) {
        return Vec::new();
    }
    match array.data_type() {
        DataType::Struct(_) => {
            // The text fields in schema order, depth first.
            let fields = array.as_struct();
            fields
                .columns()
                .iter()
                .filter(|child| is_text_type(child.data_type()))
                .flat_map(|child| row_texts(child.as_ref(), row))
                .collect()
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            let offsets = list.value_offsets();
            strings(list.values().as_ref(), offsets[row] as usize..offsets[row + 1] as usize)
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            let offsets = list.value_offsets();
            strings(list.values().as_ref(), offsets[row] as usize..offsets[row + 1] as usize)
        }
        _ => strings(array, row..row + 1),
    }
}

/// Distinct pieces a worker remembers the analysis of.
pub(crate) const TERM_CACHE_ENTRIES: usize = 1 << 18;

/// The text index version of a segment: 2 for JSON columns, else 1.
pub(crate) fn text_index_version(json: bool) -> u32 {
    if json { 2 } else { 1 }
}

/// Whether `field` holds JSON documents an inverted index reads with their
/// paths: strings of the Arrow extension type `arrow.json`.
pub(crate) fn is_json_field(field: &Field) -> bool {
    field.extension_type_name() == Some("arrow.json")
        && matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        )
}

/// The `(qualifier, text)` fields of one row: for a JSON column, each
/// document's texts with their paths' qualifiers (a value that is not
/// valid JSON is one plain text); otherwise the row's texts, unqualified.
/// Plain texts are borrowed from `array`; only JSON values allocate.
pub(crate) fn row_fields(array: &dyn Array, row: usize, json: bool) -> Vec<(String, Cow<'_, str>)> {
    let texts = row_texts(array, row);
    if !json {
        return texts.into_iter().map(|t| (String::new(), Cow::Borrowed(t))).collect();
    }
    texts
        .into_iter()
        .flat_map(|t| match json_fields(t) {
            Some(fields) => fields.into_iter().map(|(q, text)| (q, Cow::Owned(text))).collect(),
            None => vec![(String::new(), Cow::Borrowed(t))],
        })
        .collect()
}

/// A row as a search compares it: its tokens and its length in terms.
pub(crate) struct AnalyzedRow {
    /// Plain tokens, and for JSON paths their qualified twins at the same
    /// positions.
    pub tokens: Vec<Token>,
    /// Plain tokens only (the document length BM25 uses).
    pub length: u32,
}

/// The tokens of row `row`: each field analyzed, positions continuing
/// across fields after a gap, JSON terms also under their paths (as
/// `InvertedAccumulator::add_fields` indexes them).
pub(crate) fn analyze_row(
    analyzer: &Analyzer,
    cache: &mut TermCache,
    array: &dyn Array,
    row: usize,
    json: bool,
) -> AnalyzedRow {
    let mut out = AnalyzedRow {
        tokens: Vec::new(),
        length: 0,
    };
    let mut base = 0u32;
    for (qualifier, text) in row_fields(array, row, json) {
        let tokens = analyzer.tokens_cached(&text, cache);
        let next = tokens
            .last()
            .map_or(base, |t| base.saturating_add(t.position).saturating_add(ELEMENT_GAP));
        out.length = out.length.saturating_add(tokens.len() as u32);
        for t in tokens {
            let position = base.saturating_add(t.position);
            if !qualifier.is_empty() {
                out.tokens.push(Token {
                    text: format!("{qualifier}{}", t.text),
                    position,
                });
            }
            out.tokens.push(Token { text: t.text, position });
        }
        base = next;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::{ArrayRef, Int32Array, StringArray, StructArray};
    use arrow_schema::Field;
    use std::sync::Arc;

    fn meta() -> StructArray {
        let title: ArrayRef = Arc::new(StringArray::from(vec![Some("a title"), None, Some("t3")]));
        let year: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3]));
        let inner = StructArray::from(vec![(
            Arc::new(Field::new("note", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec![Some("n1"), Some("n2"), None])) as ArrayRef,
        )]);
        StructArray::from(vec![
            (Arc::new(Field::new("title", DataType::Utf8, true)), title),
            (Arc::new(Field::new("year", DataType::Int32, false)), year),
            (
                Arc::new(Field::new("inner", inner.data_type().clone(), true)),
                Arc::new(inner) as ArrayRef,
            ),
        ])
    }

    #[test]
    fn structs_index_their_text_fields_in_order() {
        let array = meta();
        assert!(is_text_type(array.data_type()));
        assert_eq!(row_texts(&array, 0), ["a title", "n1"]);
        assert_eq!(row_texts(&array, 1), ["n2"]);
        assert_eq!(row_texts(&array, 2), ["t3"]);
        let numbers = DataType::Struct(vec![Field::new("year", DataType::Int32, false)].into());
        assert!(!is_text_type(&numbers));
    }
}
