//! A hierarchical navigable small-world graph (Malkov and Yashunin, 2016)
//! over the members of one partition, for IVF_HNSW_SQ: a search walks the
//! graph from an entry point and compares the query with a few hundred
//! members instead of all of them.
//!
//! The graph knows members only by position (`0..n`); distances come from
//! the caller (between members while building, to the query while
//! searching), so it serves any code or vector representation. Builds are
//! sequential and seeded, hence deterministic.
//!
//! Links are kept as one list per member, the stored form: for each level
//! from 0 up to the member's own, the neighbour count followed by that
//! many member positions.

use crate::error::{IndexError, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Highest level a member may reach.
const MAX_LEVEL: usize = 15;

/// How a graph is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours per member on upper levels (twice this on level 0).
    pub m: usize,
    /// Candidates considered while linking a new member.
    pub ef_construction: usize,
    /// Seed of the level draws.
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: 20,
            ef_construction: 150,
            seed: 42,
        }
    }
}

/// A built graph: every member's links, level after level.
#[derive(Debug, Clone, PartialEq)]
pub struct HnswGraph {
    /// Member `i`'s links are `links[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    links: Vec<u32>,
    entry: u32,
    top: usize,
}

/// A (distance, member) pair ordered by distance, then member.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scored(f32, u32);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// Members already reached by one beam search.
trait Seen {
    /// Marks `i`; false when it was marked already.
    fn insert(&mut self, i: u32) -> bool;
}

/// A bit per member: cheap to create for one query.
struct Visited(Vec<u64>);

impl Visited {
    fn new(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }
}

impl Seen for Visited {
    fn insert(&mut self, i: u32) -> bool {
        let (word, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        let fresh = self.0[word] & bit == 0;
        self.0[word] |= bit;
        fresh
    }
}

/// A stamp per member, reset in constant time: reused by every search of
/// a build.
struct Stamps {
    marks: Vec<u32>,
    stamp: u32,
}

impl Stamps {
    fn new(n: usize) -> Self {
        Self {
            marks: vec![0; n],
            stamp: 0,
        }
    }

    /// Forgets every mark.
    fn reset(&mut self) -> &mut Self {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.marks.fill(0);
            self.stamp = 1;
        }
        self
    }
}

impl Seen for Stamps {
    fn insert(&mut self, i: u32) -> bool {
        let mark = &mut self.marks[i as usize];
        let fresh = *mark != self.stamp;
        *mark = self.stamp;
        fresh
    }
}

