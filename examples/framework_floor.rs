//! The floor under a cache hit: what Rocket alone costs to send a response
//! shaped exactly like a memory hit, with no cache behind it.
//!
//! `scripts/load.sh` runs this beside the app and compares each route with
//! this server's own `/health`, so its table can tell the cost of the
//! response a hit must send (two headers, a JSON body) from the cost of the
//! cache work. Same Rocket settings as the app: no `Server` header, the
//! app's security headers, quiet logs.
//!
//! `ROCKET_PORT=9000 cargo run --release --example framework_floor`

mod floor;

#[rocket::launch]
fn rocket() -> _ {
    floor::rocket(rocket::Config::figment().merge(("log_level", "critical")))
}
