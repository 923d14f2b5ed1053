//! A small body of named fields, as the changing routes take it: a JSON
//! object from curl, or a form from a page, read into one shape so that a
//! route parses each field once, whichever way it came.

use rocket::data::{Data, ToByteUnit};
use rocket::http::{ContentType, RawStr, Status};
use rocket::request::Request;
use serde_json::{Map, Value};

use crate::web::errors::ApiError;

/// The fields of the body: a JSON object's members, or a form's fields
/// (whose values are strings). Refused with a status and a message that
/// shows `example` when the body is longer than `max_bytes`, unreadable,
/// not JSON, or JSON but not an object.
pub async fn read_fields(
    request: &Request<'_>,
    data: Data<'_>,
    max_bytes: u64,
    example: &'static str,
) -> Result<Map<String, Value>, (Status, ApiError)> {
    let refuse = |status: Status, message: String| {
        (status, ApiError::new(status, message).accepting(example))
    };
    let bytes = match data.open(max_bytes.bytes()).into_bytes().await {
        Ok(read) if read.is_complete() => read.into_inner(),
        Ok(_) => {
            return Err(refuse(
                Status::PayloadTooLarge,
                format!("the body is longer than {max_bytes} bytes"),
            ))
        }
        Err(error) => {
            return Err(refuse(
                Status::BadRequest,
                format!("unreadable body: {error}"),
            ))
        }
    };
    if request.content_type() == Some(&ContentType::Form) {
        return Ok(form_fields(&bytes));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(refuse(
            Status::BadRequest,
            "the body must be a JSON object".into(),
        )),
        Err(error) => Err(refuse(
            Status::BadRequest,
            format!("the body is not JSON: {error}"),
        )),
    }
}

fn form_fields(bytes: &[u8]) -> Map<String, Value> {
    let text = String::from_utf8_lossy(bytes).replace('+', " ");
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| {
            let decode = |raw: &str| RawStr::new(raw).url_decode_lossy().into_owned();
            (decode(name), Value::String(decode(value)))
        })
        .collect()
}
