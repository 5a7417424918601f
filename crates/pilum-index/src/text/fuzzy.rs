//! Fuzzy and prefix term expansion over a sorted term dictionary: the
//! terms within a Levenshtein edit distance (insertions, deletions and
//! substitutions of characters) of a query term, or starting with a
//! prefix, each then searched as its own term.

/// The edit distance a fuzzy match allows for a term of `chars`
/// characters when none is given: 0 up to 2 characters, 1 up to 5, else 2.
pub fn auto_fuzziness(chars: usize) -> u32 {
    match chars {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

/// The Levenshtein distance of `a` and `b` when it is at most `max`.
pub fn edit_distance_within(a: &[char], b: &[char], max: u32) -> Option<u32> {
    let max = max as usize;
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0usize; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        let mut row_min = current[0];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
            row_min = row_min.min(current[j + 1]);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut previous, &mut current);
    }
    let d = previous[b.len()];
    (d <= max).then_some(d as u32)
}

/// Up to `max_expansions` terms of `dictionary` (sorted, distinct) within
/// `max_edits` of `term` that share its first `prefix_length` characters,
/// nearest first (then in dictionary order).
pub fn expand_fuzzy<'t>(
    term: &str,
    dictionary: &'t [String],
    max_edits: u32,
    prefix_length: usize,
    max_expansions: usize,
) -> Vec<&'t str> {
    let query: Vec<char> = term.chars().collect();
    let prefix: String = query.iter().take(prefix_length).collect();
    let start = dictionary.partition_point(|t| t.as_str() < prefix.as_str());
    let mut found: Vec<(u32, &str)> = Vec::new();
    let mut chars = Vec::new();
    for candidate in dictionary[start..].iter().take_while(|t| t.starts_with(&prefix)) {
        chars.clear();
        chars.extend(candidate.chars());
        if let Some(d) = edit_distance_within(&query, &chars, max_edits) {
            found.push((d, candidate.as_str()));
        }
    }
    found.sort_by_key(|&(d, _)| d);
    found.into_iter().take(max_expansions).map(|(_, t)| t).collect()
}

/// Up to `max_expansions` terms of `dictionary` (sorted) starting with
/// `prefix`, in dictionary order.
pub fn expand_prefix<'t>(prefix: &str, dictionary: &'t [String], max_expansions: usize) -> Vec<&'t str> {
    let start = dictionary.partition_point(|t| t.as_str() < prefix);
    dictionary[start..]
        .iter()
        .take_while(|t| t.starts_with(prefix))
        .take(max_expansions)
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn distances_agree_with_a_full_table() {
        let words = [
            "", "a", "ab", "search", "serch", "seacrh", "résumé", "resume", "kitten", "sitting",
        ];
        for a in words {
            for b in words {
                // Full dynamic programming, no cut-off.
                let (x, y) = (chars(a), chars(b));
                let mut t = vec![vec![0usize; y.len() + 1]; x.len() + 1];
                for i in 0..=x.len() {
                    for j in 0..=y.len() {
                        t[i][j] = if i == 0 {
                            j
                        } else if j == 0 {
                            i
                        } else {
                            (t[i - 1][j - 1] + usize::from(x[i - 1] != y[j - 1]))
                                .min(t[i - 1][j] + 1)
                                .min(t[i][j - 1] + 1)
                        };
                    }
                }
                let full = t[x.len()][y.len()] as u32;
                for max in 0..4 {
                    assert_eq!(
                        edit_distance_within(&x, &y, max),
                        (full <= max).then_some(full),
                        "{a} {b} {max}"
                    );
                }
            }
        }
    }

    #[test]
    fn expansions_respect_prefix_distance_and_count() {
        let dict: Vec<String> = ["sarch", "search", "searches", "seerch", "serch", "starch", "zebra"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            expand_fuzzy("serch", &dict, 1, 0, 50),
            vec!["serch", "sarch", "search", "seerch"]
        );
        assert_eq!(
            expand_fuzzy("serch", &dict, 1, 2, 50),
            vec!["serch", "search", "seerch"]
        );
        assert_eq!(expand_fuzzy("serch", &dict, 2, 0, 2), vec!["serch", "sarch"]);
        assert_eq!(expand_prefix("sea", &dict, 10), vec!["search", "searches"]);
        assert_eq!(auto_fuzziness(2), 0);
        assert_eq!(auto_fuzziness(4), 1);
        assert_eq!(auto_fuzziness(9), 2);
    }
}
