//! What every page shares: the layout's context, the addresses of the
//! static files it links, and the address the browser reached the app at.

use std::collections::HashMap;

use rocket::fairing::Fairing;
use rocket::request::{FlashMessage, FromRequest, Outcome, Request};
use rocket_dyn_templates::tera::{self, Value};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::web::assets::StaticAssets;

/// The template engine, with `static_url` registered: every template,
/// the error page included, links a static file as
/// `{{ static_url(file="style.css") }}`, which gives its hashed address
/// (see [`crate::web::assets`]). A file added to `static/` is linked the
/// same way, with no code to change.
pub fn templates(assets: StaticAssets) -> impl Fairing {
    // In debug builds the templates are reloaded when they change, and this
    // runs again for the new engine.
    Template::custom(move |engines| {
        engines
            .tera
            .register_function(STATIC_URL_FUNCTION, StaticUrl(assets.clone()));
    })
}

/// The template function's name.
pub const STATIC_URL_FUNCTION: &str = "static_url";

/// `static_url(file="style.css")` → `/static/style.3f2a9c1b7d04e8a6.css`.
struct StaticUrl(StaticAssets);

impl tera::Function for StaticUrl {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let Some(Value::String(plain_name)) = args.get("file") else {
            return Err(tera::Error::msg(format!(
                "{STATIC_URL_FUNCTION} takes the file's name under static/: \
                 {STATIC_URL_FUNCTION}(file=\"style.css\")"
            )));
        };
        match self.0.file(plain_name) {
            Some(file) => Ok(Value::String(file.hashed_url())),
            None => Err(tera::Error::msg(format!(
                "{STATIC_URL_FUNCTION}: there is no file static/{plain_name} (there are: {})",
                self.0.plain_names().join(", ")
            ))),
        }
    }

    /// Safe to put into a page as it is: a served file's name holds only
    /// letters, digits, `.`, `-`, `_` and `/`, which need no escaping in an
    /// attribute (and Tera's escaping would turn every `/` into `&#x2F;`).
    fn is_safe(&self) -> bool {
        true
    }
}

/// The parts every page shares: its title, which nav entry is current, and
/// a one-time message left by the previous request.
#[derive(Serialize)]
struct Page<T: Serialize> {
    title: &'static str,
    active: &'static str,
    flash: Option<FlashView>,
    #[serde(flatten)]
    content: T,
}

#[derive(Serialize)]
struct FlashView {
    kind: String,
    message: String,
}

pub fn render<T: Serialize>(
    template: &'static str,
    title: &'static str,
    flash: Option<FlashMessage<'_>>,
    content: T,
) -> Template {
    let flash = flash.map(|flash| FlashView {
        kind: flash.kind().to_owned(),
        message: flash.message().to_owned(),
    });
    Template::render(
        template,
        Page {
            title,
            active: template,
            flash,
            content,
        },
    )
}

/// `http://host:port` as the browser reached us, so copy-paste commands work
/// for whoever reads the page (on a workshop network too).
pub struct BaseUrl(pub String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BaseUrl {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let host = request
            .host()
            .map(|host| host.to_string())
            // Requests that did not come through the network (tests) carry
            // the header but no parsed host.
            .or_else(|| request.headers().get_one("Host").map(str::to_owned))
            .unwrap_or_else(|| {
                let config = request.rocket().config();
                format!("{}:{}", config.address, config.port)
            });
        Outcome::Success(BaseUrl(format!("http://{host}")))
    }
}