impl HnswGraph {
    /// Builds the graph of `n` members, `distance(a, b)` between members.
    pub fn build(n: usize, params: HnswParams, distance: &dyn Fn(u32, u32) -> f32) -> Result<Self> {
        if params.m < 2 || params.ef_construction == 0 {
            return Err(IndexError::params(format!(
                "HNSW needs m ≥ 2 and ef_construction ≥ 1, got m={} ef_construction={}",
                params.m, params.ef_construction
            )));
        }
        if n > u32::MAX as usize {
            return Err(IndexError::params(format!("a graph of {n} members")));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let scale = 1.0 / (params.m as f64).ln();
        let mut adjacency = Adjacency::new(n, 2 * params.m);
        let (mut entry, mut top) = (0u32, 0usize);
        let mut seen = Stamps::new(n);
        for new in 0..n as u32 {
            let draw: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
            let level = ((-draw.ln() * scale) as usize).min(MAX_LEVEL);
            adjacency.add_member(level);
            if new == 0 {
                top = level;
                continue;
            }
            let to_new = |i: u32| distance(new, i);
            let mut nearest = vec![Scored(to_new(entry), entry)];
            for layer in (level + 1..=top).rev() {
                nearest = search_layer(&adjacency, layer, &nearest, 1, &to_new, seen.reset());
            }
            for layer in (0..=level.min(top)).rev() {
                let found = search_layer(
                    &adjacency,
                    layer,
                    &nearest,
                    params.ef_construction,
                    &to_new,
                    seen.reset(),
                );
                let cap = if layer == 0 { 2 * params.m } else { params.m };
                let chosen = select_neighbours(&found, cap, distance, true);
                for &Scored(_, other) in &chosen {
                    let theirs = adjacency.get(other, layer);
                    if theirs.len() < cap {
                        adjacency.push(other, layer, new);
                        continue;
                    }
                    let mut scored: Vec<Scored> = theirs
                        .iter()
                        .chain(std::iter::once(&new))
                        .map(|&x| Scored(distance(other, x), x))
                        .collect();
                    scored.sort_unstable();
                    let kept: Vec<u32> = select_neighbours(&scored, cap, distance, false)
                        .into_iter()
                        .map(|s| s.1)
                        .collect();
                    adjacency.set(other, layer, &kept);
                }
                let mine: Vec<u32> = chosen.iter().map(|s| s.1).collect();
                adjacency.set(new, layer, &mine);
                nearest = found;
            }
            if level > top {
                (entry, top) = (new, level);
            }
        }
        let mut starts = Vec::with_capacity(n + 1);
        let mut links = Vec::new();
        starts.push(0);
        for i in 0..n as u32 {
            for level in 0..=adjacency.level(i) {
                let neighbours = adjacency.get(i, level);
                links.push(neighbours.len() as u32);
                links.extend_from_slice(neighbours);
            }
            starts.push(links.len() as u32);
        }
        Ok(Self {
            starts,
            links,
            entry,
            top,
        })
    }

    /// A graph from stored links (`starts` has one more value than there
    /// are members); every count, position and level is checked.
    pub fn from_links(starts: Vec<u32>, links: Vec<u32>) -> Result<Self> {
        let corrupt = |what: String| IndexError::Corrupt { what };
        let n = starts.len().saturating_sub(1);
        if starts.first() != Some(&0) || starts.last().copied() != Some(links.len() as u32) {
            return Err(corrupt("graph link offsets do not span the links".into()));
        }
        let (mut entry, mut top) = (0u32, 0usize);
        for i in 0..n {
            let (lo, hi) = (starts[i] as usize, starts[i + 1] as usize);
            if lo > hi {
                return Err(corrupt(format!("member {i}'s links end before they start")));
            }
            let mut at = lo;
            let mut levels = 0;
            while at < hi {
                let count = links[at] as usize;
                let end = at + 1 + count;
                if end > hi || links[at + 1..end].iter().any(|&x| x as usize >= n || x as usize == i) {
                    return Err(corrupt(format!("member {i}'s links on level {levels} are malformed")));
                }
                at = end;
                levels += 1;
            }
            if levels == 0 || levels > MAX_LEVEL + 1 {
                return Err(corrupt(format!("member {i} has {levels} link levels")));
            }
            if levels - 1 > top || i == 0 {
                (entry, top) = (i as u32, levels - 1);
            }
        }
        Ok(Self {
            starts,
            links,
            entry,
            top,
        })
    }

    /// Members.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Whether the graph has no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored form: per member offsets into [`Self::links`].
    pub fn starts(&self) -> &[u32] {
        &self.starts
    }

    /// Every member's links: per level, a count then the neighbours.
    pub fn links(&self) -> &[u32] {
        &self.links
    }

    /// The stored form, by value: [`Self::starts`] and [`Self::links`].
    pub fn into_parts(self) -> (Vec<u32>, Vec<u32>) {
        (self.starts, self.links)
    }

    /// Member `i`'s neighbours on `level` (empty above its own level).
    fn neighbours(&self, i: u32, level: usize) -> &[u32] {
        let (mut at, hi) = (self.starts[i as usize] as usize, self.starts[i as usize + 1] as usize);
        for _ in 0..level {
            if at >= hi {
                return &[];
            }
            at += 1 + self.links[at] as usize;
        }
        if at >= hi {
            return &[];
        }
        let count = self.links[at] as usize;
        &self.links[at + 1..at + 1 + count]
    }

    /// The (about) `ef` members nearest to the query, nearest first, as
    /// `(distance, member)`; `to_query(i)` is member `i`'s distance.
    pub fn search(&self, ef: usize, to_query: &dyn Fn(u32) -> f32) -> Vec<(f32, u32)> {
        if self.is_empty() {
            return Vec::new();
        }
        let n = self.len();
        let mut nearest = vec![Scored(to_query(self.entry), self.entry)];
        let mut visited = Visited::new(n);
        for layer in (1..=self.top).rev() {
            nearest = self.layer(layer, &nearest, 1, to_query, &mut visited);
            visited = Visited::new(n);
        }
        self.layer(0, &nearest, ef.max(1), to_query, &mut visited)
            .into_iter()
            .map(|s| (s.0, s.1))
            .collect()
    }

    fn layer(
        &self,
        level: usize,
        start: &[Scored],
        ef: usize,
        to_query: &dyn Fn(u32) -> f32,
        visited: &mut Visited,
    ) -> Vec<Scored> {
        beam(start, ef, to_query, visited, |i| self.neighbours(i, level))
    }
}

/// The beam search of one level: from `start`, the `ef` nearest members
/// reachable through `neighbours`, nearest first.
fn beam<'a>(
    start: &[Scored],
    ef: usize,
    to_query: &dyn Fn(u32) -> f32,
    visited: &mut impl Seen,
    neighbours: impl Fn(u32) -> &'a [u32],
) -> Vec<Scored> {
    let mut candidates: BinaryHeap<std::cmp::Reverse<Scored>> = BinaryHeap::new();
    let mut best: BinaryHeap<Scored> = BinaryHeap::new();
    for &s in start {
        if visited.insert(s.1) {
            candidates.push(std::cmp::Reverse(s));
            best.push(s);
        }
    }
    while best.len() > ef {
        best.pop();
    }
    while let Some(std::cmp::Reverse(current)) = candidates.pop() {
        if best.len() >= ef && best.peek().is_some_and(|worst| current.0 > worst.0) {
            break;
        }
        for &next in neighbours(current.1) {
            if !visited.insert(next) {
                continue;
            }
            let d = to_query(next);
            if best.len() < ef || best.peek().is_some_and(|worst| d < worst.0) {
                candidates.push(std::cmp::Reverse(Scored(d, next)));
                best.push(Scored(d, next));
                if best.len() > ef {
                    best.pop();
                }
            }
        }
    }
    best.into_sorted_vec()
}

