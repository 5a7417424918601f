//! Branches, tags, shallow clones and cleanup against a model: random
//! operation sequences (proptest, in memory; fixed sequences on local disk)
//! checked after every step (`branch_race.rs` races them on real threads).
//! The invariant throughout:
//! cleanup removes exactly the versions nothing needs, never a file a
//! live version references, and never a committed append.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;
mod model;

use common::Backend;
use model::{Op, block_on, op, run};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn branches_tags_clones_and_cleanup_match_the_model(ops in proptest::collection::vec(op(), 1..26)) {
        block_on(run(Backend::Memory, &ops));
    }
}

/// A sequence through the cases that matter most: a branch of a branch
/// forked below its parent's fork, tags and clones into branches, clones of
/// clones, compaction on both sides of a fork, stale appends over
/// cleaned-up versions, and deletes refused until nothing depends.
fn walkthrough() -> Vec<Op> {
    use Op::*;
    let append = |line| Append { line, rows: 3 };
    let cleanup = |line| Cleanup {
        line,
        delete_unverified: true,
    };
    vec![
        append(0),
        append(0),
        CreateBranch {
            name: 0,
            from: 0,
            version: 1, // main v2
        },
        append(1),
        append(1),
        // b1 from b0 at version 1 (main's): stored below b0's fork.
        CreateBranch {
            name: 1,
            from: 1,
            version: 0,
        },
        Tag {
            name: 0,
            line: 1,
            version: 3, // b0 v4
        },
        append(0),
        DeleteRows {
            line: 0,
            modulus: 3,
            rest: 1,
        },
        Compact { line: 0 },
        Compact { line: 1 },
        ShallowClone { from: 1, version: 2 }, // b0 v3
        append(3),
        DeleteRows {
            line: 3,
            modulus: 4,
            rest: 0,
        },
        ShallowClone { from: 3, version: 1 }, // clone0 v2
        cleanup(0),
        cleanup(1),
        Compact { line: 3 },
        cleanup(3),
        // Main keeps v1 (b1's fork, through b0) and v2 (b0's fork): an
        // append from v1 would rebase over v2 and then the removed v3.
        AppendFrom {
            line: 0,
            version: 0,
            rows: 2,
        },
        // From b0 v3 (pinned by the clone) over v4 (tagged) and v5.
        AppendFrom {
            line: 1,
            version: 2,
            rows: 2,
        },
        cleanup(1),
        append(4),
        cleanup(4),
        DeleteBranch { name: 0 },
        DeleteBranch { name: 1 },
        DeleteTag { name: 0 },
        // Still pinned by clone0.
        DeleteBranch { name: 0 },
        cleanup(0),
        append(0),
        // The name again, from main v6.
        CreateBranch {
            name: 1,
            from: 0,
            version: 5,
        },
        append(0),
        cleanup(0),
    ]
}

/// The walkthrough in memory.
#[test]
fn walkthrough_matches_the_model_in_memory() {
    block_on(run(Backend::Memory, &walkthrough()));
}

/// The walkthrough and a few seeded random sequences on local disk.
#[test]
fn fixed_sequences_match_the_model_on_local_disk() {
    block_on(run(Backend::Local, &walkthrough()));
    for seed in 0..4u8 {
        let mut runner = TestRunner::new_with_rng(
            ProptestConfig::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
        );
        let ops = proptest::collection::vec(op(), 25)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        block_on(run(Backend::Local, &ops));
    }
}
