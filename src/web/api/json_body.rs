//! A `POST /data` body: read within the size limit, checked to be whole,
//! and put into canonical form, with the time all of that took.

use super::*;

/// A request body that is valid JSON, in canonical form.
pub struct JsonBody {
    pub canonical: CanonicalJson,
    pub raw_fingerprint: u64,
    /// Reading the body off the connection, canonicalizing it and hashing
    /// the result into the key (`Server-Timing`'s `body`): for a large body,
    /// most of a hit's time.
    pub read_and_parsed: Duration,
}

#[rocket::async_trait]
impl<'r> FromData<'r> for JsonBody {
    type Error = ApiError;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let refuse = |error: ApiError| data::Outcome::Error((error.status, error));

        let is_json = request.content_type().is_some_and(|content_type| {
            content_type.is_json()
                || (content_type.top() == "application"
                    && content_type.sub().as_str().ends_with("+json"))
        });
        if !is_json {
            return refuse(
                ApiError::new(
                    Status::UnsupportedMediaType,
                    "the body must be sent as JSON (Content-Type: application/json)",
                )
                .accepting("curl -H 'Content-Type: application/json' -d '{\"a\": 1}' .../data"),
            );
        }

        let reading_started = Instant::now();
        let limit = request.limits().get("json").unwrap_or(1.mebibytes());
        let declared_length = request
            .headers()
            .get_one("Content-Length")
            .and_then(|length| length.trim().parse::<u64>().ok());
        let too_large = || {
            ApiError::new(Status::PayloadTooLarge, "the request body is too large")
                .accepting(format!("a JSON body of at most {limit}"))
        };
        if declared_length.is_some_and(|length| length > limit.as_u64()) {
            return refuse(too_large());
        }
        let bytes = match data.open(limit).into_bytes().await {
            Ok(bytes) if bytes.is_complete() => bytes.into_inner(),
            Ok(_) => return refuse(too_large()),
            Err(error) => {
                return refuse(ApiError::new(
                    Status::BadRequest,
                    format!("the request body could not be read: {error}"),
                ))
            }
        };

        // A client that hangs up mid-body leaves a prefix that may still
        // parse as JSON: it is not what was sent, so it is not answered.
        if declared_length.is_some_and(|length| length != bytes.len() as u64) {
            return refuse(ApiError::new(
                Status::BadRequest,
                "the request body ended before the length its Content-Length header promised",
            ));
        }

        match CanonicalJson::parse(&bytes) {
            Ok(canonical) => data::Outcome::Success(JsonBody {
                canonical,
                raw_fingerprint: raw_fingerprint(&bytes),
                read_and_parsed: reading_started.elapsed(),
            }),
            Err(refused) => refuse(
                ApiError::new(Status::BadRequest, refused.to_string())
                    .accepting("any JSON value, for example {\"user\": 42}"),
            ),
        }
    }
}
