//! Turning text into index terms: a base tokenizer, then filters (lower
//! case, ASCII folding, maximum length, stop words, stemming), configured
//! per index. Words are maximal runs of Unicode letters and digits (as
//! tantivy's and so Lance's simple tokenizer split, so `get_content` and
//! `San_Marino` give two words each); runs of Chinese, Japanese or Korean
//! script, which have no spaces between words, become overlapping
//! character bigrams (as Lucene's CJK analyzer does), so a query term
//! matches inside a sentence without a dictionary. Stemmers are Snowball's (through
//! `rust-stemmers`) and stop word lists NLTK's (through `stop-words`).

use super::fold::fold_to_ascii;
use super::language::Language;
use crate::error::{IndexError, Result};
use rust_stemmers::Stemmer;

/// How text is first split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaseTokenizer {
    /// Maximal runs of Unicode letters and digits (anything else splits),
    /// with CJK runs as character bigrams.
    Simple,
    /// Runs of non-whitespace characters.
    Whitespace,
    /// The whole text as one term.
    Raw,
    /// Character n-grams of every length from `min` to `max` (substring search).
    NGram {
        /// Shortest gram, in characters.
        min: usize,
        /// Longest gram, in characters.
        max: usize,
    },
}

/// An analyzer's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzerConfig {
    /// How text is first split.
    pub base: BaseTokenizer,
    /// Lower-case every term.
    pub lower_case: bool,
    /// Replace accented Latin letters by their ASCII base (`é` → `e`).
    pub ascii_folding: bool,
    /// Terms longer than this many bytes are dropped (0: no limit).
    pub max_token_length: usize,
    /// Drop this language's stop words (checked before stemming).
    pub stop_words: Option<Language>,
    /// Stem terms with this language's Snowball stemmer.
    pub stem: Option<Language>,
}

impl Default for AnalyzerConfig {
    /// Unicode words, lower-cased and folded, at most 40 bytes, English
    /// stop words removed and English stemming (what a search over English
    /// prose wants).
    fn default() -> Self {
        Self {
            base: BaseTokenizer::Simple,
            lower_case: true,
            ascii_folding: true,
            max_token_length: 40,
            stop_words: Some(Language::English),
            stem: Some(Language::English),
        }
    }
}

/// One term of a text and its position (0, 1, 2, ... over the terms the
/// base tokenizer produced, so positions keep the gaps stop words leave).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The term.
    pub text: String,
    /// Its position.
    pub position: u32,
}

/// Filtered terms of raw pieces already seen, for one thread's
/// [`Analyzer::tokens_cached`]; emptied whenever it reaches its capacity.
#[derive(Debug)]
pub struct TermCache {
    terms: foldhash::HashMap<Box<str>, Option<Box<str>>>,
    capacity: usize,
}

impl TermCache {
    /// A cache of at most `capacity` pieces.
    pub fn new(capacity: usize) -> Self {
        Self {
            terms: foldhash::HashMap::default(),
            capacity: capacity.max(1),
        }
    }
}

/// A configured analyzer; cheap to share between threads.
pub struct Analyzer {
    config: AnalyzerConfig,
    stemmer: Option<Stemmer>,
    stop: foldhash::HashSet<String>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer").field("config", &self.config).finish()
    }
}

impl Analyzer {
    /// An analyzer with `config`; fails on n-gram bounds out of order or zero.
    pub fn new(config: AnalyzerConfig) -> Result<Self> {
        if let BaseTokenizer::NGram { min, max } = config.base
            && (min == 0 || max < min)
        {
            return Err(IndexError::params(format!(
                "n-gram lengths must satisfy 1 ≤ min ≤ max, got min={min} max={max}"
            )));
        }
        let stop = match config.stop_words {
            Some(language) => stop_words::lookup(language.code())
                .ok_or_else(|| IndexError::params(format!("no stop words for {}", language.name())))?
                .iter()
                .map(|w| w.to_string())
                .collect(),
            None => foldhash::HashSet::default(),
        };
        Ok(Self {
            stemmer: config.stem.map(|l| Stemmer::create(l.algorithm())),
            stop,
            config,
        })
    }

    /// The settings.
    pub fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    /// The terms of `text`, in order, with their positions.
    pub fn tokens(&self, text: &str) -> Vec<Token> {
        let mut out = Vec::new();
        let mut position = 0u32;
        self.pieces(text, &mut |raw: &str| {
            if let Some(term) = self.filter(raw) {
                out.push(Token { text: term, position });
            }
            position = position.saturating_add(1);
        });
        out
    }

