//! The real binary, started and stopped the way an operator (or a crash)
//! would: SIGKILL mid-write, SIGTERM and Ctrl-C with requests in flight, and
//! raw requests no HTTP library would send.

mod crash;
mod half_open;
mod server;
mod shutdown;
mod wire;
