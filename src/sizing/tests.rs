use super::*;

#[test]
fn sizes_step_one_two_five_and_end_where_everything_fits() {
    assert_eq!(
        one_two_five_series(1, 1_000),
        [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000]
    );
    assert_eq!(one_two_five_series(1, 30), [1, 2, 5, 10, 20, 30]);
    assert_eq!(
        one_two_five_series(3_000, 12_345),
        [2_000, 5_000, 10_000, 12_345]
    );
    assert_eq!(one_two_five_series(1, 1), [1]);
}

#[test]
fn settings_outside_their_bounds_are_refused_with_the_parameter_named() {
    let limits = SettingLimits::for_max_factorial(10_000);
    let refused = |raw: RawSettings<'_>| SizingSettings::parse(raw, limits).unwrap_err().parameter;
    assert_eq!(
        refused(RawSettings {
            skew: Some("NaN"),
            ..RawSettings::default()
        }),
        "skew"
    );
    assert_eq!(
        refused(RawSettings {
            skew: Some("-1"),
            ..RawSettings::default()
        }),
        "skew"
    );
    assert_eq!(
        refused(RawSettings {
            keys: Some("501"),
            ..RawSettings::default()
        }),
        "keys"
    );
    assert_eq!(
        refused(RawSettings {
            trace_length: Some("5"),
            ..RawSettings::default()
        }),
        "requests"
    );
    assert_eq!(
        refused(RawSettings {
            target_percent: Some("100"),
            ..RawSettings::default()
        }),
        "target"
    );
    assert_eq!(
        SizingSettings::parse(
            RawSettings::default(),
            SettingLimits::for_max_factorial(150)
        )
        .map(|settings| settings.keys),
        Ok(150),
        "no more keys than factorial inputs the app accepts"
    );
}

#[test]
fn the_suggested_size_reaches_the_target_and_one_entry_less_does_not() {
    let settings = SizingSettings {
        skew: 1.0,
        keys: 300,
        trace_length: 5_000,
        target_percent: 60,
    };
    let report = run(settings, 100);
    let workload = Workload::generate(300, 1.0, 5_000);
    let entries = report.suggestion.entries.expect("60 % is reachable here") as usize;
    assert!(lru_hits(&workload.trace, entries) * 100 >= 60 * 5_000);
    assert!(lru_hits(&workload.trace, entries - 1) * 100 < 60 * 5_000);
    let bytes = report.suggestion.bytes.expect("reachable by bytes too");
    assert!(lru_hits_by_bytes(&workload.trace, &workload.answer_bytes, bytes) * 100 >= 60 * 5_000);
}

/// How long one experiment takes in this build, at the defaults and at
/// the largest settings:
/// `cargo test --lib sizing::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn timing() {
    for (skew, keys, target) in [
        (1.0, 200, 80),
        (1.0, 500, 80),
        (0.0, 500, 50),
        (2.0, 500, 95),
    ] {
        let settings = SizingSettings {
            skew,
            keys,
            trace_length: MAX_TRACE_LENGTH,
            target_percent: target,
        };
        let started = std::time::Instant::now();
        let report = run(settings, 100);
        let run_time = started.elapsed();
        let started = std::time::Instant::now();
        let prediction = predict(settings, 100);
        println!(
            "skew {skew}, {keys} keys: run {run_time:?} (memory tier {:?} from {:?}), predict {:?} ({:?})",
            report.suggestion.memory_tier_entries,
            report.suggestion.memory_tier_searched_from,
            started.elapsed(),
            prediction.smallest_memory_tier_for_target,
        );
    }
}

#[test]
fn a_target_beyond_the_compulsory_misses_is_unreachable() {
    // 500 keys and 200 requests: most requests are first requests.
    let report = run(
        SizingSettings {
            skew: 0.0,
            keys: 2_000,
            trace_length: 200,
            target_percent: 50,
        },
        100,
    );
    assert!(!report.suggestion.reachable);
    assert!(report.best_possible_hit_ratio < 0.5);
}
