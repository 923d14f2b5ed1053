//! Geometry for the timing chart, drawn by the dashboard template as inline
//! SVG: no JavaScript needed to see it.
//!
//! The vertical axis is logarithmic. A hit takes microseconds and a miss
//! hundreds of milliseconds, five orders of magnitude apart: on a linear
//! axis every hit would sit on the floor, indistinguishable from the others.

use serde::Serialize;

use crate::history::{RequestRecord, Tier};

/// The axis runs from 1 µs (10^0) to 10 s (10^7).
const DECADES: f64 = 7.0;
const TICK_LABELS: [&str; 8] = [
    "1 µs", "10 µs", "0.1 ms", "1 ms", "10 ms", "100 ms", "1 s", "10 s",
];

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = WIDTH - 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = HEIGHT - 40.0;

#[derive(Debug, Serialize)]
pub struct TimingChart {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    pub ticks: Vec<Tick>,
    pub points: Vec<ChartPoint>,
    pub hits: usize,
    pub misses: usize,
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
    pub hit: bool,
    /// Shown as the point's tooltip.
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
                hit: record.hit,
                label: format!(
                    "{} {} {}: {}",
                    match record.tier {
                        Tier::Memory => "memory",
                        Tier::Disk => "disk",
                    },
                    if record.hit { "hit" } else { "miss" },
                    record.subject,
                    crate::view::server_ms(std::time::Duration::from_micros(record.elapsed_us))
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
        let hits = records.iter().filter(|record| record.hit).count();
        Self {
            width: WIDTH,
            height: HEIGHT,
            left: LEFT,
            right: RIGHT,
            top: TOP,
            bottom: BOTTOM,
            ticks,
            points,
            hits,
            misses: records.len() - hits,
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
            hit,
            elapsed_us,
            subject: Subject::Factorial(20),
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
        assert_eq!((chart.hits, chart.misses), (2, 1));
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
