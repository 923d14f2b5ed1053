//! End to end in a real browser: the release-shaped binary on a free port,
//! Debian's Chromium driven through chromedriver, and a learner's clicks.
//!
//! Needs `chromium` and `chromium-driver` (`apt-get install chromium
//! chromium-driver`; `.ci/run` installs them). Without them the test says so
//! plainly on stderr and passes, except under CI, where it fails.

mod http_cache;
mod new_pages;
mod progress;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The key the app under test is started with, to open the instructor's view.
const INSTRUCTOR_KEY: &str = "browser-test-instructor";

/// A child process that is killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The app as a learner runs it, with small delays so misses stay visible.
fn start_app(cache_dir: &Path) -> (Running, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_cachelab"))
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_ADDRESS", "127.0.0.1")
        .env("ROCKET_CACHE_DIR", cache_dir)
        .env("ROCKET_FACTORIAL_DELAY_MS", "5")
        .env("ROCKET_DATA_DELAY_MS", "50")
        .env("ROCKET_LOG_LEVEL", "off")
        .env("ROCKET_INSTRUCTOR_KEY", INSTRUCTOR_KEY)
        .stdout(Stdio::null())
        .spawn()
        .expect("start the cachelab binary");
    let app = Running(child);
    wait_for_port(port, "cachelab");
    (app, format!("http://127.0.0.1:{port}"))
}

fn find_chromedriver() -> Option<PathBuf> {
    let candidates = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].map(PathBuf::from));
    candidates.into_iter().find(|path| path.exists())
}

/// Says plainly that the browser tests did not run (outside CI), or fails (in CI).
fn browser_missing(reason: &str) {
    let message = format!(
        "browser tests SKIPPED: {reason}. Install them with `apt-get install chromium chromium-driver`."
    );
    assert!(std::env::var_os("CI").is_none(), "{message}");
    // Written straight to stderr so the test harness does not swallow it.
    let _ = writeln!(std::io::stderr(), "\n{message}\n");
}

async fn connect_browser(driver_port: u16, profile_dir: &Path) -> Client {
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile_dir.display()),
                "--window-size=1280,900",
            ],
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("built as an object above")
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a Chromium session through chromedriver")
}

/// chromedriver's console log for the page, drained on each call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// Fails if the page logged an error: a failed load (404) or a script error.
async fn assert_console_clean(browser: &Client, page: &str) {
    let log = browser
        .issue_cmd(BrowserLog)
        .await
        .expect("read the console log");
    let errors: Vec<&Value> = log
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|entry| entry["level"] == "SEVERE")
                .collect()
        })
        .unwrap_or_default();
    assert!(errors.is_empty(), "{page}: console errors {errors:#?}");
}

/// The window sizes every page is seen at: a desktop and a small phone.
const SIZES: [(&str, u32, u32); 2] = [("desktop", 1280, 900), ("phone", 360, 1400)];

struct Screenshots(PathBuf);

impl Screenshots {
    fn new() -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        Self(dir)
    }

    /// The current page at desktop and phone width.
    async fn take(&self, browser: &Client, name: &str) {
        for (size, width, height) in SIZES {
            self.take_at(browser, name, size, width, height).await;
        }
        browser
            .set_window_size(1280, 900)
            .await
            .expect("resize back");
    }

    /// The current page at one size (`{name}-{size}.png`), which the window
    /// keeps afterwards.
    async fn take_at(&self, browser: &Client, name: &str, size: &str, width: u32, height: u32) {
        browser
            .set_window_size(width, height)
            .await
            .expect("resize");
        let png = browser.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{name}: a PNG");
        // Nothing may make a page scroll sideways, even on a phone.
        let overflow = browser
            .execute(
                "const root = document.documentElement; \
                 const wide = [...document.querySelectorAll('body *')] \
                   .filter(e => e.getBoundingClientRect().right > root.clientWidth + 1) \
                   .slice(0, 3).map(e => e.tagName + '.' + e.className); \
                 return [root.scrollWidth, root.clientWidth, wide.join(' ')];",
                vec![],
            )
            .await
            .expect("measure the page");
        let (scroll, client) = (overflow[0].as_f64(), overflow[1].as_f64());
        assert!(
            scroll <= client,
            "{name} at {width} px scrolls sideways: {overflow}"
        );
        std::fs::write(self.0.join(format!("{name}-{size}.png")), png).expect("save screenshot");
    }
}

