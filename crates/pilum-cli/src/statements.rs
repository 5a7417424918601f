//! Splitting SQL text into statements at `;` outside quotes and comments.

/// Where each statement of `text` ends: the byte index of its `;`, or the
/// end of the text for a last statement without one. Quotes (`'`, `"`) and
/// comments (`--`, `/* */`) hide semicolons.
fn statement_ends(text: &str) -> (Vec<usize>, bool) {
    let bytes = text.as_bytes();
    let mut ends = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    let mut terminated = false;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'-' if bytes.get(i + 1) == Some(&b'-') => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    i += 2;
                    while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                        i += 1;
                    }
                    i += 2;
                    continue;
                }
                b';' => {
                    ends.push(i);
                    terminated = true;
                    i += 1;
                    continue;
                }
                c if !c.is_ascii_whitespace() => terminated = false,
                _ => {}
            },
        }
        if quote.is_some() {
            terminated = false;
        }
        i += 1;
    }
    (ends, terminated)
}

/// The non-empty statements of `text`, without their `;`.
pub fn split(text: &str) -> Vec<String> {
    let (ends, _) = statement_ends(text);
    let mut start = 0;
    let mut out = Vec::new();
    for end in ends.into_iter().chain(std::iter::once(text.len())) {
        let statement = text.get(start..end).unwrap_or_default();
        if has_code(statement) {
            out.push(statement.trim().to_string());
        }
        start = end + 1;
    }
    out
}

/// Whether `text` ends with a `;` that closes a statement (what the shell
/// waits for before running a multi-line input).
pub fn is_complete(text: &str) -> bool {
    statement_ends(text).1
}

/// Whether `statement` holds anything but whitespace and comments.
fn has_code(statement: &str) -> bool {
    statement
        .lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .any(|line| !line.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_comments() {
        let text = "SELECT ';' AS a; -- x; y\nSELECT \"b;c\" FROM t /* ; */ ;\n  SELECT 3";
        assert_eq!(
            split(text),
            vec!["SELECT ';' AS a", "-- x; y\nSELECT \"b;c\" FROM t /* ; */", "SELECT 3"]
        );
        assert_eq!(split(" ; ;\n-- only a comment\n"), Vec::<String>::new());
    }

    #[test]
    fn completeness_waits_for_a_closing_semicolon() {
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1;  \n"));
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT ';"));
        assert!(!is_complete("SELECT 1; SELECT 2"));
        assert!(is_complete("SELECT 1 -- c\n;"));
    }
}
