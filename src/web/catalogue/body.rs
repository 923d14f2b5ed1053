//! The body of a change: JSON from curl, or a form from the page, read into
//! one shape so each route parses its fields once.

use rocket::data::{self, Data, FromData};
use rocket::http::Status;
use rocket::request::Request;
use serde_json::{Map, Value};

use crate::catalogue::{PriceCents, MAX_PRICE_CENTS};
use crate::web::errors::ApiError;
use crate::web::fields_body::read_fields;

/// A change's fields are a few short values: anything longer is a mistake.
const MAX_BODY_BYTES: u64 = 4 * 1024;

/// The fields of a JSON object or of a form (whose values are strings).
pub struct ChangeBody {
    fields: Map<String, Value>,
}

#[rocket::async_trait]
impl<'r> FromData<'r> for ChangeBody {
    type Error = ApiError;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        match read_fields(
            request,
            data,
            MAX_BODY_BYTES,
            "a JSON object such as {\"price_cents\": 150} with Content-Type: \
                 application/json, or a form",
        )
        .await
        {
            Ok(fields) => data::Outcome::Success(ChangeBody { fields }),
            Err(refused) => data::Outcome::Error(refused),
        }
    }
}

impl ChangeBody {
    /// `price_cents`: a JSON whole number, or a form's digits.
    pub fn price(&self) -> Result<PriceCents, ApiError> {
        let refused = |why: String| {
            ApiError::new(Status::UnprocessableEntity, why).accepting(format!(
                "{{\"price_cents\": <a whole number from 0 to {MAX_PRICE_CENTS}>}}"
            ))
        };
        match self.fields.get("price_cents") {
            None => Err(refused("the body has no price_cents".into())),
            Some(Value::String(typed)) => {
                PriceCents::parse(typed).map_err(|why| refused(why.to_string()))
            }
            Some(number) => PriceCents::from_json(number).map_err(|why| refused(why.to_string())),
        }
    }

    /// A text field, when present.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// A whole number field (JSON number or form digits), when present.
    pub fn whole_number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        let value = match self.fields.get(name) {
            None => return Ok(None),
            Some(Value::String(typed)) if typed.trim().is_empty() => return Ok(None),
            Some(value) => value,
        };
        let parsed = match value {
            Value::String(typed) => typed.trim().parse::<u64>().ok(),
            other => other.as_u64(),
        };
        parsed.map(Some).ok_or_else(|| {
            ApiError::new(
                Status::BadRequest,
                format!("{name} must be a whole number of seconds, not {value}"),
            )
        })
    }

    /// An on/off field: JSON `true`/`false`, or a form's `true`/`false`.
    pub fn switch(&self, name: &str) -> Result<bool, ApiError> {
        match self.fields.get(name) {
            Some(Value::Bool(on)) => Ok(*on),
            Some(Value::String(typed)) if typed == "true" => Ok(true),
            Some(Value::String(typed)) if typed == "false" => Ok(false),
            _ => Err(ApiError::new(
                Status::BadRequest,
                format!("the body must say {name}: true or false"),
            )
            .accepting(format!("{{\"{name}\": true}} or {{\"{name}\": false}}"))),
        }
    }
}
