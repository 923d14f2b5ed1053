//! cachelab: a web app that lets people watch memory caching and disk caching
//! at work.
//!
//! [`rocket`] builds the whole app; `main.rs` launches it and the tests drive
//! the very same app through Rocket's local client.

pub mod api;
pub mod canonical;
pub mod config;
pub mod disk;
pub mod errors;
pub mod history;
pub mod memory;
pub mod single_flight;

use rocket::fairing::AdHoc;
use rocket::figment::providers::{Env, Format, Toml};
use rocket::figment::{Figment, Profile};
use rocket::{Build, Rocket};

pub use config::{Config, ConfigError};

use disk::{DiskBounds, DiskCache};
use history::RequestHistory;
use memory::FactorialCache;

/// The settings shipped inside the binary, so it runs the same from any
/// directory; a `Rocket.toml` in the working directory and `ROCKET_*`
/// variables override them.
const EMBEDDED_SETTINGS: &str = include_str!("../Rocket.toml");

/// How many recent requests the timing chart remembers.
const HISTORY_CAPACITY: usize = 200;

/// Rocket's usual configuration sources, with our embedded settings beneath them.
pub fn figment() -> Figment {
    Figment::from(rocket::Config::default())
        .merge(Toml::string(EMBEDDED_SETTINGS).nested())
        .merge(Toml::file(Env::var_or("ROCKET_CONFIG", "Rocket.toml")).nested())
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .select(Profile::from_env_or(
            "ROCKET_PROFILE",
            rocket::Config::DEFAULT_PROFILE,
        ))
}

/// The app with the settings from [`figment`].
pub fn rocket() -> Result<Rocket<Build>, ConfigError> {
    rocket_from(figment())
}

/// The app with the given settings. Refuses settings it cannot honour
/// (capacity 0, a `cache_dir` it cannot write) before anything is served.
pub fn rocket_from(figment: Figment) -> Result<Rocket<Build>, ConfigError> {
    let config = Config::from_figment(&figment)?;
    let memory = FactorialCache::new(
        config.memory_capacity,
        config.factorial_delay_per_step(),
        config.factorial_delay_max(),
    );
    let disk = DiskCache::open_bounded(
        &config.cache_dir,
        config.disk_ttl(),
        config.data_delay(),
        DiskBounds {
            max_bytes: config.disk_max_bytes.as_u64(),
            max_entries: config.disk_max_entries,
        },
    );
    let sweeper = disk.sweeper(config.disk_sweep_interval());
    Ok(rocket::custom(figment)
        .attach(AdHoc::on_liftoff("disk sweeper", |rocket| {
            let stop = rocket.shutdown();
            Box::pin(async move {
                tokio::spawn(sweeper.run(stop));
            })
        }))
        .manage(memory)
        .manage(disk)
        .manage(RequestHistory::new(HISTORY_CAPACITY))
        .manage(config)
        .mount("/", api::routes())
        .register("/", errors::catchers()))
}
