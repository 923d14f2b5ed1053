//! `GET /sizing` and `GET /sizing.json`: the cache-sizing experiment of
//! [`crate::sizing`], as a page with two charts and as JSON for curl.
//!
//! The settings come from the query string, are checked by
//! [`SizingSettings::parse`] and refused with a 400 that names the setting;
//! the experiment itself runs on a blocking thread, since it keeps a CPU busy
//! for up to about a tenth of a second.

use rocket::form::FromForm;
use rocket::http::{Header, Status};
use rocket::request::FlashMessage;
use rocket::serde::json::Json;
use rocket::{get, routes, Responder, Route, State};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::lab::Lab;
use crate::sizing::{
    self, CurvePoint, RawSettings, SettingError, SettingLimits, SizingReport, SizingSettings,
};
use crate::view::human_bytes;
use crate::web::errors::{ApiError, Refusal};
use crate::web::guards::BrowserLearner;
use crate::web::render::{render, BaseUrl};

pub fn routes() -> Vec<Route> {
    routes![sizing_page, sizing_json]
}

/// The query string of both routes. Every field is text, so that a value
/// that is not a number reaches [`SizingSettings::parse`] and gets its own
/// message instead of a bare 404 from a failed form guard.
#[derive(Debug, Default, FromForm)]
struct SizingQuery {
    skew: Option<String>,
    keys: Option<String>,
    /// The trace length.
    requests: Option<String>,
    /// The target hit ratio, in percent.
    target: Option<String>,
}

impl SizingQuery {
    /// An empty field (a form sent with a box cleared) counts as left out.
    fn raw(&self) -> RawSettings<'_> {
        RawSettings {
            skew: given(&self.skew),
            keys: given(&self.keys),
            trace_length: given(&self.requests),
            target_percent: given(&self.target),
        }
    }
}

fn given(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|text| !text.trim().is_empty())
}

/// The JSON answer with the same `Cache-Control` as the pages
/// ([`crate::web::page_headers::PAGE_CACHE_CONTROL`]): the numbers for given
/// settings are the same on every request, but another build or
/// `memory_capacity` may change them, so a copy is reused only after asking.
#[derive(Responder)]
struct Revalidated<R> {
    inner: R,
    cache_control: Header<'static>,
}

fn setting_refusal(error: SettingError) -> ApiError {
    ApiError::new(Status::BadRequest, error.message).accepting(error.accepted)
}

fn experiment_failed() -> ApiError {
    ApiError::new(
        Status::InternalServerError,
        "the experiment stopped before it finished",
    )
}

/// Runs the experiment off the async workers.
async fn run(settings: SizingSettings, current_capacity: usize) -> Result<SizingReport, ApiError> {
    rocket::tokio::task::spawn_blocking(move || sizing::run(settings, current_capacity))
        .await
        .map_err(|failure| {
            log::error!("sizing experiment failed: {failure}");
            experiment_failed()
        })
}

/// `GET /sizing.json?skew=1&keys=200&requests=2000&target=80`.
#[get("/sizing.json?<query..>")]
async fn sizing_json(
    query: SizingQuery,
    lab: &State<Lab>,
) -> Result<Revalidated<Json<SizingReport>>, ApiError> {
    let limits = SettingLimits::for_max_factorial(lab.config().max_factorial);
    let settings = SizingSettings::parse(query.raw(), limits).map_err(setting_refusal)?;
    let report = run(settings, lab.config().memory_capacity).await?;
    Ok(Revalidated {
        inner: Json(report),
        cache_control: Header::new(
            "Cache-Control",
            crate::web::page_headers::PAGE_CACHE_CONTROL,
        ),
    })
}

/// The form's boxes, holding what was typed (or the defaults).
#[derive(Serialize)]
struct FormValues {
    skew: String,
    keys: String,
    requests: String,
    target: String,
}

#[derive(Serialize)]
struct SizingPage {
    form: FormValues,
    limits: SettingLimits,
    /// Which box the refusal is about, and why.
    error_parameter: Option<&'static str>,
    error: Option<String>,
    accepted: Option<String>,
    memory_capacity: usize,
    /// Where the browser reached the app, for the curl command.
    base_url: String,
    result: Option<ResultView>,
}

/// The report, put into words and drawn.
#[derive(Serialize)]
struct ResultView {
    report: SizingReport,
    top_key_percent: String,
    best_possible_percent: String,
    current_capacity_percent: String,
    total_answer_bytes: String,
    largest_answer_bytes: String,
    suggested_entries_percent: Option<String>,
    suggested_bytes: Option<String>,
    suggested_bytes_percent: Option<String>,
    /// At how many of the sizes FIFO got fewer hits than LRU, and of how many.
    fifo_behind_lru: usize,
    sizes_compared: usize,
    by_entries: SizingChart,
    by_bytes: SizingChart,
}

