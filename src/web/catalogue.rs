//! The catalogue's routes: an item read through the cache (with the
//! headers that say hit, miss or stale, and what it cost), the truth from
//! the source, price changes, the strategy, the market, a clear, and the
//! page that lays the cached prices beside the true ones.
//!
//! Changes take a JSON body from curl or a form from the page, through the
//! same route: a browser's form is answered with a redirect back to the
//! page, anyone else with JSON.
//!
//! Every route works on the catalogue of the learner who sent the request
//! (the [`Learner`] guard: `X-Learner`, `?learner=` or the browser's
//! cookie), or on the open catalogue when the request names nobody.

use rocket::http::Status;
use rocket::request::FlashMessage;
use rocket::response::{Flash, Redirect};
use rocket::serde::json::{json, Json, Value};
use rocket::{get, post, put, routes, uri, Route, State};
use rocket_dyn_templates::Template;

use crate::catalogue::{CacheEffect, Catalogue, ItemId, Strategy};
use crate::lab::Lab;
use crate::web::errors::{ApiError, Refusal};
use crate::web::guards::{BrowserLearner, Learner, SameOriginChange, WantsHtml};
use crate::web::page_headers::LEARNER_PAGE_CACHE_CONTROL;
use crate::web::render::{render, BaseUrl};
use crate::web::request_start::RequestStarted;
use crate::web::NotStored;
use crate::workshop::LearnerName;

mod answer;
mod body;
mod page;

use answer::ItemAnswer;
use body::ChangeBody;

pub fn routes() -> Vec<Route> {
    routes![
        catalogue_page,
        read_item,
        read_truth,
        change_price,
        change_price_by_form,
        change_strategy,
        change_strategy_by_form,
        switch_market,
        clear_cache
    ]
}

/// A change's answer: JSON for curl, back to the page for a browser's form.
#[derive(rocket::Responder)]
pub enum Changed {
    Json(NotStored<Json<Value>>),
    /// Boxed: a flash and a redirect are several times the JSON's size.
    Page(Box<Flash<Redirect>>),
}

impl Changed {
    fn to(wants_html: bool, message: String, json: Value) -> Self {
        if wants_html {
            Changed::Page(Box::new(Flash::success(
                Redirect::to(uri!(catalogue_page)),
                message,
            )))
        } else {
            Changed::Json(NotStored::new(Json(json)))
        }
    }
}

/// The catalogue page, marked `private`: it shows one learner's own
/// catalogue and their key in its commands, which no shared cache may
/// keep for another (RFC 9111 §5.2.2.7).
#[derive(rocket::Responder)]
pub struct LearnerPage {
    inner: Template,
    cache_control: rocket::http::Header<'static>,
}

/// `GET /catalogue`: every item's cached and true price side by side, in
/// the browser's learner's own catalogue. A browser's first visit (which
/// may never come back: a link preview, a crawler) sees a catalogue fresh
/// from the seed, which is what its learner's will be, without taking a
/// place among the learners' catalogues.
#[get("/catalogue")]
fn catalogue_page(
    lab: &State<Lab>,
    learner: BrowserLearner,
    base_url: BaseUrl,
    flash: Option<FlashMessage<'_>>,
) -> LearnerPage {
    let catalogue = match learner.recorded() {
        Some(name) => lab.catalogues().of(Some(name)),
        None => lab.catalogues().fresh(),
    };
    let credential = learner
        .offered
        .clone()
        .or_else(|| lab.workshop().credential_of(&learner.name))
        .map(|credential| credential.to_string())
        .unwrap_or_default();
    LearnerPage {
        inner: render(
            "catalogue",
            "Stale answers",
            flash,
            page::CataloguePage::of(
                &catalogue,
                page::Owner {
                    learner: learner.name.to_string(),
                    credential,
                },
                lab.catalogues().count(),
                base_url.0,
            ),
        ),
        cache_control: rocket::http::Header::new("Cache-Control", LEARNER_PAGE_CACHE_CONTROL),
    }
}