/// The links of a graph under construction: level 0 in one flat array of
/// `cap0` slots per member (one allocation, so building partition after
/// partition does not fragment the heap), upper levels per member (only
/// the few members above level 0 allocate).
struct Adjacency {
    cap0: usize,
    level0: Vec<u32>,
    count0: Vec<u32>,
    /// `upper[i][l - 1]`: member i's neighbours on level l ≥ 1.
    upper: Vec<Vec<Vec<u32>>>,
}

impl Adjacency {
    fn new(n: usize, cap0: usize) -> Self {
        Self {
            cap0,
            level0: vec![0; n * cap0],
            count0: vec![0; n],
            upper: Vec::with_capacity(n),
        }
    }

    /// Adds the next member, whose top level is `level`.
    fn add_member(&mut self, level: usize) {
        self.upper.push(if level == 0 {
            Vec::new()
        } else {
            vec![Vec::new(); level]
        });
    }

    /// Member `i`'s top level.
    fn level(&self, i: u32) -> usize {
        self.upper[i as usize].len()
    }

    /// Member `i`'s neighbours on `level` (empty above its own level).
    fn get(&self, i: u32, level: usize) -> &[u32] {
        let i = i as usize;
        if level == 0 {
            let start = i * self.cap0;
            &self.level0[start..start + self.count0[i] as usize]
        } else {
            self.upper[i].get(level - 1).map_or(&[][..], Vec::as_slice)
        }
    }

    /// Adds `neighbour` to member `i`'s list on `level` (level 0: if a
    /// slot is free).
    fn push(&mut self, i: u32, level: usize, neighbour: u32) {
        let i = i as usize;
        if level == 0 {
            let count = self.count0[i] as usize;
            if count < self.cap0 {
                self.level0[i * self.cap0 + count] = neighbour;
                self.count0[i] += 1;
            }
        } else if let Some(list) = self.upper[i].get_mut(level - 1) {
            list.push(neighbour);
        }
    }

    /// Replaces member `i`'s neighbours on `level` (at most `cap0` on level 0).
    fn set(&mut self, i: u32, level: usize, neighbours: &[u32]) {
        let i = i as usize;
        if level == 0 {
            let kept = neighbours.len().min(self.cap0);
            let start = i * self.cap0;
            self.level0[start..start + kept].copy_from_slice(&neighbours[..kept]);
            self.count0[i] = kept as u32;
        } else if let Some(list) = self.upper[i].get_mut(level - 1) {
            list.clear();
            list.extend_from_slice(neighbours);
        }
    }
}

