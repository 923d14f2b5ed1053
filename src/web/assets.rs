//! The files in `static/` (stylesheet, script, icon), each served at two
//! addresses:
//!
//! - **a hashed one**, `/static/style.3f2a9c1b7d04e8a6.css`, whose name
//!   carries the start of the SHA-256 of the file's content. It is sent with
//!   `Cache-Control: public, max-age=31536000, immutable`: a browser or a
//!   proxy may keep it for a year (RFC 9111 §5.2.2.1) and never ask again,
//!   not even when the learner presses reload (RFC 8246). That is safe
//!   because the address can only ever mean these bytes: once the file
//!   changes, its content has another hash, the pages link another address,
//!   and every browser fetches the new file on its next page. The pages get
//!   these addresses from the `static_url` template function (see
//!   [`crate::web::render`]), so a file added to `static/` needs no code.
//! - **the plain one**, `/static/style.css`, kept for anyone who linked it.
//!   Its content changes under the same name, so it is sent with `no-cache`
//!   (RFC 9111 §5.2.2.4) and an `ETag`: a browser may keep it but asks
//!   before each reuse, and gets a bodiless 304 when its copy is still the
//!   current one (RFC 9110 §13.1.2, §15.4.5).
//!
//! A hashed address whose hash is not the current content's (an old page,
//! a proxy that kept an old page) is a 404 sent with `no-store`, never the
//! current file: a cache would keep those other bytes under the old name for
//! a year.
//!
//! The files are read and hashed once, when the app starts, and served from
//! memory; a change in `static/` shows after a restart.
//!
//! **Why `name.hash.ext`.** The extension stays last, so the type is still
//! read from the name (here, and by anyone looking at the network panel);
//! the hash is in the path rather than a query (`style.css?v=3f2a…`), which
//! some caches are set up to leave out of their keys, and which would let
//! any `?v=` fetch the current file. Sixteen hex digits (64 bits) are
//! plenty: an address only has to differ from the earlier versions of the
//! same file, and they are the same digits that start its `ETag`.

