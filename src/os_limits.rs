//! Process limits the server raises for itself at start.

/// Raises the soft limit on open files to the hard limit and returns the
/// limit now in force.
///
/// Every connection holds a file descriptor, and a soft limit of 1,024 is a
/// common default: 1,100 connections that send half a request and wait (a
/// careless script, or someone in a workshop room) would leave none for
/// anyone else, and Rocket 0.5 cannot time out a request whose headers never
/// finish. The hard limit is usually far higher (a million on many systems)
/// and raising the soft one up to it needs no privilege. This does not time
/// such connections out: for a room on an open network, `scripts/room.sh`
/// puts nginx in front, which does (see "Running a room safely" in the
/// README).
#[cfg(target_os = "linux")]
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit = raised;
    }
    Ok(limit.rlim_cur)
}

/// Elsewhere the system's own limits stand.
#[cfg(not(target_os = "linux"))]
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    Err(std::io::Error::other("not raised on this system"))
}
