//! The real binary, started and stopped the way an operator (or a crash)
//! would: SIGKILL mid-write, SIGTERM and Ctrl-C with requests in flight, and
//! raw requests no HTTP library would send; several of them sharing one
//! cache_dir; what it tells the instructor when it starts; behind the
//! room command's nginx, as a connection guard and as a shared cache; and
//! several instances behind one nginx, each with a memory tier of its own;
//! and instances sharing one redis-server, through an outage of it.

mod crash;
mod half_open;
mod instances;
mod instructor;
mod proxy;
mod room;
mod server;
mod shared_cache;
mod shared_dir;
mod shared_tier;
mod shutdown;
mod sizing;
mod validators;
mod wire;
