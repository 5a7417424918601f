//! Trigrams for substring and regular-expression filters: the grams of a
//! string (folded to lower case, one `u64` each), and the grams a match of
//! a `LIKE` pattern or a regular expression must contain, derived from its
//! syntax tree. An index of which rows hold which gram then narrows a
//! filter to the rows holding every required gram; the filter itself is
//! re-checked on those rows, so the grams need only be necessary, never
//! sufficient.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Characters per gram.
pub const GRAM_CHARS: usize = 3;

/// The character a gram stores for `c`: its lower case when that is one
/// character, otherwise `c` itself. Folding applies to rows and queries
/// alike, so a row holding a substring holds all of its grams.
pub fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Packs three folded characters (21 bits each) into one key.
fn pack(a: char, b: char, c: char) -> u64 {
    ((a as u64) << 42) | ((b as u64) << 21) | c as u64
}

/// The distinct grams of `text`, in first-seen order.
pub fn grams(text: &str, out: &mut Vec<u64>) {
    out.clear();
    let mut window = ['\0'; GRAM_CHARS];
    for (i, c) in text.chars().enumerate() {
        window = [window[1], window[2], fold_char(c)];
        if i + 1 >= GRAM_CHARS {
            out.push(pack(window[0], window[1], window[2]));
        }
    }
    out.sort_unstable();
    out.dedup();
}

/// The grams a string must contain: a Boolean formula over grams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GramQuery {
    /// No gram is required (every row is a candidate).
    All,
    /// Every one of these grams is required.
    Grams(Vec<u64>),
    /// Every part holds.
    And(Vec<GramQuery>),
    /// At least one part holds.
    Or(Vec<GramQuery>),
}

impl GramQuery {
    /// The grams of a literal substring (`All` when it is shorter than a gram).
    pub fn literal(text: &str) -> Self {
        let mut out = Vec::new();
        grams(text, &mut out);
        if out.is_empty() { Self::All } else { Self::Grams(out) }
    }

    fn and(parts: Vec<GramQuery>) -> Self {
        let mut kept: Vec<GramQuery> = parts.into_iter().filter(|p| *p != Self::All).collect();
        match kept.len() {
            0 => Self::All,
            1 => kept.remove(0),
            _ => Self::And(kept),
        }
    }

    fn or(parts: Vec<GramQuery>) -> Self {
        if parts.is_empty() || parts.contains(&Self::All) {
            return Self::All;
        }
        let mut parts = parts;
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            Self::Or(parts)
        }
    }

    /// Whether the query requires nothing.
    pub fn is_all(&self) -> bool {
        *self == Self::All
    }

    /// Whether a string holding exactly `held` (sorted) grams can match.
    pub fn admits(&self, held: &[u64]) -> bool {
        match self {
            Self::All => true,
            Self::Grams(grams) => grams.iter().all(|g| held.binary_search(g).is_ok()),
            Self::And(parts) => parts.iter().all(|p| p.admits(held)),
            Self::Or(parts) => parts.iter().any(|p| p.admits(held)),
        }
    }
}

/// The grams every match of SQL `LIKE` pattern `pattern` contains: those of
/// each run of literal characters between wildcards (`%`, `_`), with
/// `escape` (usually `\`) making the next character literal.
pub fn like_query(pattern: &str, escape: Option<char>) -> GramQuery {
    let mut runs = Vec::new();
    let mut run = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            match chars.next() {
                Some(next) => run.push(next),
                None => run.push(c),
            }
        } else if c == '%' || c == '_' {
            runs.push(std::mem::take(&mut run));
        } else {
            run.push(c);
        }
    }
    runs.push(run);
    GramQuery::and(runs.iter().map(|r| GramQuery::literal(r)).collect())
}

/// The grams every match of regular expression `pattern` contains, or
/// `None` when the pattern does not parse (its evaluation reports that).
/// Matches are unanchored substrings, as `regexp_like` and `~` test.
pub fn regex_query(pattern: &str) -> Option<GramQuery> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    Some(required(&hir).query)
}

/// What a syntax node guarantees: `exact` is every string it can match
/// when that set is small and known; `query` the grams any match holds.
struct Info {
    exact: Option<Vec<String>>,
    query: GramQuery,
}

/// Most alternatives an exact set keeps before it is dropped.
const MAX_EXACT: usize = 16;

impl Info {
    fn unknown() -> Self {
        Self {
            exact: None,
            query: GramQuery::All,
        }
    }

    fn exact(strings: Vec<String>) -> Self {
        let query = GramQuery::or(strings.iter().map(|s| GramQuery::literal(s)).collect());
        Self {
            exact: Some(strings),
            query,
        }
    }
}

/// Most characters a class may hold and still count as a set of literals.
const MAX_CLASS_CHARS: usize = 8;

/// The distinct folded characters of a small class (`[aA]` is `a`).
fn class_chars(class: &Class) -> Option<Vec<String>> {
    let Class::Unicode(unicode) = class else {
        return None;
    };
    let mut count = 0usize;
    let mut chars = Vec::new();
    for range in unicode.ranges() {
        count += range.end() as usize - range.start() as usize + 1;
        if count > MAX_CLASS_CHARS {
            return None;
        }
        chars.extend((range.start()..=range.end()).map(fold_char));
    }
    chars.sort_unstable();
    chars.dedup();
    Some(chars.into_iter().map(String::from).collect())
}

