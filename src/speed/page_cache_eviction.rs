//! Asking the kernel to forget a file's bytes, and checking that it did.
//!
//! Linux keeps recently read file bytes in RAM (the page cache), so a
//! second read of a file is usually a memory copy, not a disk read. To time
//! a read that really goes to the device, the file's pages are dropped
//! first with `posix_fadvise(POSIX_FADV_DONTNEED)`, after `fdatasync`
//! (the kernel does not drop pages that still wait to be written). The
//! advice is only advice, so each read is preceded by a check with
//! `mincore`, which says for each page of a mapping whether it is in RAM;
//! mapping a file does not read it, so the check changes nothing it sees.
//! See the `posix_fadvise(2)` and `mincore(2)` man pages.

use std::fs::File;

use serde::Serialize;

/// How much of a file was in the page cache at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Residency {
    /// Pages of the file in RAM.
    pub resident_pages: usize,
    /// Pages the file spans.
    pub total_pages: usize,
}

/// How the file's pages are dropped, in words for the page.
pub const METHOD: &str = platform::METHOD;

/// Whether this system can drop a file's pages and check that it did.
pub fn available() -> bool {
    platform::AVAILABLE
}

/// Writes out anything pending for `file`, then asks the kernel to drop
/// its pages from the page cache. Whether it did is for [`residency`] to say.
pub fn drop_from_page_cache(file: &File) -> std::io::Result<()> {
    platform::drop_from_page_cache(file)
}

/// How many of the first `len` bytes' pages of `file` are in RAM now.
pub fn residency(file: &File, len: usize) -> std::io::Result<Residency> {
    platform::residency(file, len)
}

#[cfg(target_os = "linux")]
mod platform {
    use std::fs::File;
    use std::os::fd::AsRawFd;

    use super::Residency;

    pub(super) const METHOD: &str = "fdatasync, then posix_fadvise(POSIX_FADV_DONTNEED)";
    pub(super) const AVAILABLE: bool = true;

    pub(super) fn drop_from_page_cache(file: &File) -> std::io::Result<()> {
        // Dirty pages are not dropped: they must reach the disk first.
        file.sync_data()?;
        // SAFETY: the descriptor is open for as long as `file` lives; offset
        // 0 and length 0 mean "the whole file".
        let advised =
            unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if advised == 0 {
            Ok(())
        } else {
            // posix_fadvise returns the error rather than setting errno.
            Err(std::io::Error::from_raw_os_error(advised))
        }
    }

    pub(super) fn residency(file: &File, len: usize) -> std::io::Result<Residency> {
        if len == 0 {
            return Ok(Residency {
                resident_pages: 0,
                total_pages: 0,
            });
        }
        let page = page_size();
        let total_pages = len.div_ceil(page);
        // SAFETY: a fresh read-only shared mapping of an open file, at an
        // address the kernel picks; nothing else refers to it, and it is
        // unmapped below on every path.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let mut pages = vec![0u8; total_pages];
        // SAFETY: `address` is the start of a mapping `len` bytes long, and
        // `pages` holds one byte per page of it, as mincore requires.
        let checked = unsafe { libc::mincore(address, len, pages.as_mut_ptr()) };
        let error = (checked != 0).then(std::io::Error::last_os_error);
        // SAFETY: the mapping made above, `len` bytes long, unused hereafter.
        unsafe { libc::munmap(address, len) };
        if let Some(error) = error {
            return Err(error);
        }
        Ok(Residency {
            // The lowest bit says whether the page is resident; the others
            // are reserved.
            resident_pages: pages.iter().filter(|page| *page & 1 == 1).count(),
            total_pages,
        })
    }

    fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size)
            .ok()
            .filter(|size| *size > 0)
            .unwrap_or(4096)
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use std::fs::File;

    use super::Residency;

    pub(super) const METHOD: &str = "not available on this system";
    pub(super) const AVAILABLE: bool = false;

    fn unsupported() -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "dropping a file from the page cache is not available on this system",
        )
    }

    pub(super) fn drop_from_page_cache(_file: &File) -> std::io::Result<()> {
        Err(unsupported())
    }

    pub(super) fn residency(_file: &File, _len: usize) -> std::io::Result<Residency> {
        Err(unsupported())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::Write;
    use std::path::Path;

    use super::*;

    /// The file system type of `path` as `statfs` names it, for messages.
    fn file_system_of(path: &Path) -> String {
        use std::os::unix::ffi::OsStrExt;
        let Ok(path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
            return "unknown".into();
        };
        // SAFETY: all zeroes is a valid statfs (plain integers), which the
        // call fills in; `path` is NUL-terminated.
        let mut info: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statfs(path.as_ptr(), &mut info) } != 0 {
            return "unknown".into();
        }
        match info.f_type {
            libc::TMPFS_MAGIC => "tmpfs (RAM only: its pages cannot be dropped)".into(),
            libc::EXT4_SUPER_MAGIC => "ext2/3/4".into(),
            libc::OVERLAYFS_SUPER_MAGIC => "overlayfs".into(),
            other => format!("type 0x{other:x}"),
        }
    }

    #[test]
    fn a_file_just_read_is_resident() {
        // Beside the crate, on the file system the app's cache_dir uses by
        // default, not in /tmp, which may be a tmpfs.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).expect("temp dir");
        let path = dir.path().join("value");
        std::fs::write(&path, vec![7u8; 10_000]).expect("write");
        let _ = std::fs::read(&path).expect("read");
        let file = File::open(&path).expect("open");
        let seen = residency(&file, 10_000).expect("mincore");
        assert!(seen.total_pages >= 1, "{seen:?}");
        assert_eq!(seen.resident_pages, seen.total_pages, "{seen:?}");
    }

    #[test]
    fn after_the_drop_no_page_is_resident() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).expect("temp dir");
        let path = dir.path().join("value");
        let mut file = File::create(&path).expect("create");
        file.write_all(&vec![7u8; 10_000]).expect("write");
        drop(file);
        let file = File::open(&path).expect("open");
        let _ = std::fs::read(&path).expect("a warm read first");
        assert!(residency(&file, 10_000).expect("mincore").resident_pages > 0);

        drop_from_page_cache(&file).expect("posix_fadvise");
        let seen = residency(&file, 10_000).expect("mincore");
        // If this fails on a file system that keeps its pages (tmpfs keeps
        // everything in RAM), the message says which one it was.
        assert_eq!(
            seen.resident_pages,
            0,
            "the kernel kept {} of {} pages after POSIX_FADV_DONTNEED on {}",
            seen.resident_pages,
            seen.total_pages,
            file_system_of(dir.path())
        );

        // And a read brings them back: the check sees real changes.
        let _ = std::fs::read(&path).expect("read");
        let seen = residency(&file, 10_000).expect("mincore");
        assert_eq!(seen.resident_pages, seen.total_pages, "{seen:?}");
    }
}