/// The beam search of a level of a graph under construction.
fn search_layer(
    adjacency: &Adjacency,
    level: usize,
    start: &[Scored],
    ef: usize,
    to_query: &dyn Fn(u32) -> f32,
    visited: &mut Stamps,
) -> Vec<Scored> {
    beam(start, ef, to_query, visited, |i| adjacency.get(i, level))
}

/// Up to `cap` of `candidates` (nearest first) that are nearer to the new
/// member than to any neighbour already chosen (the heuristic that keeps
/// links spread over directions), topped up with the nearest others when
/// `top_up` (a new member's own links; a full list being pruned is not
/// topped up, or it would stay full and be pruned again on every link).
fn select_neighbours(
    candidates: &[Scored],
    cap: usize,
    distance: &dyn Fn(u32, u32) -> f32,
    top_up: bool,
) -> Vec<Scored> {
    let mut chosen: Vec<Scored> = Vec::with_capacity(cap);
    let mut skipped = Vec::new();
    for &c in candidates {
        if chosen.len() >= cap {
            break;
        }
        if chosen.iter().all(|r| distance(c.1, r.1) > c.0) {
            chosen.push(c);
        } else {
            skipped.push(c);
        }
    }
    for c in skipped {
        if !top_up || chosen.len() >= cap {
            break;
        }
        chosen.push(c);
    }
    chosen
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::kernels::l2_squared;
    use crate::kmeans::tests::blobs;

    fn points() -> (Vec<f32>, usize) {
        let centers: Vec<Vec<f32>> = (0..12)
            .map(|c| (0..8).map(|d| (((c * 7 + d * 3) % 11) as f32 - 5.0) / 2.0).collect())
            .collect();
        (blobs(&centers, 250, 0.8, 4), 8)
    }

    #[test]
    fn searches_find_the_exact_neighbours_nearly_always() {
        let (data, dim) = points();
        let n = data.len() / dim;
        let row = |i: u32| &data[i as usize * dim..(i as usize + 1) * dim];
        let graph = HnswGraph::build(n, HnswParams::default(), &|a, b| l2_squared(row(a), row(b))).unwrap();
        let (mut hits, mut total) = (0, 0);
        for q in (0..n as u32).step_by(37) {
            let query: Vec<f32> = row(q).iter().map(|x| x + 0.05).collect();
            let got: Vec<u32> = graph
                .search(64, &|i| l2_squared(&query, row(i)))
                .into_iter()
                .take(10)
                .map(|(_, i)| i)
                .collect();
            let mut exact: Vec<(f32, u32)> = (0..n as u32).map(|i| (l2_squared(&query, row(i)), i)).collect();
            exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            hits += exact[..10].iter().filter(|e| got.contains(&e.1)).count();
            total += 10;
        }
        let recall = hits as f32 / total as f32;
        assert!(recall >= 0.97, "recall@10 {recall}");
    }

    #[test]
    fn links_round_trip_and_damage_is_refused() {
        let (data, dim) = points();
        let n = 300;
        let row = |i: u32| &data[i as usize * dim..(i as usize + 1) * dim];
        let params = HnswParams {
            m: 6,
            ef_construction: 40,
            seed: 3,
        };
        let graph = HnswGraph::build(n, params, &|a, b| l2_squared(row(a), row(b))).unwrap();
        let again = HnswGraph::build(n, params, &|a, b| l2_squared(row(a), row(b))).unwrap();
        assert_eq!(graph, again, "seeded builds are deterministic");
        let stored = HnswGraph::from_links(graph.starts().to_vec(), graph.links().to_vec()).unwrap();
        assert_eq!(stored, graph);
        assert!(graph.neighbours(0, 0).len() <= 2 * params.m);
        let mut links = graph.links().to_vec();
        links[1] = n as u32;
        assert!(HnswGraph::from_links(graph.starts().to_vec(), links).is_err());
        let mut links = graph.links().to_vec();
        links[0] = 1_000;
        assert!(HnswGraph::from_links(graph.starts().to_vec(), links).is_err());
        assert!(HnswGraph::from_links(vec![0, 5], vec![1, 2]).is_err());
        assert!(HnswGraph::build(10, HnswParams { m: 1, ..params }, &|_, _| 0.0).is_err());
        let empty = HnswGraph::build(0, params, &|_, _| 0.0).unwrap();
        assert!(empty.search(10, &|_| 0.0).is_empty());
    }
}