use std::collections::HashMap;
use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocket::fairing::{AdHoc, Fairing};
use rocket::http::uri::fmt::Path as UriPath;
use rocket::http::uri::Segments;
use rocket::http::{ContentType, Header, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::{get, routes, Route, State};
use rocket_dyn_templates::tera::{self, Value};
use rocket_dyn_templates::Template;
use sha2::{Digest, Sha256};

use crate::http_cache::{answers_not_modified, EntityTag};
use crate::web::errors::{ApiError, Refusal};
use crate::web::guards::WantsHtml;
use crate::web::instance::{InstanceNameFunction, INSTANCE_NAME_FUNCTION};

#[cfg(test)]
mod tests;

/// Where the files are mounted.
pub const MOUNT_POINT: &str = "/static";

/// A hashed address never changes meaning, so any cache may keep it without
/// asking again, even when the learner reloads (RFC 8246 §2), for a year:
/// HTTP's conventional "never expires" (RFC 2616 §14.21 asked servers to
/// promise no more than that). `public` is said for the reader: with a
/// `max-age`, shared caches may store it anyway (RFC 9111 §5.2.2.9).
pub const HASHED_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// A plain address keeps its name when the file changes, so a stored copy
/// is checked with the app before each reuse.
pub const PLAIN_CACHE_CONTROL: &str = "no-cache";

/// How many hex digits of the content's SHA-256 go into a hashed name.
const NAME_HASH_HEX_DIGITS: usize = 16;

/// One file of `static/`, read into memory.
#[derive(Debug, Clone)]
pub struct StaticFile {
    /// Its path under `static/`, with `/` between folders: `style.css`.
    plain_name: String,
    /// The same with the content's hash before the extension:
    /// `style.3f2a9c1b7d04e8a6.css`.
    hashed_name: String,
    content_type: ContentType,
    entity_tag: EntityTag,
    bytes: Arc<[u8]>,
}

impl StaticFile {
    fn new(plain_name: String, bytes: Vec<u8>) -> Self {
        let sha256_hex = format!("{:x}", Sha256::digest(&bytes));
        let entity_tag = EntityTag::from_sha256_hex(&sha256_hex)
            .expect("a SHA-256 digest prints as 64 hex digits");
        let hashed_name = hashed_name(&plain_name, &sha256_hex[..NAME_HASH_HEX_DIGITS]);
        let content_type = extension(&plain_name)
            .and_then(ContentType::from_extension)
            .unwrap_or(ContentType::Binary);
        Self {
            plain_name,
            hashed_name,
            content_type,
            entity_tag,
            bytes: bytes.into(),
        }
    }

    /// Its path under `static/`: `style.css`.
    pub fn plain_name(&self) -> &str {
        &self.plain_name
    }

    /// Its path under `static/` with the content's hash before the
    /// extension: `style.3f2a9c1b7d04e8a6.css`.
    pub fn hashed_name(&self) -> &str {
        &self.hashed_name
    }

    /// The address the pages link: `/static/style.3f2a9c1b7d04e8a6.css`.
    pub fn hashed_url(&self) -> String {
        format!("{MOUNT_POINT}/{}", self.hashed_name)
    }

    /// The strong `ETag` of its content (RFC 9110 §8.8.3), whose digest
    /// starts with the same hex digits as the hashed name.
    pub fn entity_tag(&self) -> &EntityTag {
        &self.entity_tag
    }

    /// Its content, as read when the app started.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// `dir/name.ext` → `dir/name.<hash>.ext`; a name without an extension gets
/// the hash at its end.
fn hashed_name(plain_name: &str, name_hash: &str) -> String {
    let file_start = plain_name.rfind('/').map_or(0, |slash| slash + 1);
    match plain_name[file_start..].rfind('.') {
        Some(dot) => {
            let (stem, extension) = plain_name.split_at(file_start + dot);
            format!("{stem}.{name_hash}{extension}")
        }
        None => format!("{plain_name}.{name_hash}"),
    }
}

/// The reverse of [`hashed_name`] for any hash: `("dir/name.ext", hash)` if
/// `name` has the shape of a hashed name.
fn split_hashed_name(name: &str) -> Option<(String, &str)> {
    let file_start = name.rfind('/').map_or(0, |slash| slash + 1);
    let file = &name[file_start..];
    let is_name_hash = |text: &str| {
        text.len() == NAME_HASH_HEX_DIGITS
            && text
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
    };
    let candidates = [
        // name.<hash>.ext
        file.rsplit_once('.').and_then(|(stem, extension)| {
            let (stem, name_hash) = stem.rsplit_once('.')?;
            Some((format!("{stem}.{extension}"), name_hash))
        }),
        // name.<hash>
        file.rsplit_once('.')
            .map(|(stem, name_hash)| (stem.to_owned(), name_hash)),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|(_, name_hash)| is_name_hash(name_hash))
        .map(|(plain_file, name_hash)| (format!("{}{plain_file}", &name[..file_start]), name_hash))
}

fn extension(name: &str) -> Option<&str> {
    let file = name.rsplit('/').next().unwrap_or(name);
    file.rsplit_once('.').map(|(_, extension)| extension)
}

/// What a name under `/static/` is.
#[derive(Debug, Clone, Copy)]
pub enum Found<'a> {
    /// The current hashed name of this file.
    Hashed(&'a StaticFile),
    /// This file's plain name.
    Plain(&'a StaticFile),
    /// A hashed name of this file, but with another content's hash: an
    /// older (or made-up) version.
    Outdated(&'a StaticFile),
    /// No file of that name.
    Unknown,
}

/// Every file of `static/`, by both of its names. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StaticAssets {
    files: Arc<HashMap<String, StaticFile>>,
    plain_name_by_hashed_name: Arc<HashMap<String, String>>,
}

impl StaticAssets {
    /// Reads every file under `dir`, in folders too, skipping hidden ones
    /// (an editor's `.style.css.swp`) and names that would need escaping in
    /// a URL or a page (see [`is_plain_url_name`]); those are logged.
    pub fn read_dir(dir: &Path) -> Result<Self, ReadStaticError> {
        let mut files = Vec::new();
        let mut pending = vec![PathBuf::new()];
        while let Some(folder) = pending.pop() {
            let full_folder = dir.join(&folder);
            let entries = std::fs::read_dir(&full_folder).map_err(|error| ReadStaticError {
                path: full_folder.clone(),
                error,
            })?;
            for entry in entries {
                let entry = entry.map_err(|error| ReadStaticError {
                    path: full_folder.clone(),
                    error,
                })?;
                let file_name = entry.file_name();
                let Some(file_name) = file_name.to_str() else {
                    log::warn!(
                        "{} not served: its name is not UTF-8",
                        full_folder.join(&file_name).display()
                    );
                    continue;
                };
                if file_name.starts_with('.') {
                    continue;
                }
                let relative = folder.join(file_name);
                let full_path = dir.join(&relative);
                // Follows symbolic links, as a file server would.
                let metadata = std::fs::metadata(&full_path).map_err(|error| ReadStaticError {
                    path: full_path.clone(),
                    error,
                })?;
                if metadata.is_dir() {
                    pending.push(relative);
                    continue;
                }
                let plain_name = relative
                    .iter()
                    .map(|part| part.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if !is_plain_url_name(&plain_name) {
                    log::warn!(
                        "static/{plain_name} not served: a static file's name may only hold \
                         letters, digits, '.', '-' and '_'"
                    );
                    continue;
                }
                let bytes = std::fs::read(&full_path).map_err(|error| ReadStaticError {
                    path: full_path.clone(),
                    error,
                })?;
                files.push((plain_name, bytes));
            }
        }
        Ok(Self::from_files(files))
    }

    /// The table for these files, given as (name under `static/`, content).
    pub fn from_files(files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        let files: HashMap<String, StaticFile> = files
            .into_iter()
            .map(|(plain_name, bytes)| {
                let file = StaticFile::new(plain_name, bytes);
                (file.plain_name.clone(), file)
            })
            .collect();
        let plain_name_by_hashed_name = files
            .values()
            .map(|file| (file.hashed_name.clone(), file.plain_name.clone()))
            .collect();
        Self {
            files: Arc::new(files),
            plain_name_by_hashed_name: Arc::new(plain_name_by_hashed_name),
        }
    }

    /// The file whose plain name is `plain_name` (`style.css`).
    pub fn file(&self, plain_name: &str) -> Option<&StaticFile> {
        self.files.get(plain_name)
    }

    /// Every file's plain name, sorted.
    pub fn plain_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.files.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// What `name` (the path after `/static/`) is.
    pub fn find(&self, name: &str) -> Found<'_> {
        if let Some(file) = self
            .plain_name_by_hashed_name
            .get(name)
            .and_then(|plain_name| self.files.get(plain_name))
        {
            return Found::Hashed(file);
        }
        if let Some(file) = self.files.get(name) {
            return Found::Plain(file);
        }
        match split_hashed_name(name).and_then(|(plain_name, _)| self.files.get(&plain_name)) {
            Some(file) => Found::Outdated(file),
            None => Found::Unknown,
        }
    }
}

/// Letters, digits, `.`, `-`, `_` and `/` between folders: a name that
/// reads the same in a URL and in a page, so neither needs escaping it.
fn is_plain_url_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_'))
        })
}