fn required(hir: &Hir) -> Info {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Info::exact(vec![String::new()]),
        HirKind::Literal(literal) => match std::str::from_utf8(&literal.0) {
            Ok(text) => Info::exact(vec![text.to_string()]),
            Err(_) => Info::unknown(),
        },
        HirKind::Class(class) => match class_chars(class) {
            Some(chars) => Info::exact(chars),
            None => Info::unknown(),
        },
        HirKind::Capture(capture) => required(&capture.sub),
        HirKind::Repetition(repetition) => {
            if repetition.min == 0 {
                return Info::unknown();
            }
            let inner = required(&repetition.sub);
            if repetition.min == 1 && repetition.max == Some(1) {
                return inner;
            }
            Info {
                exact: None,
                query: inner.query,
            }
        }
        HirKind::Alternation(alternatives) => {
            let parts: Vec<Info> = alternatives.iter().map(required).collect();
            let exact = parts
                .iter()
                .map(|p| p.exact.clone())
                .collect::<Option<Vec<Vec<String>>>>()
                .map(|sets| sets.concat())
                .filter(|set| set.len() <= MAX_EXACT);
            match exact {
                Some(set) => Info::exact(set),
                None => Info {
                    exact: None,
                    query: GramQuery::or(parts.into_iter().map(|p| p.query).collect()),
                },
            }
        }
        HirKind::Concat(items) => concat(items),
    }
}

/// A concatenation: adjacent exact parts are joined into longer exact sets
/// (so a literal split by a folded class still yields grams across it);
/// the query requires every joined piece's grams.
fn concat(items: &[Hir]) -> Info {
    let mut queries = Vec::new();
    let mut current: Option<Vec<String>> = Some(vec![String::new()]);
    let mut all_exact = true;
    for item in items {
        let info = required(item);
        match (info.exact, current.take()) {
            (Some(next), Some(prefixes)) if prefixes.len() * next.len() <= MAX_EXACT => {
                let joined = prefixes
                    .iter()
                    .flat_map(|p| next.iter().map(move |n| format!("{p}{n}")))
                    .collect();
                current = Some(joined);
            }
            (exact, prefixes) => {
                if let Some(prefixes) = prefixes {
                    queries.push(Info::exact(prefixes).query);
                }
                match exact {
                    Some(next) => current = Some(next),
                    None => {
                        all_exact = false;
                        queries.push(info.query);
                        current = Some(vec![String::new()]);
                    }
                }
            }
        }
    }
    match current {
        Some(strings) if all_exact && queries.is_empty() => Info::exact(strings),
        Some(strings) => {
            queries.push(Info::exact(strings).query);
            Info {
                exact: None,
                query: GramQuery::and(queries),
            }
        }
        None => Info {
            exact: None,
            query: GramQuery::and(queries),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn held(text: &str) -> Vec<u64> {
        let mut out = Vec::new();
        grams(text, &mut out);
        out
    }

    #[test]
    fn grams_fold_case_and_skip_short_strings() {
        assert_eq!(held("ab"), Vec::<u64>::new());
        assert_eq!(held("ABC"), held("abc"));
        assert_eq!(held("abcabc").len(), 3); // abc, bca, cab
    }

    #[test]
    fn like_requires_each_literal_run() {
        // `_` is a wildcard: "handler" is required, "12" is too short.
        let q = like_query("%handler_12%", Some('\\'));
        assert!(q.admits(&held("fn handler_12x")));
        assert!(q.admits(&held("fn handler 1")));
        assert!(!q.admits(&held("fn handle")));
        assert!(like_query("%ab%", None).is_all());
        // An escaped wildcard is a literal character.
        let q = like_query("%50\\%off%", Some('\\'));
        assert!(q.admits(&held("50%off")));
        assert!(!q.admits(&held("50 off")));
    }

    #[test]
    fn regex_derives_required_grams() {
        let q = regex_query(r"handler_12[0-9]\(").unwrap();
        assert!(q.admits(&held("fn handler_123()")));
        assert!(!q.admits(&held("fn handle_123()")));
        let q = regex_query("(?i)HELLO").unwrap();
        assert!(q.admits(&held("say hello")));
        let q = regex_query("foo|barbaz").unwrap();
        assert!(q.admits(&held("xfoo")) && q.admits(&held("barbaz")) && !q.admits(&held("bar")));
        assert!(regex_query("a*").unwrap().is_all());
        assert!(regex_query(".*").unwrap().is_all());
        assert!(regex_query("(").is_none());
        // An exact alternation inside a concatenation joins across it.
        let q = regex_query("ab(c|d)ef").unwrap();
        assert!(q.admits(&held("abcef")) && q.admits(&held("abdef")) && !q.admits(&held("abxef")));
    }

    proptest! {
        /// Necessity: a string the regex matches holds the grams it requires.
        #[test]
        fn every_match_is_admitted(
            pattern in "[abc]{0,3}(x|yz|[aA]b)?[abc.]{0,4}(de)+",
            filler in "[abcxyzde]{0,6}",
        ) {
            let re = regex::Regex::new(&pattern).unwrap();
            let query = regex_query(&pattern).unwrap();
            // Build candidate strings from the pattern's own alphabet.
            for text in [filler.clone(), format!("{filler}abxde"), format!("yzabcde{filler}"), "aabbxdede".to_string()] {
                if re.is_match(&text) {
                    prop_assert!(query.admits(&held(&text)), "{pattern:?} matches {text:?}");
                }
            }
        }

        #[test]
        fn like_matches_are_admitted(needle in "[a-zA-Z%_]{0,8}", text in "[a-zA-Z]{0,12}") {
            let q = like_query(&needle, Some('\\'));
            let re = format!("^{}$", regex::escape(&needle).replace('%', ".*").replace('_', "."));
            if regex::Regex::new(&re).unwrap().is_match(&text) {
                prop_assert!(q.admits(&held(&text)));
            }
        }
    }
}
