//! Reads that must not wait for the disk. Work done on an async worker thread (the server's quick
//! renders of one small tile) must not block that thread on a disk read: with a thread per core,
//! one read from a cold disk would hold up every connection those threads serve. Inside
//! [`from_memory`], local files are read from the page cache only (`preadv2` with `RWF_NOWAIT`);
//! a read that would wait fails with [`io::ErrorKind::WouldBlock`] instead, and `from_memory`
//! returns `None`, so that the caller does the work again where waiting is allowed.

use std::cell::Cell;
use std::fs::File;
use std::io;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reads may wait (the default).
    Waiting,
    /// Inside `from_memory`, nothing waited yet.
    FromMemory,
    /// Inside `from_memory`, a read would have waited.
    WouldWait,
}

thread_local! {
    static STATE: Cell<State> = const { Cell::new(State::Waiting) };
}

/// Restores the thread's state when `from_memory` ends, also by a panic.
struct Restore(State);

impl Drop for Restore {
    fn drop(&mut self) {
        STATE.with(|s| s.set(self.0));
    }
}

/// `work` with local file reads answered from the page cache only; `None` when one of them would
/// have waited for the disk (its error then went to `work`, which must be done again elsewhere).
pub fn from_memory<T>(work: impl FnOnce() -> T) -> Option<T> {
    let _restore = Restore(STATE.with(|s| s.replace(State::FromMemory)));
    let value = work();
    (!would_have_waited()).then_some(value)
}

/// Whether a read in the current [`from_memory`] would have waited for the disk.
pub fn would_have_waited() -> bool {
    STATE.with(Cell::get) == State::WouldWait
}

/// Whether reads on this thread must not wait.
pub(crate) fn active() -> bool {
    STATE.with(Cell::get) != State::Waiting
}

/// The error of a read that would have waited, noted for [`from_memory`].
fn would_wait() -> io::Error {
    STATE.with(|s| s.set(State::WouldWait));
    io::Error::new(io::ErrorKind::WouldBlock, "not in the page cache")
}

/// Fill `buf` from `offset` of `file` with what the page cache holds; any part that is not there
/// (or a kernel or file system without `RWF_NOWAIT`, or any failure, which the read done again
/// elsewhere will report) is [`would_wait`].
pub(crate) fn read_exact_at(file: &File, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let read = read_cached(file, offset, buf);
        match read {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(would_wait()),
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn read_cached(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    use rustix::io::{preadv2, ReadWriteFlags};
    let mut slices = [io::IoSliceMut::new(buf)];
    preadv2(file, &mut slices, offset, ReadWriteFlags::NOWAIT).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn read_cached(_file: &File, _offset: u64, _buf: &mut [u8]) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn cached_reads_pass_and_the_state_is_restored() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"0123456789").unwrap();
        file.flush().unwrap();
        let opened = File::open(file.path()).unwrap();
        // Just written, so in the page cache.
        let got = from_memory(|| {
            let mut buf = [0u8; 4];
            read_exact_at(&opened, 3, &mut buf).map(|()| buf)
        });
        assert_eq!(got.unwrap().unwrap(), *b"3456");
        assert!(!active());
        let past_end = from_memory(|| read_exact_at(&opened, 8, &mut [0u8; 4]));
        let error = past_end.expect("the end of a file is no wait").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_file_dropped_from_the_page_cache_is_not_read_and_then_read_where_waiting_is_allowed() {
        use rustix::fs::{fadvise, Advice};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cold.bin");
        let bytes: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let opened = File::open(&path).unwrap();
        opened.sync_all().unwrap();
        fadvise(&opened, 0, None, Advice::DontNeed).unwrap();
        let mut buf = vec![0u8; 4096];
        match from_memory(|| read_exact_at(&opened, 512 << 10, &mut buf)) {
            None => {}
            // A file system whose pages cannot be dropped (tmpfs) holds them still.
            Some(read) => {
                read.unwrap();
                eprintln!("the page cache kept the file: nothing to check here");
            }
        }
        use std::os::unix::fs::FileExt;
        opened.read_exact_at(&mut buf, 512 << 10).unwrap();
        assert_eq!(buf, bytes[512 << 10..(512 << 10) + 4096]);
    }

    #[test]
    fn a_read_that_would_wait_makes_the_work_none_even_if_it_hid_the_error() {
        assert_eq!(from_memory(|| would_wait().kind()), None);
        assert!(!would_have_waited() && !active());
        let nested = from_memory(|| {
            let inner = from_memory(|| ());
            (inner, active())
        });
        assert_eq!(nested, Some((Some(()), true)));
        assert!(!active());
    }

    #[test]
    fn a_panic_inside_restores_the_state() {
        let unwound = std::panic::catch_unwind(|| from_memory(|| panic!("broken")));
        assert!(unwound.is_err());
        assert!(!active());
    }
}
