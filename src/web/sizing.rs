//! `GET /sizing` and `GET /sizing.json`: the cache-sizing experiment of
//! [`crate::sizing`], as a page with two charts and as JSON for curl; and
//! `POST /sizing/replay` (in [`replay`]), which checks a size on a live
//! memory tier.
//!
//! The settings come from the query string, are checked by
//! [`SizingSettings::parse`] and refused with a 400 that names the setting;
//! the experiment itself runs on a blocking thread, since it keeps a CPU busy
//! for up to a few tenths of a second in a debug build.

use rocket::fairing::AdHoc;
use rocket::form::FromForm;
use rocket::http::{Header, Status};
use rocket::request::FlashMessage;
use rocket::serde::json::Json;
use rocket::{get, routes, Responder, Route, State};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::lab::Lab;
use crate::sizing::{
    self, CurvePoint, RawSettings, ReplayGate, SettingError, SettingLimits, SizingReport,
    SizingSettings,
};
use crate::view::human_bytes;
use crate::web::chart::ChartFrame;
use crate::web::errors::{ApiError, Refusal};
use crate::web::guards::BrowserLearner;
use crate::web::render::{render, BaseUrl};
use crate::workshop::{sized_from_the_curve, LOWEST_TARGET_PERCENT, MOST_OVER_SMALLEST};

mod replay;

/// Mounts the routes, and manages the gate that lets one replay run at a
/// time in this process.
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("cache sizing", |rocket| async {
        rocket.manage(ReplayGate::default()).mount("/", routes())
    })
}

fn routes() -> Vec<Route> {
    routes![sizing_page, sizing_json, replay::replay]
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
    /// The capacity box of the replay form: what was typed, else the
    /// memory tier's suggestion.
    replay_capacity: String,
    replay: Option<ReplayView>,
    replay_error: Option<String>,
    replay_accepted: Option<String>,
    /// The exercise's bounds, for the page to state.
    exercise_lowest_target: u32,
    exercise_most_over_percent: u64,
}

/// A replay's result, put into words.
#[derive(Serialize)]
struct ReplayView {
    report: replay::ReplayReport,
    live_percent: String,
    memory_tier_percent: String,
    one_entry_percent: String,
    /// Whether the capacity is within the exercise's bound over the
    /// smallest memory tier that reaches the target (`None`: none does).
    sized_from_curve: Option<bool>,
    /// Whether the replay's target is one the exercise accepts.
    target_counts: bool,
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
    suggested_memory_tier_percent: Option<String>,
    current_capacity_memory_tier_percent: String,
    /// The size on the curve where the memory tier falls furthest below
    /// one entry per answer (steps pushing answers out), if it does.
    pollution: Option<Gap>,
    /// And where it rises furthest above it (steps kept as answers in
    /// advance), if it does.
    prefetch: Option<Gap>,
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
    let (status, page) = experiment_page(&query, lab, base_url)
        .await
        .map_err(Refusal::Page)?;
    Ok((status, render_page(flash, page)))
}

fn render_page(flash: Option<FlashMessage<'_>>, page: SizingPage) -> Template {
    render("sizing", "How big a cache must be", flash, page)
}

/// The page after a replay: the experiment for the replay's settings, and
/// the replay's result under it.
async fn replayed_page(
    lab: &Lab,
    base_url: BaseUrl,
    report: replay::ReplayReport,
) -> Result<Template, ApiError> {
    let settings = report.settings;
    let query = SizingQuery {
        skew: Some(settings.skew.to_string()),
        keys: Some(settings.keys.to_string()),
        requests: Some(settings.trace_length.to_string()),
        target: Some(settings.target_percent.to_string()),
    };
    let (_, mut page) = experiment_page(&query, lab, base_url).await?;
    let percent_of = |hits: u64| percent(hits as f64 / report.live.requests.max(1) as f64);
    page.replay_capacity = report.capacity.to_string();
    page.replay = Some(ReplayView {
        live_percent: percent(report.live_hit_ratio),
        memory_tier_percent: percent_of(report.predicted.memory_tier_hits),
        one_entry_percent: percent_of(report.predicted.one_entry_per_answer_hits),
        sized_from_curve: report
            .predicted
            .smallest_memory_tier_for_target
            .map(|smallest| sized_from_the_curve(report.capacity, smallest)),
        target_counts: settings.target_percent >= LOWEST_TARGET_PERCENT,
        report,
    });
    Ok(render_page(None, page))
}