/// The catalogue of the learner `learner` names, or the open one; a
/// credential that proves nobody is refused (JSON, or a page for a form).
fn catalogue_of(
    lab: &Lab,
    learner: Result<Learner, ApiError>,
    wants_html: bool,
) -> Result<(Catalogue, Option<LearnerName>), Refusal> {
    let learner = learner
        .map_err(|error| Refusal::for_client(wants_html, error))?
        .0;
    Ok((lab.catalogues().of(learner.as_ref()), learner))
}

fn item(slug: &str, wants_html: bool) -> Result<ItemId, Refusal> {
    ItemId::parse(slug).map_err(|unknown| {
        let shown: String = slug.chars().take(40).collect();
        Refusal::for_client(
            wants_html,
            ApiError::new(Status::NotFound, format!("{shown:?}: {unknown}")).accepting(format!(
                "GET /catalogue/<item> with one of {}",
                ItemId::slugs()
            )),
        )
    })
}

/// `GET /catalogue/<item>`: the price as the cache gives it.
#[get("/catalogue/<slug>")]
async fn read_item(
    started: RequestStarted,
    slug: &str,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
    wants_html: WantsHtml,
) -> Result<ItemAnswer, Refusal> {
    // The item first: a name that is no item is refused before a
    // catalogue is made for the learner.
    let item = item(slug, wants_html.0)?;
    let (catalogue, learner) = catalogue_of(lab, learner, false)?;
    let read = catalogue.read(item).await;
    let answer = ItemAnswer::new(&read, catalogue.freshness(), learner.is_some(), started);
    lab.note_catalogue_read(learner.as_ref(), &read, answer.total);
    Ok(answer)
}

/// `GET /catalogue/<item>/truth`: the source's price now, with no cache
/// (and its full cost).
#[get("/catalogue/<slug>/truth")]
async fn read_truth(
    slug: &str,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
    wants_html: WantsHtml,
) -> Result<NotStored<Json<Value>>, Refusal> {
    let item = item(slug, wants_html.0)?;
    let (catalogue, _) = catalogue_of(lab, learner, wants_html.0)?;
    let record = catalogue.read_truth(item).await;
    Ok(NotStored::new(Json(json!({
        "item": record.item,
        "name": record.item.name(),
        "price_cents": record.price_cents,
        "version": record.version,
        "updated_at_ms": record.updated_at_ms,
        "source": "read from the source of truth, no cache",
    }))))
}

/// `PUT /catalogue/<item>` with `{"price_cents": 150}`.
#[put("/catalogue/<slug>", data = "<body>")]
async fn change_price(
    _from: SameOriginChange,
    slug: &str,
    body: Result<ChangeBody, ApiError>,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
) -> Result<Changed, Refusal> {
    set_price(slug, body, lab, learner, false)
}

/// `POST /catalogue/<item>`: the page's form to change a price
/// (`price_cents=150`), or the same JSON as the PUT.
#[post("/catalogue/<slug>", data = "<body>")]
async fn change_price_by_form(
    _from: SameOriginChange,
    slug: &str,
    body: Result<ChangeBody, ApiError>,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
    wants_html: WantsHtml,
) -> Result<Changed, Refusal> {
    set_price(slug, body, lab, learner, wants_html.0)
}

fn set_price(
    slug: &str,
    body: Result<ChangeBody, ApiError>,
    lab: &Lab,
    learner: Result<Learner, ApiError>,
    wants_html: bool,
) -> Result<Changed, Refusal> {
    let item = item(slug, wants_html)?;
    let (catalogue, learner) = catalogue_of(lab, learner, wants_html)?;
    let refuse = |error: ApiError| Refusal::for_client(wants_html, error);
    let body = body.map_err(refuse)?;
    let price = body.price().map_err(refuse)?;
    let change = catalogue.set_price(item, price);
    lab.note_catalogue_price(learner.as_ref(), &change);
    let effect = match change.cache_effect {
        CacheEffect::Kept => "its cached copy was kept".to_owned(),
        CacheEffect::Deleted { removed } => {
            format!("{removed} cached copy deleted (the other items' copies kept)")
        }
        CacheEffect::Replaced => "its cached copy was replaced by the new price".to_owned(),
    };
    Ok(Changed::to(
        wants_html,
        format!(
            "{} now costs {} at the source ({}): {effect}.",
            item.name(),
            page::cents(change.after.price_cents),
            change.strategy.slug()
        ),
        json!({
            "item": item,
            "before": change.before,
            "after": change.after,
            "strategy": change.strategy,
            "cache_effect": change.cache_effect,
        }),
    ))
}