#[get("/sizing?<query..>")]
async fn sizing_page(
    query: SizingQuery,
    lab: &State<Lab>,
    base_url: BaseUrl,
    _learner: BrowserLearner,
    flash: Option<FlashMessage<'_>>,
) -> Result<(Status, Template), Refusal> {
    let config = lab.config();
    let limits = SettingLimits::for_max_factorial(config.max_factorial);
    let parsed = SizingSettings::parse(query.raw(), limits);
    let shown = match &parsed {
        Ok(settings) => *settings,
        Err(_) => SizingSettings::parse(RawSettings::default(), limits)
            .expect("the default settings are inside the limits"),
    };
    let typed_or = |typed: &Option<String>, default: String| {
        typed
            .clone()
            .filter(|text| !text.trim().is_empty())
            .unwrap_or(default)
    };
    let form = FormValues {
        skew: typed_or(&query.skew, shown.skew.to_string()),
        keys: typed_or(&query.keys, shown.keys.to_string()),
        requests: typed_or(&query.requests, shown.trace_length.to_string()),
        target: typed_or(&query.target, shown.target_percent.to_string()),
    };
    let mut page = SizingPage {
        form,
        limits,
        error_parameter: None,
        error: None,
        accepted: None,
        memory_capacity: config.memory_capacity,
        base_url: base_url.0,
        result: None,
    };
    let status = match parsed {
        Ok(settings) => {
            let report = run(settings, config.memory_capacity)
                .await
                .map_err(Refusal::Page)?;
            page.result = Some(result_view(report));
            Status::Ok
        }
        Err(refused) => {
            page.error_parameter = Some(refused.parameter);
            page.error = Some(refused.message);
            page.accepted = Some(refused.accepted);
            Status::BadRequest
        }
    };
    Ok((
        status,
        render("sizing", "How big a cache must be", flash, page),
    ))
}

fn percent(ratio: f64) -> String {
    format!("{:.1} %", ratio * 100.0)
}

fn result_view(report: SizingReport) -> ResultView {
    let settings = report.settings;
    let zipf = sizing::Zipf::new(settings.keys, settings.skew);
    let curves = report.by_entries.iter().chain(&report.by_bytes);
    let sizes_compared = curves.clone().count();
    let fifo_behind_lru = curves
        .filter(|point| point.fifo_hits < point.lru_hits)
        .count();
    let suggestion = &report.suggestion;
    ResultView {
        top_key_percent: percent(zipf.expected_share(1)),
        best_possible_percent: percent(report.best_possible_hit_ratio),
        current_capacity_percent: percent(report.current_capacity_hit_ratio),
        total_answer_bytes: human_bytes(report.total_answer_bytes),
        largest_answer_bytes: human_bytes(report.largest_answer_bytes),
        suggested_entries_percent: suggestion.entries_hit_ratio.map(percent),
        suggested_bytes: suggestion.bytes.map(human_bytes),
        suggested_bytes_percent: suggestion.bytes_hit_ratio.map(percent),
        fifo_behind_lru,
        sizes_compared,
        by_entries: SizingChart::draw(&report.by_entries, Unit::Entries),
        by_bytes: SizingChart::draw(&report.by_bytes, Unit::Bytes),
        report,
    }
}

/// What a curve's capacities count.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Entries,
    Bytes,
}

impl Unit {
    fn label(self, capacity: u64) -> String {
        match self {
            Unit::Entries => format!("{capacity} entr{}", if capacity == 1 { "y" } else { "ies" }),
            Unit::Bytes => human_bytes(capacity),
        }
    }

    fn short_label(self, capacity: u64) -> String {
        match self {
            Unit::Entries => capacity.to_string(),
            Unit::Bytes => human_bytes(capacity),
        }
    }
}

/// Reads one policy's hit ratio from a point.
type RatioOf = fn(&CurvePoint) -> f64;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 340.0;
/// Room for the percentages, which a phone draws larger (see style.css).
const LEFT: f64 = 80.0;
const RIGHT: f64 = WIDTH - 40.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = HEIGHT - 50.0;

/// One chart of hit ratio against capacity: capacity on a logarithmic axis
/// (1, 10, 100 entries sit evenly apart, as the curve's steps do), hit ratio
/// from 0 to 100 %, one line per policy.
#[derive(Debug, Serialize)]
pub struct SizingChart {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    pub x_ticks: Vec<AxisTick>,
    pub y_ticks: Vec<AxisTick>,
    pub lines: Vec<PolicyLine>,
    /// The same numbers as a table: one row per capacity.
    pub rows: Vec<TableRow>,
}

