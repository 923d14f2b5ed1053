//! Reading stored content without a trip to the blocking thread pool when
//! the kernel already holds it in memory.
//!
//! A file read can wait for the disk, and an async worker thread must never
//! wait: other requests are queued behind it. But moving each read to another thread costs two
//! thread switches, which under load took a third or more of a disk hit's
//! throughput, while a file read moments ago is almost always still in the
//! kernel's page cache. Linux can say so without waiting: `openat2` with
//! `RESOLVE_CACHED` opens a file only if its path resolves from memory, and
//! `preadv2` with `RWF_NOWAIT` reads only what is already cached. Either
//! one answers "would block" instead of waiting, and then the caller falls
//! back to the ordinary read on the blocking pool.
//!
//! The bytes are checked against their integrity hash here too: this path
//! never serves anything the normal read would refuse. It reads cacache's
//! content files where cacache keeps them (`content-v2/<algorithm>/..`); if
//! that layout ever changes, the file is simply not found and every read
//! takes the fallback.

use std::path::{Path, PathBuf};

use cacache::Integrity;

/// The content for `integrity`, verified, if the kernel can hand over all of
/// it without waiting for the disk. `None` means "use the blocking read",
/// for any reason: not in memory, not Linux, a damaged file, an old kernel.
pub(super) fn read_if_cached(dir: &Path, integrity: &Integrity, size: usize) -> Option<Vec<u8>> {
    let bytes = platform::read_if_cached(&content_path(dir, integrity), size)?;
    integrity.check(&bytes).ok()?;
    Some(bytes)
}

/// Where cacache 13 keeps the content for `integrity`:
/// `<dir>/content-v2/<algorithm>/<hex[0..2]>/<hex[2..4]>/<hex[4..]>`. Built in
/// one allocation: on a hit this runs once per request.
fn content_path(dir: &Path, integrity: &Integrity) -> PathBuf {
    let (algorithm, hex) = integrity.to_hex();
    let algorithm = algorithm.to_string();
    let dir = dir.as_os_str();
    let mut path = std::ffi::OsString::with_capacity(dir.len() + algorithm.len() + hex.len() + 20);
    path.push(dir);
    path.push("/content-v2/");
    path.push(&algorithm);
    path.push("/");
    path.push(&hex[0..2]);
    path.push("/");
    path.push(&hex[2..4]);
    path.push("/");
    path.push(&hex[4..]);
    PathBuf::from(path)
}

#[cfg(target_os = "linux")]
mod platform {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::OnceLock;

    /// Cleared the first time the kernel turns out to lack `openat2` or
    /// `RWF_NOWAIT`, so old kernels pay for the attempt only once.
    pub(super) static SUPPORTED: AtomicBool = AtomicBool::new(true);

    pub(super) fn read_if_cached(path: &Path, size: usize) -> Option<Vec<u8>> {
        if !SUPPORTED.load(Ordering::Relaxed) {
            return None;
        }
        let file = open_if_cached(path)?;
        // One byte more than the entry says: a file that fills it is longer
        // than it should be, so it has been damaged, even if its first
        // `size` bytes still verify. That is left to the checked read,
        // which refuses it.
        let mut bytes = vec![0u8; size + 1];
        let mut filled = 0;
        loop {
            let rest = &mut bytes[filled..];
            let iov = libc::iovec {
                iov_base: rest.as_mut_ptr().cast(),
                iov_len: rest.len(),
            };
            let offset = libc::off_t::try_from(filled).ok()?;
            // SAFETY: `iov` points into `bytes`, which outlives the call and
            // is at least `iov_len` long; the descriptor is open.
            let read =
                unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
            match read {
                0 => break,
                n if n > 0 => filled += usize::try_from(n).ok()?,
                _ => {
                    note_unsupported(std::io::Error::last_os_error());
                    return None;
                }
            }
            if filled > size {
                return None;
            }
            // A short read stops at the end of the file or where the cached
            // part of it ends, and the page cache holds whole pages: a read
            // that stops mid-page has reached the end of the file, and no
            // second call is needed to find that out.
            if filled % page_size() != 0 {
                break;
            }
        }
        bytes.truncate(filled);
        Some(bytes)
    }

    fn page_size() -> usize {
        static PAGE_SIZE: OnceLock<usize> = OnceLock::new();
        *PAGE_SIZE.get_or_init(|| {
            // SAFETY: sysconf has no preconditions.
            let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            usize::try_from(size)
                .ok()
                .filter(|size| *size > 0)
                .unwrap_or(4096)
        })
    }