/// `static/` or a file in it could not be read.
#[derive(Debug)]
pub struct ReadStaticError {
    path: PathBuf,
    error: std::io::Error,
}

impl fmt::Display for ReadStaticError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for ReadStaticError {}

/// Reads `dir` when the app starts, serves it at [`MOUNT_POINT`] and gives
/// the pages its hashed addresses (the templates are set up here, since
/// they need the table). A `dir` that cannot be read stops the start, with
/// one line saying why.
pub fn stage(dir: &'static str) -> AdHoc {
    AdHoc::try_on_ignite("static files", move |rocket| async move {
        let read = tokio::task::spawn_blocking(move || StaticAssets::read_dir(Path::new(dir)))
            .await
            .map_err(|panic| ReadStaticError {
                path: dir.into(),
                error: std::io::Error::other(panic),
            })
            .and_then(|read| read);
        match read {
            Ok(assets) => {
                let instance_name = InstanceNameFunction::of(&rocket);
                Ok(rocket
                    .manage(assets.clone())
                    .attach(templates(assets, instance_name)))
            }
            Err(error) => {
                log::error!("cachelab: static files: {error}");
                Err(rocket)
            }
        }
    })
}

/// The one route that serves every file, by either name; mount it at
/// [`MOUNT_POINT`].
pub fn routes() -> Vec<Route> {
    routes![static_file]
}

