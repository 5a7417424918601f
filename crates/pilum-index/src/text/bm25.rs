//! BM25 relevance (Robertson and Zaragoza, 2009) with Lucene's
//! non-negative inverse document frequency.

/// Corpus statistics a score depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CorpusStats {
    /// Documents in the corpus.
    pub num_docs: u64,
    /// Terms in all documents together.
    pub total_terms: u64,
}

impl CorpusStats {
    /// Mean document length in terms (1 for an empty corpus).
    pub fn average_length(&self) -> f32 {
        if self.num_docs == 0 {
            1.0
        } else {
            (self.total_terms as f64 / self.num_docs as f64).max(f64::MIN_POSITIVE) as f32
        }
    }
}

/// BM25 parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25 {
    /// Term frequency saturation (default 1.2).
    pub k1: f32,
    /// Length normalization, 0 (none) to 1 (full) (default 0.75).
    pub b: f32,
}

impl Default for Bm25 {
    fn default() -> Self {
        Self { k1: 1.2, b: 0.75 }
    }
}

impl Bm25 {
    /// Inverse document frequency of a term found in `doc_count` of the
    /// corpus's documents: ln(1 + (N − n + 0.5) / (n + 0.5)), never negative.
    pub fn idf(&self, doc_count: u64, stats: &CorpusStats) -> f32 {
        let n = doc_count.min(stats.num_docs) as f64;
        let total = stats.num_docs as f64;
        (1.0 + (total - n + 0.5) / (n + 0.5)).ln() as f32
    }

    /// The score of a term with inverse document frequency `idf` that
    /// occurs `tf` times in a document of `doc_len` terms.
    pub fn score(&self, idf: f32, tf: u32, doc_len: u32, average_length: f32) -> f32 {
        let tf = tf as f32;
        let norm = self.k1 * (1.0 - self.b + self.b * doc_len as f32 / average_length);
        idf * tf * (self.k1 + 1.0) / (tf + norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_grow_with_frequency_and_shrink_with_length() {
        let bm25 = Bm25::default();
        let stats = CorpusStats {
            num_docs: 1000,
            total_terms: 100_000,
        };
        let idf = bm25.idf(10, &stats);
        assert!((idf - (1.0f64 + 990.5 / 10.5).ln() as f32).abs() < 1e-6);
        assert!(bm25.idf(1000, &stats) > 0.0, "a term in every document still scores");
        let avg = stats.average_length();
        assert!(bm25.score(idf, 2, 100, avg) > bm25.score(idf, 1, 100, avg));
        assert!(bm25.score(idf, 2, 50, avg) > bm25.score(idf, 2, 200, avg));
        // Saturation: never above idf · (k1 + 1).
        assert!(bm25.score(idf, 1_000_000, 1, avg) < idf * 2.2);
    }
}