    fn open_if_cached(path: &Path) -> Option<OwnedFd> {
        let path = CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: `open_how` is plain integers, for which all zeroes is valid
        // (and the kernel wants unused fields zero).
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (libc::O_RDONLY | libc::O_CLOEXEC) as u64;
        how.resolve = libc::RESOLVE_CACHED;
        // SAFETY: `path` is a NUL-terminated string and `how` a valid
        // `open_how` whose size we pass; both outlive the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                libc::AT_FDCWD,
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd < 0 {
            note_unsupported(std::io::Error::last_os_error());
            return None;
        }
        let fd = i32::try_from(fd).ok()?;
        // SAFETY: the kernel just returned this descriptor to us, open and
        // owned by nobody else.
        Some(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// "Would block" and "not found" are ordinary answers; these mean the
    /// kernel cannot do non-blocking opens or reads at all.
    fn note_unsupported(error: std::io::Error) {
        let unsupported = [libc::ENOSYS, libc::EOPNOTSUPP, libc::E2BIG];
        if error
            .raw_os_error()
            .is_some_and(|code| unsupported.contains(&code))
        {
            SUPPORTED.store(false, Ordering::Relaxed);
            log::info!("disk tier: non-blocking cached reads unavailable ({error}); using the blocking pool");
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use std::path::Path;

    pub(super) fn read_if_cached(_path: &Path, _size: usize) -> Option<Vec<u8>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn store(dir: &Path, key: &str, body: &[u8]) -> Integrity {
        let mut writer = cacache::WriteOpts::new()
            .algorithm(cacache::Algorithm::Sha256)
            .size(body.len())
            .open_sync(dir, key)
            .expect("open a cacache writer");
        writer.write_all(body).expect("write content");
        writer.commit().expect("commit content")
    }

    #[test]
    fn finds_content_where_cacache_stores_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let integrity = store(dir.path(), "k", br#"{"a":1}"#);
        // If a cacache upgrade moves its files, this fails rather than every
        // hit quietly taking the slower path.
        let path = content_path(dir.path(), &integrity);
        assert!(path.is_file(), "no content file at {}", path.display());
    }

    #[test]
    fn reads_fresh_content_verified() {
        let dir = tempfile::tempdir().expect("temp dir");
        let body = br#"{"a":1,"b":[true,null]}"#;
        let integrity = store(dir.path(), "k", body);
        // Just written, so in the page cache; None is allowed only where the
        // kernel cannot do non-blocking reads.
        match read_if_cached(dir.path(), &integrity, body.len()) {
            Some(bytes) => assert_eq!(bytes, body),
            None => assert!(!cfg!(target_os = "linux") || !platform_supported()),
        }
    }

    #[test]
    fn damaged_content_is_never_returned() {
        let dir = tempfile::tempdir().expect("temp dir");
        let body = br#"{"a":1}"#;
        let integrity = store(dir.path(), "k", body);
        let path = content_path(dir.path(), &integrity);
        std::fs::write(&path, br#"{"a":2}"#).expect("overwrite content");
        assert_eq!(read_if_cached(dir.path(), &integrity, body.len()), None);
        std::fs::write(&path, br#"{"a""#).expect("truncate content");
        assert_eq!(read_if_cached(dir.path(), &integrity, body.len()), None);
    }

    #[test]
    fn a_file_longer_than_its_entry_is_never_returned() {
        // Small, exactly one page, and several pages: a read that fills a
        // whole page must look again before it calls the file complete.
        for len in [7usize, 4096, 3 * 4096 + 5] {
            let dir = tempfile::tempdir().expect("temp dir");
            let body = json_of_length(len);
            let integrity = store(dir.path(), "k", &body);
            let path = content_path(dir.path(), &integrity);
            let mut longer = body.clone();
            longer.extend_from_slice(b"  ");
            std::fs::write(&path, &longer).expect("append to content");
            assert_eq!(
                read_if_cached(dir.path(), &integrity, body.len()),
                None,
                "{len} bytes and two more"
            );
        }
    }

    #[test]
    fn reads_content_of_any_length_whole() {
        for len in [1usize, 4095, 4096, 4097, 8192, 3 * 4096 + 5] {
            let dir = tempfile::tempdir().expect("temp dir");
            let body = json_of_length(len);
            let integrity = store(dir.path(), "k", &body);
            match read_if_cached(dir.path(), &integrity, body.len()) {
                Some(bytes) => assert_eq!(bytes, body, "{len} bytes"),
                None => assert!(!cfg!(target_os = "linux") || !platform_supported()),
            }
        }
    }

    /// A JSON string of exactly `len` bytes (`len` ≥ 1; a lone digit for 1).
    fn json_of_length(len: usize) -> Vec<u8> {
        if len == 1 {
            return b"7".to_vec();
        }
        let mut body = vec![b'x'; len];
        body[0] = b'"';
        body[len - 1] = b'"';
        body
    }

    #[cfg(target_os = "linux")]
    fn platform_supported() -> bool {
        platform::SUPPORTED.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[cfg(not(target_os = "linux"))]
    fn platform_supported() -> bool {
        false
    }
}
