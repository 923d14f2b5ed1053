//! What one request costs inside Rocket, with no network in the way: the app
//! (or Rocket alone sending a memory hit's fixed bytes) answers a path many
//! times through Rocket's local client, which runs routing, guards, the
//! handler, the responder and the fairings exactly as a served request does.
//!
//! Timing this under load is noisy; counting instructions is not. Run it
//! twice under callgrind with different counts and divide the difference:
//!
//! ```sh
//! cargo build --release --example dispatch_cost
//! for n in 5000 25000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/dispatch_cost /factorial/20 $n 2>&1 | grep Collected
//! done   # (second - first) / 20000 = instructions per request
//! ```
//!
//! `FRAMEWORK_ONLY=1` measures Rocket alone instead (`examples/floor`): its
//! `/health`, and `/factorial/<n>` answering a hit's exact bytes.

mod floor;

use std::time::Instant;

use rocket::local::asynchronous::Client;

#[rocket::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().map_or("/factorial/20", String::as_str);
    let requests: u32 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);

    let cache_dir = std::env::temp_dir().join(format!("cachelab-dispatch-{}", std::process::id()));
    let figment = cachelab::figment()
        .merge(("factorial_delay_ms", 0))
        .merge(("cache_dir", &cache_dir))
        .merge(("log_level", "off"));
    let rocket = if std::env::var_os("FRAMEWORK_ONLY").is_some() {
        floor::rocket(figment)
    } else {
        cachelab::rocket_from(figment).expect("the default settings are valid")
    };
    let client = Client::untracked(rocket).await.expect("a valid Rocket");

    // The first request fills the cache; the rest are hits.
    client.get(path).dispatch().await;
    let started = Instant::now();
    for _ in 0..requests {
        let response = client.get(path).dispatch().await;
        std::hint::black_box(response.into_bytes().await);
    }
    let each = started.elapsed() / requests.max(1);
    println!("{path}: {requests} requests, {each:?} each");
    let _ = std::fs::remove_dir_all(cache_dir);
}