/// `GET /static/<name>`: a file by its hashed or its plain name.
#[get("/<name..>")]
fn static_file(
    name: Segments<'_, UriPath>,
    assets: &State<StaticAssets>,
    revalidation: Revalidation,
    wants_html: WantsHtml,
) -> Result<StaticAnswer, Refusal> {
    let name = name.collect::<Vec<_>>().join("/");
    let (file, cache_control) = match assets.find(&name) {
        Found::Hashed(file) => (file, HASHED_CACHE_CONTROL),
        Found::Plain(file) => (file, PLAIN_CACHE_CONTROL),
        Found::Outdated(file) => {
            let error = ApiError::new(
                Status::NotFound,
                format!(
                    "{MOUNT_POINT}/{name} is not the current version of {MOUNT_POINT}/{}: an \
                     address with a hash in it only ever means the content it was made from",
                    file.plain_name
                ),
            )
            .accepting(format!("the current version, {}", file.hashed_url()));
            return Err(Refusal::for_client(wants_html.0, error));
        }
        Found::Unknown => {
            let error = ApiError::new(
                Status::NotFound,
                format!("there is no file {MOUNT_POINT}/{name}"),
            )
            .accepting(format!(
                "one of {}",
                assets
                    .plain_names()
                    .iter()
                    .map(|plain_name| format!("{MOUNT_POINT}/{plain_name}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            return Err(Refusal::for_client(wants_html.0, error));
        }
    };
    Ok(StaticAnswer {
        not_modified: revalidation.answers_not_modified(&file.entity_tag),
        file: file.clone(),
        cache_control,
    })
}

/// A file, or a 304 when the client's copy is still the current one.
struct StaticAnswer {
    file: StaticFile,
    cache_control: &'static str,
    not_modified: bool,
}

impl<'r> Responder<'r, 'static> for StaticAnswer {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build();
        // A 304 carries the same Cache-Control and ETag as the full answer
        // would (RFC 9110 §15.4.5), so the stored copy keeps its policy.
        response
            .header(Header::new("Cache-Control", self.cache_control))
            .header(Header::new("ETag", self.file.entity_tag.to_string()));
        if self.not_modified {
            response.status(Status::NotModified);
        } else {
            let length = self.file.bytes.len();
            response
                .header(self.file.content_type)
                .sized_body(length, Cursor::new(self.file.bytes));
        }
        response.ok()
    }
}

/// The request's `If-None-Match` (all its lines) and `If-Modified-Since`.
struct Revalidation {
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
}

impl Revalidation {
    fn answers_not_modified(&self, current: &EntityTag) -> bool {
        answers_not_modified(
            self.if_none_match.as_deref(),
            self.if_modified_since.as_deref(),
            current,
        )
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Revalidation {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let headers = request.headers();
        let if_none_match_lines: Vec<&str> = headers.get("If-None-Match").collect();
        Outcome::Success(Revalidation {
            // One value, its lines joined with commas (RFC 9110 §5.3).
            if_none_match: (!if_none_match_lines.is_empty())
                .then(|| if_none_match_lines.join(", ")),
            if_modified_since: headers.get_one("If-Modified-Since").map(str::to_owned),
        })
    }
}

/// The template engine, with `static_url` registered: every template,
/// the error page included, links a static file as
/// `{{ static_url(file="style.css") }}`, which gives its hashed address
/// (see [`StaticAssets`]). A file added to `static/` is linked the
/// same way, with no code to change. `instance_name()` gives the name of
/// the instance drawing the page (see [`crate::web::instance`]).
pub fn templates(assets: StaticAssets, instance_name: InstanceNameFunction) -> impl Fairing {
    // In debug builds the templates are reloaded when they change, and this
    // runs again for the new engine.
    Template::custom(move |engines| {
        engines
            .tera
            .register_function(STATIC_URL_FUNCTION, StaticUrl(assets.clone()));
        engines
            .tera
            .register_function(INSTANCE_NAME_FUNCTION, instance_name.clone());
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
