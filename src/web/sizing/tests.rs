use super::*;

fn point(capacity: u64, lru: f64) -> CurvePoint {
    CurvePoint {
        capacity,
        lru_hits: 0,
        fifo_hits: 0,
        belady_hits: 0,
        lru_hit_ratio: lru,
        fifo_hit_ratio: lru / 2.0,
        belady_hit_ratio: 1.0,
        memory_tier_hits: None,
        memory_tier_hit_ratio: None,
    }
}

#[test]
fn each_tenfold_bigger_cache_is_the_same_step_to_the_right() {
    let curve = [point(1, 0.1), point(10, 0.3), point(100, 0.5)];
    let chart = SizingChart::draw(&curve, Unit::Entries);
    let xs: Vec<f64> = chart.lines[0].marks.iter().map(|mark| mark.x).collect();
    assert_eq!(xs, [LEFT, (LEFT + RIGHT) / 2.0, RIGHT]);
    assert_eq!(chart.lines[2].marks[0].y, TOP, "100 % at the top");
    assert_eq!(
        chart
            .lines
            .iter()
            .map(|line| line.policy)
            .collect::<Vec<_>>(),
        ["lru", "fifo", "belady"]
    );
    assert_eq!(chart.rows[1].lru, "30.0 %");
    assert_eq!(chart.rows[0].capacity, "1 entry");
}

#[test]
fn no_two_size_labels_touch_at_a_phones_font_and_the_last_size_stays() {
    // The bytes chart of the defaults: 100 bytes … 70 KiB, whose first
    // labels ran into each other on a phone.
    let report = sizing::run(SizingSettings::default(), 100);
    for (curve, unit) in [
        (&report.by_bytes, Unit::Bytes),
        (&report.by_entries, Unit::Entries),
    ] {
        let chart = SizingChart::draw(curve, unit);
        let ticks = &chart.x_ticks;
        assert!(ticks.len() >= 2, "{ticks:?}");
        for pair in ticks.windows(2) {
            assert!(!collide(&pair[0], &pair[1]), "{pair:?}");
        }
        let (first_starts, _) = extent(&ticks[0]);
        let (_, last_ends) = extent(&ticks[ticks.len() - 1]);
        assert!(first_starts >= LEFT - PERCENT_GAP, "{ticks:?}");
        assert!(last_ends <= WIDTH, "{ticks:?}");
        let last = curve.last().expect("a curve");
        assert_eq!(
            ticks.last().map(|tick| tick.label.clone()),
            Some(unit.short_label(last.capacity))
        );
    }
}

#[test]
fn labels_that_would_touch_are_thinned_keeping_the_last() {
    let tick = |at: f64, label: &str| AxisTick {
        at,
        label: label.to_owned(),
        anchor: "middle",
    };
    // "100 bytes" is 9 characters, drawn about 140 units wide on a phone.
    let kept = without_collisions(vec![
        tick(80.0, "100 bytes"),
        tick(150.0, "1000 bytes"),
        tick(400.0, "9.8 KiB"),
        tick(650.0, "70 KiB"),
        tick(680.0, "71 KiB"),
    ]);
    let labels: Vec<&str> = kept.iter().map(|tick| tick.label.as_str()).collect();
    assert_eq!(labels, ["100 bytes", "9.8 KiB", "71 KiB"]);
    let anchors: Vec<&str> = kept.iter().map(|tick| tick.anchor).collect();
    assert_eq!(
        anchors,
        ["start", "middle", "end"],
        "clear of the percentages, and inside the chart"
    );
}

#[test]
fn a_curve_of_one_size_sits_in_the_middle() {
    let chart = SizingChart::draw(&[point(5, 0.5)], Unit::Bytes);
    assert_eq!(chart.lines[0].marks[0].x, (LEFT + RIGHT) / 2.0);
}