/// `PUT /catalogue/strategy` with `{"strategy": "write-through",
/// "ttl_secs": 10, "browser_max_age_secs": 5}` (each part optional).
#[put("/catalogue/strategy", data = "<body>")]
async fn change_strategy(
    _from: SameOriginChange,
    body: Result<ChangeBody, ApiError>,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
) -> Result<Changed, Refusal> {
    let (catalogue, _) = catalogue_of(lab, learner, false)?;
    set_strategy(body, &catalogue, false)
}

/// `POST /catalogue/strategy`: the page's form for the same.
#[post("/catalogue/strategy", data = "<body>")]
async fn change_strategy_by_form(
    _from: SameOriginChange,
    body: Result<ChangeBody, ApiError>,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
    wants_html: WantsHtml,
) -> Result<Changed, Refusal> {
    let (catalogue, _) = catalogue_of(lab, learner, wants_html.0)?;
    set_strategy(body, &catalogue, wants_html.0)
}

fn set_strategy(
    body: Result<ChangeBody, ApiError>,
    catalogue: &Catalogue,
    wants_html: bool,
) -> Result<Changed, Refusal> {
    let refuse = |error: ApiError| Refusal::for_client(wants_html, error);
    let body = body.map_err(refuse)?;
    let strategy = body
        .text("strategy")
        .map(|slug| {
            Strategy::parse(slug).map_err(|unknown| {
                ApiError::new(Status::BadRequest, format!("{slug:?}: {unknown}"))
            })
        })
        .transpose()
        .map_err(refuse)?;
    let freshness = catalogue
        .freshness()
        .with(
            strategy,
            body.whole_number("ttl_secs").map_err(refuse)?,
            body.whole_number("browser_max_age_secs").map_err(refuse)?,
        )
        .map_err(|refused| refuse(ApiError::new(Status::BadRequest, refused.0)))?;
    catalogue.set_freshness(freshness);
    Ok(Changed::to(
        wants_html,
        format!(
            "Strategy {}, TTL {} s, browser max-age {} s.",
            freshness.strategy.slug(),
            freshness.ttl_secs,
            freshness.browser_max_age_secs
        ),
        json!({ "freshness": freshness, "stats": catalogue.stats() }),
    ))
}

/// `POST /catalogue/market` with `{"on": true}` (or a form's `on=true`):
/// starts or stops the background price changes.
#[post("/catalogue/market", data = "<body>")]
async fn switch_market(
    _from: SameOriginChange,
    body: Result<ChangeBody, ApiError>,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
    wants_html: WantsHtml,
) -> Result<Changed, Refusal> {
    let (catalogue, _) = catalogue_of(lab, learner, wants_html.0)?;
    let refuse = |error: ApiError| Refusal::for_client(wants_html.0, error);
    let on = body.map_err(refuse)?.switch("on").map_err(refuse)?;
    let market = catalogue.set_market(on);
    let message = if market.running {
        format!(
            "The market is on: a price changes every {} ms, for {} s.",
            market.interval_ms, market.duration_secs
        )
    } else {
        "The market is off.".to_owned()
    };
    Ok(Changed::to(
        wants_html.0,
        message,
        json!({ "market": market }),
    ))
}

/// `POST /catalogue/clear`: deletes every cached copy (the blunt fix that
/// invalidating one key avoids).
#[post("/catalogue/clear")]
fn clear_cache(
    _from: SameOriginChange,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
    wants_html: WantsHtml,
) -> Result<Changed, Refusal> {
    let (catalogue, _) = catalogue_of(lab, learner, wants_html.0)?;
    let removed = catalogue.clear();
    Ok(Changed::to(
        wants_html.0,
        format!("The catalogue cache is empty: {removed} cached copies deleted."),
        json!({ "entries_removed": removed }),
    ))
}