/// The page after a refused replay: the settings as typed, and why.
async fn refused_replay_page(
    lab: &Lab,
    base_url: BaseUrl,
    body: &replay::ReplayBody,
    refused: &SettingError,
) -> Result<Template, ApiError> {
    let query = SizingQuery {
        skew: body.typed("skew"),
        keys: body.typed("keys"),
        requests: body.typed("requests"),
        target: body.typed("target"),
    };
    let (_, mut page) = experiment_page(&query, lab, base_url).await?;
    page.replay_capacity = body.typed("capacity").unwrap_or_default();
    page.replay_error = Some(refused.message.clone());
    page.replay_accepted = Some(refused.accepted.clone());
    Ok(render_page(None, page))
}

/// The experiment for `query`'s settings as a page, with 400 when a
/// setting is refused (the page then says which, and runs nothing).
async fn experiment_page(
    query: &SizingQuery,
    lab: &Lab,
    base_url: BaseUrl,
) -> Result<(Status, SizingPage), ApiError> {
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
        replay_capacity: String::new(),
        replay: None,
        replay_error: None,
        replay_accepted: None,
        exercise_lowest_target: LOWEST_TARGET_PERCENT,
        exercise_most_over_percent: MOST_OVER_SMALLEST.0 * 100 / MOST_OVER_SMALLEST.1 - 100,
    };
    let status = match parsed {
        Ok(settings) => {
            let report = run(settings, config.memory_capacity).await?;
            page.replay_capacity = report
                .suggestion
                .memory_tier_entries
                .unwrap_or(report.current_capacity)
                .to_string();
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
    Ok((status, page))
}

fn percent(ratio: f64) -> String {
    format!("{:.1} %", ratio * 100.0)
}

/// One size where the memory tier and one entry per answer differ.
#[derive(Serialize)]
struct Gap {
    capacity: u64,
    memory_tier_percent: String,
    one_entry_percent: String,
}

/// The point where `memory tier − LRU` (signed by `sign`) is largest, if
/// it is above zero.
fn widest_gap(curve: &[CurvePoint], sign: f64) -> Option<Gap> {
    curve
        .iter()
        .filter_map(|point| {
            let memory_tier = point.memory_tier_hit_ratio?;
            let gap = sign * (memory_tier - point.lru_hit_ratio);
            (gap > 0.0).then_some((gap, point, memory_tier))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, point, memory_tier)| Gap {
            capacity: point.capacity,
            memory_tier_percent: percent(memory_tier),
            one_entry_percent: percent(point.lru_hit_ratio),
        })
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
        suggested_memory_tier_percent: suggestion.memory_tier_hit_ratio.map(percent),
        current_capacity_memory_tier_percent: percent(
            report.current_capacity_memory_tier_hit_ratio,
        ),
        pollution: widest_gap(&report.by_entries, -1.0),
        prefetch: widest_gap(&report.by_entries, 1.0),
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

/// Reads one policy's hit ratio from a point (`None`: not on this curve).
type RatioOf = fn(&CurvePoint) -> Option<f64>;

/// How tall a phone draws the axis labels, in the chart's units (the
/// `.chart .tick` font size in style.css's narrow-screen rules): the chart
/// is scaled down to the screen, so its labels are drawn larger there, and
/// they must not run into each other at that size.
const PHONE_TICK_FONT: f64 = 26.0;
/// A digit or letter of the tick font is at most about this wide, in ems.
const TICK_CHAR_EM: f64 = 0.6;
/// Room left between two labels.
const TICK_GAP: f64 = 10.0;
/// The percentages end this far left of the size axis.
const PERCENT_GAP: f64 = 6.0;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 340.0;
/// Room for the percentages, which a phone draws larger (see style.css):
/// "100 %" is about 80 units wide there.
const LEFT: f64 = 88.0;
const RIGHT: f64 = WIDTH - 40.0;
const TOP: f64 = 16.0;
/// Room below the plot for the sizes and, under them, the axis title: at a
/// phone's font size each line of text is about 30 units tall.
const BOTTOM: f64 = HEIGHT - 60.0;

/// One chart of hit ratio against capacity: capacity on a logarithmic axis
/// (1, 10, 100 entries sit evenly apart, as the curve's steps do), hit ratio
/// from 0 to 100 %, one line per policy.
#[derive(Debug, Serialize)]
pub struct SizingChart {
    #[serde(flatten)]
    pub frame: ChartFrame,
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
    /// Where the label sits against its tick (SVG `text-anchor`): centred
    /// below it, or, at the ends of the size axis, starting or ending
    /// there, so it stays clear of the percentages and inside the chart.
    pub anchor: &'static str,
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
    /// On the curve counted in entries only.
    pub memory_tier: Option<String>,
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
        let policies: [(&'static str, &'static str, RatioOf); 4] = [
            ("lru", "LRU", |point| Some(point.lru_hit_ratio)),
            ("fifo", "FIFO", |point| Some(point.fifo_hit_ratio)),
            ("belady", "Bélády", |point| Some(point.belady_hit_ratio)),
            (
                "memory-tier",
                "The memory tier (keeps every step)",
                |point| point.memory_tier_hit_ratio,
            ),
        ];
        let lines = policies
            .iter()
            .filter(|(_, _, ratio_of)| {
                !curve.is_empty() && curve.iter().all(|p| ratio_of(p).is_some())
            })
            .map(|&(policy, name, ratio_of)| {
                let marks: Vec<Mark> = curve
                    .iter()
                    .map(|point| {
                        let ratio = ratio_of(point).unwrap_or_default();
                        Mark {
                            x: round1(x_of(point.capacity)),
                            y: round1(y_of(ratio)),
                            label: format!(
                                "{name}, {}: {} of requests were hits",
                                unit.label(point.capacity),
                                percent(ratio)
                            ),
                        }
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
        // Label the first and last sizes and the powers of ten between
        // (every size would crowd a phone's screen), leaving out any label
        // that would run into its neighbour at a phone's font size.
        let candidates: Vec<AxisTick> = curve
            .iter()
            .enumerate()
            .filter(|(index, point)| {
                *index == 0 || *index + 1 == curve.len() || is_power_of_ten(point.capacity)
            })
            .map(|(_, point)| AxisTick {
                at: round1(x_of(point.capacity)),
                label: unit.short_label(point.capacity),
                anchor: "middle",
            })
            .collect();
        let x_ticks = without_collisions(candidates);
        let y_ticks = (0..=4)
            .map(|quarter| AxisTick {
                at: round1(y_of(f64::from(quarter) / 4.0)),
                label: format!("{} %", quarter * 25),
                anchor: "end",
            })
            .collect();
        let rows = curve
            .iter()
            .map(|point| TableRow {
                capacity: unit.label(point.capacity),
                lru: percent(point.lru_hit_ratio),
                fifo: percent(point.fifo_hit_ratio),
                belady: percent(point.belady_hit_ratio),
                memory_tier: point.memory_tier_hit_ratio.map(percent),
            })
            .collect();
        Self {
            frame: ChartFrame {
                width: WIDTH,
                height: HEIGHT,
                left: LEFT,
                right: RIGHT,
                top: TOP,
                bottom: BOTTOM,
            },
            x_ticks,
            y_ticks,
            lines,
            rows,
        }
    }
}

/// How wide a tick's label is drawn on a phone, in the chart's units.
fn label_width(tick: &AxisTick) -> f64 {
    tick.label.chars().count() as f64 * PHONE_TICK_FONT * TICK_CHAR_EM
}

/// Where a size label starts and ends, along the size axis.
fn extent(tick: &AxisTick) -> (f64, f64) {
    let width = label_width(tick);
    match tick.anchor {
        "start" => (tick.at, tick.at + width),
        "end" => (tick.at - width, tick.at),
        _ => (tick.at - width / 2.0, tick.at + width / 2.0),
    }
}

/// Whether two size labels, `left` before `right`, would touch.
fn collide(left: &AxisTick, right: &AxisTick) -> bool {
    extent(right).0 - extent(left).1 < TICK_GAP
}

/// `ticks` (left to right) less the ones that would touch a neighbour: the
/// last (where everything fits) always stays, the first stays unless it
/// touches the last, and each one between stays if it clears the one kept
/// before it and the last.
///
/// Centred under its tick, the first label would reach back under the
/// percentages (which end just left of the axis) and the last past the
/// chart's right edge, so those two start and end at their ticks instead
/// when they would.
fn without_collisions(ticks: Vec<AxisTick>) -> Vec<AxisTick> {
    let mut ticks = ticks.into_iter();
    let Some(mut last) = ticks.next_back() else {
        return Vec::new();
    };
    if extent(&last).1 > WIDTH {
        last.anchor = "end";
    }
    let ticks = ticks.enumerate().map(|(index, mut tick)| {
        if index == 0 && extent(&tick).0 < LEFT - PERCENT_GAP + TICK_GAP {
            tick.anchor = "start";
        }
        tick
    });
    let mut kept: Vec<AxisTick> = Vec::new();
    for tick in ticks {
        let clears_previous = kept.last().is_none_or(|previous| !collide(previous, &tick));
        if clears_previous && !collide(&tick, &last) {
            kept.push(tick);
        }
    }
    kept.push(last);
    kept
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
mod tests;
