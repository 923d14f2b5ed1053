//! Fills a cache_dir with stored answers, as if the app had answered that
//! many different `POST /data` bodies: the entries are written with cacache
//! exactly as the disk tier writes them (the key is the hex SHA-256 of the
//! canonical body, the content is the body itself, SHA-256 integrity, the
//! write time in unix milliseconds), so the app finds them all on start.
//!
//! ```sh
//! cargo run --release --example fill_cache -- /tmp/cache 50000
//! ```
//!
//! Entry `i` holds `{"entry":i,"filled":"by fill_cache"}`. Once done, it
//! prints the bodies of ten entries spread over the range, one per line, for
//! a caller that wants to ask for stored entries. No footprint record is
//! written: the app measures the directory itself the first time.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

fn body(entry: usize) -> String {
    format!(r#"{{"entry":{entry},"filled":"by fill_cache"}}"#)
}

fn write_entry(dir: &Path, body: &str, written_at_ms: u128) -> cacache::Result<()> {
    let key = format!("{:x}", Sha256::digest(body.as_bytes()));
    let mut writer = cacache::WriteOpts::new()
        .algorithm(cacache::Algorithm::Sha256)
        .size(body.len())
        .time(written_at_ms)
        .open_sync(dir, &key)?;
    writer
        .write_all(body.as_bytes())
        .map_err(|error| cacache::Error::IoError(error, format!("writing content for {key}")))?;
    writer.commit().map(drop)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(Ok(count))) = (args.first(), args.get(1).map(|n| n.parse::<usize>()))
    else {
        eprintln!("usage: fill_cache <cache_dir> <entries>");
        return ExitCode::from(2);
    };
    let dir = Path::new(dir);
    let written_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let started = Instant::now();
    // File creation waits on the file system more than on the CPU, so a
    // thread per core keeps the disk busy.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let failed = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    (thread..count)
                        .step_by(threads)
                        .find_map(|entry| write_entry(dir, &body(entry), written_at_ms).err())
                })
            })
            .collect();
        workers
            .into_iter()
            .find_map(|worker| worker.join().unwrap_or(None))
    });
    if let Some(error) = failed {
        eprintln!("fill_cache: {error}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "fill_cache: {count} entries written to {} in {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    for sample in 0..10 {
        if count > 0 {
            println!("{}", body(sample * count / 10 + count / 20));
        }
    }
    ExitCode::SUCCESS
}
