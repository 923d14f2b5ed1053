//! Facts about the machine the app runs on, read when a page is drawn, so
//! that pages state what this machine has instead of what machines usually
//! have.

use std::path::Path;

/// The file system that holds a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSystem {
    /// Its whole size.
    pub size_bytes: u64,
    /// The unit it hands out space in: a file takes a whole number of these.
    pub block_bytes: u64,
}

/// The machine's RAM, if the system says (Linux only, for now).
pub fn memory_bytes() -> Option<u64> {
    platform::memory_bytes()
}

/// The file system holding `path`, if the system says (Linux only, for now).
pub fn file_system_of(path: &Path) -> Option<FileSystem> {
    platform::file_system_of(path)
}

#[cfg(target_os = "linux")]
mod platform {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use super::FileSystem;

    pub(super) fn memory_bytes() -> Option<u64> {
        // SAFETY: `sysinfo` is plain integers, for which all zeroes is valid.
        let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable `sysinfo` that outlives the call.
        if unsafe { libc::sysinfo(&mut info) } != 0 {
            return None;
        }
        // c_ulong is 32 bits wide on some targets and 64 on others.
        #[allow(clippy::unnecessary_cast)]
        let total_ram = info.totalram as u64;
        total_ram.checked_mul(u64::from(info.mem_unit))
    }

    pub(super) fn file_system_of(path: &Path) -> Option<FileSystem> {
        let path = CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: `statvfs` is plain integers, for which all zeroes is valid.
        let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `path` is NUL-terminated and `stats` a valid, writable
        // `statvfs`; both outlive the call.
        if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
            return None;
        }
        // f_frsize is the unit f_blocks counts in and space is allocated
        // in. Both are 32 bits wide on some targets and 64 on others.
        #[allow(clippy::unnecessary_cast)]
        let (block_bytes, blocks) = (stats.f_frsize as u64, stats.f_blocks as u64);
        (block_bytes > 0).then_some(FileSystem {
            size_bytes: blocks.saturating_mul(block_bytes),
            block_bytes,
        })
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use std::path::Path;

    use super::FileSystem;

    pub(super) fn memory_bytes() -> Option<u64> {
        None
    }

    pub(super) fn file_system_of(_path: &Path) -> Option<FileSystem> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn linux_says_how_much_ram_and_disk_there_is() {
        let ram = memory_bytes().expect("sysinfo answers");
        assert!(ram >= 64 * 1024 * 1024, "{ram}");
        let here = file_system_of(Path::new(".")).expect("statvfs answers");
        assert!(here.block_bytes >= 512, "{here:?}");
        assert!(here.size_bytes > here.block_bytes, "{here:?}");
    }

    #[test]
    fn a_path_that_does_not_exist_is_no_file_system() {
        assert_eq!(file_system_of(Path::new("/no/such/place/at/all")), None);
    }
}
