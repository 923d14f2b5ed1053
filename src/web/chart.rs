//! Geometry for the timing chart, drawn by the dashboard template as inline
//! SVG: no JavaScript needed to see it.
//!
//! The vertical axis is logarithmic. A hit takes microseconds and a miss
//! hundreds of milliseconds, five orders of magnitude apart: on a linear
//! axis every hit would sit on the floor, indistinguishable from the others.

use serde::Serialize;

use crate::history::{Outcome, RequestRecord, Sent, Tier};

/// The axis runs from 1 µs (10^0) to 10 s (10^7).
const DECADES: f64 = 7.0;
const TICK_LABELS: [&str; 8] = [
    "1 µs", "10 µs", "0.1 ms", "1 ms", "10 ms", "100 ms", "1 s", "10 s",
];

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 320.0;
/// Room for the axis labels, which a phone draws larger (see style.css).
const LEFT: f64 = 110.0;
const RIGHT: f64 = WIDTH - 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = HEIGHT - 40.0;

/// Where a chart's plot sits in its SVG: the drawing's size, and the
/// plot's edges inside it (the rest is room for the axes' labels). Shared
/// by every chart the pages draw; the templates read the fields by name.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ChartFrame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

#[derive(Debug, Serialize)]
pub struct TimingChart {
    #[serde(flatten)]
    pub frame: ChartFrame,
    pub ticks: Vec<Tick>,
    pub points: Vec<ChartPoint>,
    /// How many points of each kind, for the legend.
    pub counts: KindCounts,
}

/// Points per kind. Each kind has its own colour and shape, so the chart
/// reads without hovering (phones cannot) and without colour vision.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct KindCounts {
    pub memory_hits: usize,
    pub disk_hits: usize,
    /// Answers read from the shared tier (Redis) after the nearer tier missed.
    pub redis_hits: usize,
    pub misses: usize,
    pub waited: usize,
}

#[derive(Debug, Serialize)]
pub struct Tick {
    pub y: f64,
    pub label: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ChartPoint {
    pub x: f64,
    pub y: f64,
    /// `memory-hit`, `disk-hit`, `redis-hit`, `miss` or `waited`: the
    /// mark's class.
    pub kind: &'static str,
    /// What the mark stands for, in words: its tooltip, and its line in
    /// the list under the chart for those who cannot hover.
    pub label: String,
}

impl TimingChart {
    /// Places `records` (oldest first) left to right.
    pub fn from_records(records: &[RequestRecord]) -> Self {
        let step = if records.len() > 1 {
            (RIGHT - LEFT) / (records.len() - 1) as f64
        } else {
            0.0
        };
        let points = records
            .iter()
            .enumerate()
            .map(|(index, record)| ChartPoint {
                x: round1(if records.len() == 1 {
                    (LEFT + RIGHT) / 2.0
                } else {
                    LEFT + step * index as f64
                }),
                y: round1(y_for_micros(record.elapsed_us)),
                kind: kind_of(record),
                label: format!(
                    "{} {} {}: {} in the cache{}",
                    match record.tier {
                        Tier::Memory => "memory",
                        Tier::Disk => "disk",
                        Tier::Redis => "shared tier (Redis)",
                    },
                    match record.outcome {
                        Outcome::Hit => "hit",
                        Outcome::Miss => "miss",
                        Outcome::Waited => "miss, waited for another request",
                    },
                    record.subject,
                    crate::view::server_ms(std::time::Duration::from_micros(record.elapsed_us)),
                    match record.sent {
                        Sent::Full => "",
                        Sent::NotModified => ", sent as 304 Not Modified (no body)",
                    }
                ),
            })
            .collect();
        let ticks = TICK_LABELS
            .iter()
            .enumerate()
            .map(|(decade, label)| Tick {
                y: round1(y_for_log10(decade as f64)),
                label,
            })
            .collect();
        let mut counts = KindCounts::default();
        for record in records {
            match kind_of(record) {
                "memory-hit" => counts.memory_hits += 1,
                "disk-hit" => counts.disk_hits += 1,
                "redis-hit" => counts.redis_hits += 1,
                "waited" => counts.waited += 1,
                _ => counts.misses += 1,
            }
        }
        Self {
            frame: ChartFrame {
                width: WIDTH,
                height: HEIGHT,
                left: LEFT,
                right: RIGHT,
                top: TOP,
                bottom: BOTTOM,
            },
            ticks,
            points,
            counts,
        }
    }
}

fn y_for_micros(micros: u64) -> f64 {
    // Below 1 µs there is nothing to see; above 10 s the point sits on the top edge.
    y_for_log10((micros.max(1) as f64).log10().min(DECADES))
}

fn y_for_log10(log10_micros: f64) -> f64 {
    BOTTOM - (BOTTOM - TOP) * (log10_micros / DECADES)
}

fn kind_of(record: &RequestRecord) -> &'static str {
    match (record.outcome, record.tier) {
        (Outcome::Hit, Tier::Memory) => "memory-hit",
        (Outcome::Hit, Tier::Disk) => "disk-hit",
        (Outcome::Hit, Tier::Redis) => "redis-hit",
        (Outcome::Miss, _) => "miss",
        (Outcome::Waited, _) => "waited",
    }
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Subject;

    fn record(elapsed_us: u64, hit: bool) -> RequestRecord {
        RequestRecord {
            tier: Tier::Memory,
            outcome: if hit { Outcome::Hit } else { Outcome::Miss },
            elapsed_us,
            subject: Subject::Factorial(20),
            sent: Sent::Full,
        }
    }

    #[test]
    fn each_tenfold_slower_request_sits_one_band_higher() {
        let chart =
            TimingChart::from_records(&[record(10, true), record(100, true), record(1000, false)]);
        let ys: Vec<f64> = chart.points.iter().map(|point| point.y).collect();
        let band = (BOTTOM - TOP) / DECADES;
        assert!((ys[0] - ys[1] - band).abs() < 0.2, "{ys:?}");
        assert!((ys[1] - ys[2] - band).abs() < 0.2, "{ys:?}");
        assert_eq!((chart.counts.memory_hits, chart.counts.misses), (2, 1));
    }

    #[test]
    fn each_kind_of_answer_is_its_own_mark() {
        let records = [
            record(5, true),
            RequestRecord {
                tier: Tier::Disk,
                ..record(40, true)
            },
            record(200_000, false),
            RequestRecord {
                outcome: Outcome::Waited,
                ..record(190_000, false)
            },
        ];
        let chart = TimingChart::from_records(&records);
        let kinds: Vec<&str> = chart.points.iter().map(|point| point.kind).collect();
        assert_eq!(kinds, ["memory-hit", "disk-hit", "miss", "waited"]);
        assert_eq!(
            chart.counts,
            KindCounts {
                memory_hits: 1,
                disk_hits: 1,
                redis_hits: 0,
                misses: 1,
                waited: 1
            }
        );
    }

    #[test]
    fn extremes_stay_inside_the_plot() {
        let chart = TimingChart::from_records(&[record(0, true), record(u64::MAX, false)]);
        assert_eq!(chart.points[0].y, BOTTOM);
        assert_eq!(chart.points[1].y, TOP);
        assert_eq!(chart.points[0].x, LEFT);
        assert_eq!(chart.points[1].x, RIGHT);
    }
}