#[derive(Debug, Serialize)]
pub struct AxisTick {
    /// Where on its axis, in the chart's units.
    pub at: f64,
    pub label: String,
}

/// One policy's line: its class (`lru`, `fifo` or `belady`, which sets
/// colour, dashes and mark shape) and where its marks go.
#[derive(Debug, Serialize)]
pub struct PolicyLine {
    pub policy: &'static str,
    /// `x,y x,y ...` for the polyline.
    pub points: String,
    pub marks: Vec<Mark>,
}

#[derive(Debug, Serialize)]
pub struct Mark {
    pub x: f64,
    pub y: f64,
    /// The mark in words, for its tooltip.
    pub label: String,
}

#[derive(Debug, Serialize)]
pub struct TableRow {
    pub capacity: String,
    pub lru: String,
    pub fifo: String,
    pub belady: String,
}

impl SizingChart {
    fn draw(curve: &[CurvePoint], unit: Unit) -> Self {
        let smallest = curve.first().map_or(1, |point| point.capacity).max(1) as f64;
        let largest = curve.last().map_or(1, |point| point.capacity).max(1) as f64;
        let decades = (largest.log10() - smallest.log10()).max(f64::EPSILON);
        let x_of = |capacity: u64| {
            if largest <= smallest {
                (LEFT + RIGHT) / 2.0
            } else {
                LEFT + (RIGHT - LEFT) * ((capacity.max(1) as f64).log10() - smallest.log10())
                    / decades
            }
        };
        let y_of = |ratio: f64| BOTTOM - (BOTTOM - TOP) * ratio.clamp(0.0, 1.0);
        let policies: [(&'static str, &'static str, RatioOf); 3] = [
            ("lru", "LRU", |point| point.lru_hit_ratio),
            ("fifo", "FIFO", |point| point.fifo_hit_ratio),
            ("belady", "Bélády", |point| point.belady_hit_ratio),
        ];
        let lines = policies
            .iter()
            .map(|&(policy, name, ratio_of)| {
                let marks: Vec<Mark> = curve
                    .iter()
                    .map(|point| Mark {
                        x: round1(x_of(point.capacity)),
                        y: round1(y_of(ratio_of(point))),
                        label: format!(
                            "{name}, {}: {} of requests were hits",
                            unit.label(point.capacity),
                            percent(ratio_of(point))
                        ),
                    })
                    .collect();
                PolicyLine {
                    policy,
                    points: marks
                        .iter()
                        .map(|mark| format!("{},{}", mark.x, mark.y))
                        .collect::<Vec<_>>()
                        .join(" "),
                    marks,
                }
            })
            .collect();
        // Label the first and last sizes and the powers of ten between:
        // every size would crowd a phone's screen.
        let x_ticks = curve
            .iter()
            .enumerate()
            .filter(|(index, point)| {
                *index == 0 || *index + 1 == curve.len() || is_power_of_ten(point.capacity)
            })
            .filter(|(index, point)| {
                // The last size may sit right beside a power of ten.
                *index + 1 == curve.len()
                    || curve.last().is_none_or(|last| {
                        x_of(last.capacity) - x_of(point.capacity) > (RIGHT - LEFT) / 12.0
                    })
            })
            .map(|(_, point)| AxisTick {
                at: round1(x_of(point.capacity)),
                label: unit.short_label(point.capacity),
            })
            .collect();
        let y_ticks = (0..=4)
            .map(|quarter| AxisTick {
                at: round1(y_of(f64::from(quarter) / 4.0)),
                label: format!("{} %", quarter * 25),
            })
            .collect();
        let rows = curve
            .iter()
            .map(|point| TableRow {
                capacity: unit.label(point.capacity),
                lru: percent(point.lru_hit_ratio),
                fifo: percent(point.fifo_hit_ratio),
                belady: percent(point.belady_hit_ratio),
            })
            .collect();
        Self {
            width: WIDTH,
            height: HEIGHT,
            left: LEFT,
            right: RIGHT,
            top: TOP,
            bottom: BOTTOM,
            x_ticks,
            y_ticks,
            lines,
            rows,
        }
    }
}

fn is_power_of_ten(mut value: u64) -> bool {
    while value >= 10 && value.is_multiple_of(10) {
        value /= 10;
    }
    value == 1
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
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
    fn a_curve_of_one_size_sits_in_the_middle() {
        let chart = SizingChart::draw(&[point(5, 0.5)], Unit::Bytes);
        assert_eq!(chart.lines[0].marks[0].x, (LEFT + RIGHT) / 2.0);
    }
}