async fn text_of(browser: &Client, css: &str) -> String {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("{css}: {error}"))
        .text()
        .await
        .expect("element text")
}

/// Submits a form and waits until the browser has left the old page, so
/// nothing read afterwards can come from it.
async fn submit(browser: &Client, form_css: &str) {
    let old_page = browser.find(Locator::Css("html")).await.expect("a page");
    browser
        .find(Locator::Css(&format!("{form_css} button[type=submit]")))
        .await
        .expect("a submit button")
        .click()
        .await
        .expect("click submit");
    let deadline = Instant::now() + Duration::from_secs(10);
    // Reading a detached element fails: that is the sign the new page is in.
    while old_page.tag_name().await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "{form_css}: the page did not change"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn count(browser: &Client, css: &str) -> usize {
    browser
        .find_all(Locator::Css(css))
        .await
        .map(|found| found.len())
        .unwrap_or(0)
}

/// The app on a free port, chromedriver, and a fresh Chromium profile
/// driving it: what every test here starts from.
struct Session {
    base: String,
    browser: Client,
    // Dropped after the browser: the processes stop, then the directory
    // with the cache and the profile goes.
    _driver: Running,
    _app: Running,
    _workspace: tempfile::TempDir,
}

impl Session {
    /// `None` (with a note) where Chromium or chromedriver is missing.
    async fn start() -> Option<Self> {
        Self::start_with(|_| {}).await
    }

    /// As [`Session::start`], with `prepare` run on the workspace before
    /// the app starts: its cache directory will be `cache` in it, and its
    /// progress file `cache-progress.jsonl`.
    async fn start_with(prepare: impl FnOnce(&Path)) -> Option<Self> {
        let Some(chromedriver) = find_chromedriver() else {
            browser_missing("chromedriver was not found");
            return None;
        };
        if !Path::new(CHROMIUM).exists() {
            browser_missing("chromium was not found at /usr/bin/chromium");
            return None;
        }
        let workspace = tempfile::tempdir().expect("temp dir");
        prepare(workspace.path());
        let (app, base) = start_app(&workspace.path().join("cache"));
        let driver_port = free_port();
        let driver = Running(
            Command::new(chromedriver)
                .arg(format!("--port={driver_port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        wait_for_port(driver_port, "chromedriver");
        let browser = connect_browser(driver_port, &workspace.path().join("profile")).await;
        Some(Self {
            base,
            browser,
            _driver: driver,
            _app: app,
            _workspace: workspace,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_runs_every_experiment_in_chromium() {
    let Some(session) = Session::start().await else {
        return;
    };
    let (base, browser) = (session.base.clone(), session.browser.clone());
    let shots = Screenshots::new();

    // The longest name allowed, chosen first: no page below may scroll
    // sideways for it.
    browser
        .goto(&format!("{base}/exercises"))
        .await
        .expect("open exercises");
    let name = browser
        .find(Locator::Id("name"))
        .await
        .expect("the name field");
    name.clear().await.expect("clear name");
    let long_name = "chromium-learner-with-a-long-one";
    assert_eq!(long_name.len(), 32);
    name.send_keys(long_name).await.expect("type name");
    submit(&browser, "form.rename").await;
    assert!(text_of(&browser, ".flash")
        .await
        .contains(&format!("You are now {long_name}.")));

    // The overview links to everything and loads without console errors.
    browser
        .goto(&format!("{base}/"))
        .await
        .expect("open overview");
    assert!(browser.title().await.expect("title").contains("cachelab"));
    assert_console_clean(&browser, "/").await;
    shots.take(&browser, "overview").await;

    // Memory: the same n twice is a MISS, then a HIT.
    browser
        .goto(&format!("{base}/memory"))
        .await
        .expect("open memory page");
    let input = browser.find(Locator::Id("n")).await.expect("the n field");
    input.send_keys("20").await.expect("type n");
    submit(&browser, "form.experiment").await;
    assert_eq!(text_of(&browser, ".result .badge").await, "MISS");
    assert!(text_of(&browser, ".number")
        .await
        .contains("2432902008176640000"));
    submit(&browser, "form.experiment").await;
    assert_eq!(text_of(&browser, ".result .badge").await, "HIT");
    assert_console_clean(&browser, "/memory?n=20").await;

    // The optional script times a round trip from the browser.
    browser
        .find(Locator::Css("[data-roundtrip]"))
        .await
        .expect("round-trip button")
        .click()
        .await
        .expect("click round trip");
    let roundtrip = browser
        .find(Locator::Id("roundtrip"))
        .await
        .expect("output");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut said = String::new();
    while Instant::now() < deadline && !said.contains("round trip") {
        tokio::time::sleep(Duration::from_millis(50)).await;
        said = roundtrip.text().await.unwrap_or_default();
    }
    assert!(said.starts_with("HIT: round trip"), "{said}");
    shots.take(&browser, "memory").await;

    // Disk: a body with keys out of order is stored in canonical form.
    browser
        .goto(&format!("{base}/disk"))
        .await
        .expect("open disk page");
    let textarea = browser
        .find(Locator::Id("body"))
        .await
        .expect("the body field");
    textarea.clear().await.expect("clear example");
    textarea
        .send_keys(r#"{"b": 2, "a": "<b>bold?</b>"}"#)
        .await
        .expect("type body");
    submit(&browser, "form.experiment").await;
    assert_eq!(text_of(&browser, ".result .badge").await, "MISS");
    let facts = text_of(&browser, ".result .facts").await;
    assert!(
        facts.contains(r#"{"a":"<b>bold?</b>","b":2}"#),
        "shown as text: {facts}"
    );
    assert_eq!(
        count(&browser, ".result b").await,
        0,
        "learner markup is not rendered"
    );
    submit(&browser, "form.experiment").await;
    assert_eq!(text_of(&browser, ".result .badge").await, "HIT");
    assert!(
        text_of(&browser, "#hit-read")
            .await
            .starts_with("The bytes"),
        "the hit says where its bytes came from"
    );
    assert_console_clean(&browser, "/disk").await;
    // A whole key is a tap away, and fits a phone once shown.
    browser
        .find(Locator::Css("details.key summary"))
        .await
        .expect("a stored key")
        .click()
        .await
        .expect("open the key");
    let whole_key = text_of(&browser, "details.key[open] code.wrap").await;
    assert_eq!(whole_key.len(), 64, "{whole_key}");
    shots.take(&browser, "disk").await;

    // Clearing a tier is a POST with a one-time message.
    browser
        .goto(&format!("{base}/memory"))
        .await
        .expect("open memory page");
    submit(&browser, "form[action='/memory/clear']").await;
    assert!(text_of(&browser, ".flash")
        .await
        .contains("memory cache cleared"));
    assert!(text_of(&browser, "#contents-heading + p")
        .await
        .starts_with("0 of 100"));
    browser.refresh().await.expect("reload");
    assert_eq!(count(&browser, ".flash").await, 0, "the message shows once");

    // Dashboard: the chart holds every request so far, hits and misses.
    browser
        .goto(&format!("{base}/dashboard"))
        .await
        .expect("open dashboard");
    assert!(count(&browser, "svg circle.memory-hit").await >= 2);
    assert!(count(&browser, "svg rect.miss").await >= 2);
    assert_console_clean(&browser, "/dashboard").await;
    browser
        .find(Locator::Css("#recent-list summary"))
        .await
        .expect("the marks in words")
        .click()
        .await
        .expect("open the list");
    assert!(text_of(&browser, "#recent-list[open] li")
        .await
        .contains("in the cache"));
    shots.take(&browser, "dashboard").await;

    // Live updating picks up a request made elsewhere.
    let before = count(&browser, "svg rect.miss").await;
    browser
        .find(Locator::Id("auto-refresh"))
        .await
        .expect("auto-refresh toggle")
        .click()
        .await
        .expect("switch on");
    browser
        .execute("return fetch('/factorial/7').then(r => r.status)", vec![])
        .await
        .expect("a request from the page");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && count(&browser, "svg rect.miss").await == before {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        count(&browser, "svg rect.miss").await,
        before + 1,
        "the chart updated itself"
    );

    // The timing page's commands name the address the browser used.
    browser
        .goto(&format!("{base}/timing"))
        .await
        .expect("open timing page");
    assert!(text_of(&browser, "pre.command")
        .await
        .contains(&format!("curl -i {base}/factorial/20")));
    browser
        .find(Locator::Css("[data-roundtrip]"))
        .await
        .expect("round-trip button")
        .click()
        .await
        .expect("click round trip");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut said = String::new();
    while Instant::now() < deadline && !said.contains("round trip") {
        tokio::time::sleep(Duration::from_millis(50)).await;
        said = text_of(&browser, "#roundtrip").await;
    }
    assert!(said.contains("ms inside the server"), "{said}");
    assert_console_clean(&browser, "/timing").await;
    shots.take(&browser, "timing").await;

    // The workshop: fire a stampede from the page, see the tick.
    browser
        .goto(&format!("{base}/exercises"))
        .await
        .expect("open exercises");
    browser
        .find(Locator::Css("[data-stampede]"))
        .await
        .expect("stampede button")
        .click()
        .await
        .expect("fire the stampede");
    let result = browser
        .find(Locator::Id("stampede-result"))
        .await
        .expect("output");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut said = String::new();
    while Instant::now() < deadline && !said.contains("waited") {
        tokio::time::sleep(Duration::from_millis(100)).await;
        said = result.text().await.unwrap_or_default();
    }
    assert!(
        said.contains("1 request did the work") && said.contains("5 waited for it"),
        "six requests, the most a browser sends at once: {said}"
    );
    browser.refresh().await.expect("reload");
    assert!(text_of(&browser, "#stampede .evidence")
        .await
        .starts_with("Done"));
    assert_console_clean(&browser, "/exercises").await;
    shots.take(&browser, "exercises").await;
    browser
        .goto(&format!("{base}/exercises/progress?key={INSTRUCTOR_KEY}"))
        .await
        .expect("open progress");
    assert!(text_of(&browser, "table.progress")
        .await
        .contains(long_name));
    browser
        .find(Locator::Css(&format!(
            "a.tick[href='#evidence-{long_name}-stampede']"
        )))
        .await
        .expect("the stampede tick")
        .click()
        .await
        .expect("tap the tick");
    assert!(browser
        .current_url()
        .await
        .expect("url")
        .as_str()
        .ends_with(&format!("#evidence-{long_name}-stampede")));
    assert!(
        text_of(&browser, "dt:target + dd")
            .await
            .contains("waited for its answer"),
        "the evidence is text the tick leads to"
    );
    assert_console_clean(&browser, "/exercises/progress").await;
    shots.take(&browser, "progress").await;

    // Errors are pages in the site's layout.
    browser
        .goto(&format!("{base}/clear-cache"))
        .await
        .expect("open clear-cache");
    assert_eq!(
        text_of(&browser, "h1").await,
        "Clearing the cache is a POST"
    );
    shots.take(&browser, "clear-cache").await;
    browser
        .goto(&format!("{base}/no-such-page"))
        .await
        .expect("open a missing page");
    assert_eq!(text_of(&browser, "h1").await, "404 · Not Found");
    assert!(count(&browser, "nav a").await >= 5, "in the shared layout");
    shots.take(&browser, "not-found").await;

    session
        .browser
        .clone()
        .close()
        .await
        .expect("close the browser");
}
