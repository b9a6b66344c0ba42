//! How much room a folder's filesystem has left, so disk caches can stay below it as well as below
//! their own size bound.

use std::io;
use std::path::Path;

/// Bytes an unprivileged process may still write on the filesystem holding `path` (`statvfs`'s
/// `f_bavail * f_frsize`). Where that cannot be asked (not Unix), `u64::MAX`.
pub fn available_bytes(path: &Path) -> io::Result<u64> {
    #[cfg(unix)]
    {
        let stat = rustix::fs::statvfs(path).map_err(io::Error::from)?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(u64::MAX)
    }
}

/// How many bytes must be freed so that writing `incoming` bytes still leaves `reserve` of the
/// `available` ones free.
pub fn shortfall(available: u64, reserve: u64, incoming: u64) -> u64 {
    incoming.saturating_add(reserve).saturating_sub(available)
}

/// Whether `e` says the disk (or the quota) is full.
pub fn is_disk_full(e: &io::Error) -> bool {
    #[cfg(unix)]
    if matches!(e.raw_os_error(), Some(code) if code == rustix::io::Errno::NOSPC.raw_os_error() || code == rustix::io::Errno::DQUOT.raw_os_error())
    {
        return true;
    }
    e.kind() == io::ErrorKind::StorageFull || e.kind() == io::ErrorKind::QuotaExceeded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortfall_counts_what_the_write_and_the_reserve_lack() {
        assert_eq!(shortfall(1000, 100, 500), 0);
        assert_eq!(shortfall(1000, 600, 500), 100);
        assert_eq!(shortfall(0, 0, 7), 7);
        assert_eq!(shortfall(10, u64::MAX, 1), u64::MAX - 10);
    }

    #[test]
    fn a_real_folder_has_some_room_and_full_disks_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        assert!(available_bytes(dir.path()).unwrap() > 0);
        assert!(available_bytes(&dir.path().join("missing")).is_err());
        assert!(is_disk_full(&io::Error::from_raw_os_error(28)));
        assert!(!is_disk_full(&io::Error::from(io::ErrorKind::NotFound)));
    }
}