    /// The base tokenizer's pieces of `text`, in order, before the filters
    /// (each advances the position by one, kept or not).
    pub fn for_each_piece(&self, text: &str, emit: &mut dyn FnMut(&str)) {
        self.pieces(text, emit)
    }

    /// One piece through the filters; `None` when they drop it.
    pub fn filter_piece(&self, raw: &str) -> Option<String> {
        self.filter(raw)
    }

    /// The base tokenizer's pieces of `text`, in order (before filters).
    fn pieces(&self, text: &str, emit: &mut dyn FnMut(&str)) {
        match self.config.base {
            BaseTokenizer::Simple => {
                // Maximal runs of letters and digits; within one, a stretch
                // of CJK script becomes bigrams.
                let mut word: Option<usize> = None;
                let mut cjk: Option<bool> = None;
                let flush = |from: usize, to: usize, is_cjk: bool, emit: &mut dyn FnMut(&str)| {
                    if is_cjk {
                        cjk_pieces(&text[from..to]).iter().for_each(|g| emit(g));
                    } else {
                        emit(&text[from..to]);
                    }
                };
                for (i, c) in text.char_indices() {
                    if !c.is_alphanumeric() {
                        if let (Some(from), Some(kind)) = (word.take(), cjk.take()) {
                            flush(from, i, kind, &mut *emit);
                        }
                        continue;
                    }
                    let kind = is_cjk(c);
                    match (word, cjk) {
                        (Some(from), Some(previous)) if previous != kind => {
                            flush(from, i, previous, &mut *emit);
                            word = Some(i);
                        }
                        (None, _) => word = Some(i),
                        _ => {}
                    }
                    cjk = Some(kind);
                }
                if let (Some(from), Some(kind)) = (word, cjk) {
                    flush(from, text.len(), kind, &mut *emit);
                }
            }
            BaseTokenizer::Whitespace => text.split_whitespace().for_each(emit),
            BaseTokenizer::Raw => emit(text),
            BaseTokenizer::NGram { min, max } => {
                let chars: Vec<(usize, char)> = text.char_indices().collect();
                for start in 0..chars.len() {
                    for len in min..=max {
                        let Some(&(from, _)) = chars.get(start) else { break };
                        if start + len > chars.len() {
                            break;
                        }
                        let to = chars.get(start + len).map_or(text.len(), |&(i, _)| i);
                        emit(&text[from..to]);
                    }
                }
            }
        }
    }

    /// The terms of `text` without positions.
    pub fn terms(&self, text: &str) -> Vec<String> {
        self.tokens(text).into_iter().map(|t| t.text).collect()
    }

    /// Tokens of `text` as [`Self::tokens`] gives them, with each distinct
    /// piece filtered once per `cache` (stemming is most of the cost of
    /// analysis, and words repeat).
    pub fn tokens_cached(&self, text: &str, cache: &mut TermCache) -> Vec<Token> {
        let mut out = Vec::new();
        let mut position = 0u32;
        self.pieces(text, &mut |raw: &str| {
            let term = match cache.terms.get(raw) {
                Some(term) => term.clone(),
                None => {
                    if cache.terms.len() >= cache.capacity {
                        cache.terms.clear();
                    }
                    let term: Option<Box<str>> = self.filter(raw).map(String::into_boxed_str);
                    cache.terms.insert(raw.into(), term.clone());
                    term
                }
            };
            if let Some(term) = term {
                out.push(Token {
                    text: term.into_string(),
                    position,
                });
            }
            position = position.saturating_add(1);
        });
        out
    }

    /// One raw piece through the filters; `None` when it is dropped.
    fn filter(&self, raw: &str) -> Option<String> {
        let mut term = if self.config.lower_case {
            raw.to_lowercase()
        } else {
            raw.to_string()
        };
        if self.config.ascii_folding {
            term = fold_to_ascii(&term);
        }
        if term.is_empty() || (self.config.max_token_length > 0 && term.len() > self.config.max_token_length) {
            return None;
        }
        if self.stop.contains(&term) {
            return None;
        }
        if let Some(stemmer) = &self.stemmer {
            term = stemmer.stem(&term).into_owned();
        }
        Some(term)
    }
}

/// Whether `c` is written without spaces between words (Han, Hiragana,
/// Katakana, Hangul syllables).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width Katakana
        | 0x20000..=0x2FA1F) // CJK extensions B–F, supplement
}

