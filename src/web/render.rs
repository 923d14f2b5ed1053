//! What every page shares: the layout's context and the address the
//! browser reached the app at. (The static files' addresses come from the
//! template function [`crate::web::assets`] registers.)

use rocket::request::{FlashMessage, FromRequest, Outcome, Request};
use rocket_dyn_templates::Template;
use serde::Serialize;

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
