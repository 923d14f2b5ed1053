//! The fuzz target's invariants, run by `cargo test`: the checked-in corpus
//! plus a bounded number of generated inputs. Long runs use cargo-fuzz (see
//! the README's Reliability section).

use std::path::Path;

use proptest::prelude::*;

/// Also run by `canonical_keys` on the documents it generates.
#[path = "../../../fuzz/invariants.rs"]
pub(crate) mod invariants;

#[test]
fn the_checked_in_corpus_holds_every_invariant() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/untrusted_input");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&corpus).expect("the corpus is checked in") {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("corpus file");
        invariants::check(&data);
        replayed += 1;
    }
    assert!(replayed >= 30, "only {replayed} corpus files");
}

/// Bytes that look like JSON more often than random bytes do.
fn json_ish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b",".to_vec()),
        Just(b":".to_vec()),
        Just(b"\"k\"".to_vec()),
        Just(b"\"\\u00".to_vec()),
        Just(b"\\ud800".to_vec()),
        Just(b"1e999".to_vec()),
        Just(b"-0.0".to_vec()),
        Just(b"1.50e-7".to_vec()),
        Just(b"18446744073709551617".to_vec()),
        Just(b"0.30000000000000000000000000000001".to_vec()),
        Just(b"9007199254740993".to_vec()),
        Just(b"\"\\u006b\"".to_vec()),
        Just(b"null".to_vec()),
        Just(b" ".to_vec()),
        any::<u8>().prop_map(|byte| vec![byte]),
    ];
    prop::collection::vec(token, 0..64).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_500, ..ProptestConfig::default() })]

    #[test]
    fn generated_bytes_hold_every_invariant(data in prop::collection::vec(any::<u8>(), 0..256)) {
        invariants::check(&data);
    }

    #[test]
    fn generated_json_like_bytes_hold_every_invariant(data in json_ish()) {
        invariants::check(&data);
    }
}