/// A word holding CJK characters as overlapping bigrams of each CJK run
/// (a lone CJK character stays a unigram); other runs stay whole.
fn cjk_pieces(word: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let cjk = is_cjk(chars[i]);
        let start = i;
        while i < chars.len() && is_cjk(chars[i]) == cjk {
            i += 1;
        }
        let run = &chars[start..i];
        if !cjk {
            pieces.push(run.iter().collect());
        } else if run.len() == 1 {
            pieces.push(run[0].to_string());
        } else {
            pieces.extend(run.windows(2).map(|w| w.iter().collect::<String>()));
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn plain() -> AnalyzerConfig {
        AnalyzerConfig {
            stop_words: None,
            stem: None,
            ..AnalyzerConfig::default()
        }
    }

    #[test]
    fn english_prose_is_lowered_folded_stopped_and_stemmed() {
        let analyzer = Analyzer::new(AnalyzerConfig::default()).unwrap();
        let tokens = analyzer.tokens("The Cafés were RUNNING, and the runner ran!");
        let terms: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(terms, ["cafe", "run", "runner", "ran"]);
        // Positions keep the gaps of dropped stop words ("the", "were", "and", "the").
        let positions: Vec<u32> = tokens.iter().map(|t| t.position).collect();
        assert_eq!(positions, [1, 3, 6, 7]);
    }

    #[test]
    fn cached_analysis_gives_the_same_tokens() {
        let analyzer = Analyzer::new(AnalyzerConfig::default()).unwrap();
        let texts = [
            "Running runners ran; the café's CAFÉ",
            "東京は日本の首都です and running again",
            "x86_64 v2.0 — state-of-the-art, running",
        ];
        for capacity in [1, 3, 1000] {
            let mut cache = TermCache::new(capacity);
            for _ in 0..2 {
                for text in texts {
                    assert_eq!(
                        analyzer.tokens_cached(text, &mut cache),
                        analyzer.tokens(text),
                        "{capacity}"
                    );
                }
            }
        }
    }

    #[test]
    fn base_tokenizers_split_as_documented() {
        let words = Analyzer::new(plain()).unwrap();
        assert_eq!(
            words.terms("state-of-the-art x86_64 v2.0 Europe/San_Marino"),
            [
                "state", "of", "the", "art", "x86", "64", "v2", "0", "europe", "san", "marino"
            ]
        );
        let spaces = Analyzer::new(AnalyzerConfig {
            base: BaseTokenizer::Whitespace,
            ..plain()
        })
        .unwrap();
        assert_eq!(spaces.terms("a-b  C.d"), ["a-b", "c.d"]);
        let raw = Analyzer::new(AnalyzerConfig {
            base: BaseTokenizer::Raw,
            lower_case: false,
            ..plain()
        })
        .unwrap();
        assert_eq!(raw.terms("Keep Me Whole"), ["Keep Me Whole"]);
        let grams = Analyzer::new(AnalyzerConfig {
            base: BaseTokenizer::NGram { min: 2, max: 3 },
            ..plain()
        })
        .unwrap();
        assert_eq!(grams.terms("abcd"), ["ab", "abc", "bc", "bcd", "cd"]);
        assert_eq!(grams.terms("éa"), ["ea"]);
        assert!(
            Analyzer::new(AnalyzerConfig {
                base: BaseTokenizer::NGram { min: 3, max: 2 },
                ..plain()
            })
            .is_err()
        );
    }

    #[test]
    fn chinese_and_japanese_become_bigrams_not_sentences() {
        let analyzer = Analyzer::new(plain()).unwrap();
        assert_eq!(
            analyzer.terms("我爱北京天安门"),
            ["我爱", "爱北", "北京", "京天", "天安", "安门"]
        );
        // Japanese: kanji and kana runs alike; Latin words inside stay whole.
        let terms = analyzer.terms("東京タワーはLinux");
        assert!(terms.contains(&"東京".to_string()), "{terms:?}");
        assert!(terms.contains(&"タワ".to_string()), "{terms:?}");
        assert!(terms.contains(&"linux".to_string()), "{terms:?}");
        assert!(terms.iter().all(|t| t.chars().count() <= 5), "{terms:?}");
    }

    #[test]
    fn long_terms_are_dropped_and_languages_parse() {
        let analyzer = Analyzer::new(AnalyzerConfig {
            max_token_length: 5,
            ..plain()
        })
        .unwrap();
        assert_eq!(analyzer.terms("short enormously tiny"), ["short", "tiny"]);
        assert_eq!(Language::parse("FR").unwrap(), Language::French);
        assert_eq!(Language::parse("german").unwrap(), Language::German);
        assert!(Language::parse("klingon").is_err());
        let french = Analyzer::new(AnalyzerConfig {
            stop_words: Some(Language::French),
            stem: Some(Language::French),
            ..AnalyzerConfig::default()
        })
        .unwrap();
        assert_eq!(french.terms("les chanteuses chantaient"), ["chanteux", "chant"]);
    }
}
