//! Opening files under one folder so that nothing outside it is ever opened, even while someone swaps
//! symlinks in and out of it: the folder is held open as a descriptor from start-up, and every path is
//! resolved by the kernel relative to it (`openat2` with `RESOLVE_BENEATH`), or, where the kernel has no
//! `openat2` (Linux < 5.6, or a seccomp filter refusing it), by a walk of one `openat(O_NOFOLLOW)` per
//! component that follows symlinks itself. What was opened is what is used: callers `fstat` the
//! descriptor, never the path again.
//!
//! Symlinks that stay inside the folder are followed; a symlink (or `..`) that would climb out of it, an
//! absolute symlink, and `/proc` magic links are refused.

use rustix::fs::{FileType, Mode, OFlags};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicBool, Ordering};

/// Most symlinks followed while resolving one path (as the kernel's own limit).
const MAX_SYMLINKS: usize = 40;

/// Retries of `openat2` when the kernel could not rule out a concurrent rename during `..` (`EAGAIN`).
const MAX_RETRIES: usize = 16;

/// How a file found under the folder is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// An `O_PATH` handle: enough to `fstat`, and nothing is opened (a FIFO or device is never touched).
    Handle,
    /// Opened for reading (`O_NONBLOCK`, so a FIFO cannot hang the open; callers check the type).
    Read,
}

impl Access {
    fn flags(self) -> OFlags {
        match self {
            Access::Handle => OFlags::PATH | OFlags::CLOEXEC,
            Access::Read => OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        }
    }
}

/// A folder held open, under which relative paths are opened without ever leaving it.
#[derive(Debug)]
pub struct Beneath {
    root: OwnedFd,
    kernel: AtomicBool,
}

impl Beneath {
    /// Hold `dir` open (an `O_PATH` descriptor) and find out whether the kernel offers `openat2`.
    pub fn new(dir: &Path) -> io::Result<Self> {
        let root = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let kernel = kernel_open(root.as_fd(), Path::new("."), Access::Handle)
            .map_or_else(|e| !unsupported(e), |_| true);
        Ok(Self {
            root,
            kernel: AtomicBool::new(kernel),
        })
    }

    /// Whether paths are resolved by `openat2` (else by the walk).
    pub fn uses_openat2(&self) -> bool {
        self.kernel.load(Ordering::Relaxed)
    }

    /// Open `relative` under the folder: one `openat2` where the kernel has it. `..` and symlinks are
    /// followed only as long as they stay inside; leaving is `EXDEV`, a loop `ELOOP`.
    pub fn open(&self, relative: &Path, access: Access) -> io::Result<OwnedFd> {
        if self.kernel.load(Ordering::Relaxed) {
            match kernel_open(self.root.as_fd(), relative, access) {
                Err(e) if unsupported(e) => self.kernel.store(false, Ordering::Relaxed),
                other => return other.map_err(io::Error::from),
            }
        }
        walk(self.root.as_fd(), relative, access)
    }
}

/// Errors that mean `openat2` itself is missing or forbidden, not that the path is bad.
fn unsupported(e: rustix::io::Errno) -> bool {
    e == rustix::io::Errno::NOSYS || e == rustix::io::Errno::PERM
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn kernel_open(root: BorrowedFd, relative: &Path, access: Access) -> rustix::io::Result<OwnedFd> {
    use rustix::fs::ResolveFlags;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(root, relative, access.flags(), Mode::empty(), resolve) {
            Err(rustix::io::Errno::AGAIN) if tries < MAX_RETRIES => tries += 1,
            Err(rustix::io::Errno::AGAIN) => return Err(rustix::io::Errno::XDEV),
            other => return other,
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn kernel_open(_: BorrowedFd, _: &Path, _: Access) -> rustix::io::Result<OwnedFd> {
    Err(rustix::io::Errno::NOSYS)
}

/// `relative` opened under `root` one component at a time, each with `O_PATH | O_NOFOLLOW`, so no
/// symlink is ever followed by the kernel: a symlink is read through its own descriptor and its target
/// walked in its place, and `..` pops back to the folder it came from (never above `root`).
pub(crate) fn walk(root: BorrowedFd, relative: &Path, access: Access) -> io::Result<OwnedFd> {
    let mut pending: Vec<Vec<u8>> = Vec::new();
    push_components(&mut pending, relative)?;
    let mut dirs: Vec<OwnedFd> = Vec::new();
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == b".." {
            if dirs.pop().is_none() {
                return Err(rustix::io::Errno::XDEV.into());
            }
            continue;
        }
        let here = dirs.last().map_or(root, |d| d.as_fd());
        let name = OsStr::from_bytes(&name);
        let fd = rustix::fs::openat(
            here,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode);
        if kind == FileType::Symlink {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(rustix::io::Errno::LOOP.into());
            }
            let target = rustix::fs::readlinkat(&fd, "", Vec::new())?;
            let target = Path::new(OsStr::from_bytes(target.as_bytes()));
            if target.has_root() {
                return Err(rustix::io::Errno::XDEV.into());
            }
            push_components(&mut pending, target)?;
        } else if !pending.is_empty() {
            if kind != FileType::Directory {
                return Err(rustix::io::Errno::NOTDIR.into());
            }
            dirs.push(fd);
        } else if access == Access::Handle {
            return Ok(fd);
        } else {
            // Reopened for reading by name in the same folder, still without following a symlink: if
            // the entry was swapped meanwhile, whatever is opened lies in this folder all the same.
            let flags = access.flags() | OFlags::NOFOLLOW;
            return Ok(rustix::fs::openat(here, name, flags, Mode::empty())?);
        }
    }
    // Only `.` and `..` were left: the path names a folder, not a file.
    Err(rustix::io::Errno::ISDIR.into())
}

/// Push `path`'s components onto `pending` so that the first is popped first.
fn push_components(pending: &mut Vec<Vec<u8>>, path: &Path) -> io::Result<()> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n.as_bytes().to_vec()),
            Component::ParentDir => parts.push(b"..".to_vec()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(rustix::io::Errno::XDEV.into());
            }
        }
    }
    pending.extend(parts.into_iter().rev());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    /// `root/` with `a.png`, `sub/b.png`, and `secret.png` beside it (outside), plus the given links.
    fn tree() -> (tempfile::TempDir, Beneath) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("sub/deeper")).unwrap();
        fs::write(root.join("a.png"), b"inside").unwrap();
        fs::write(root.join("sub/b.png"), b"sub").unwrap();
        fs::write(dir.path().join("secret.png"), b"secret").unwrap();
        symlink("../secret.png", root.join("dotdot.png")).unwrap();
        symlink(dir.path().join("secret.png"), root.join("absolute.png")).unwrap();
        symlink(root.join("a.png"), root.join("absolute-inside.png")).unwrap();
        symlink("..", root.join("up")).unwrap();
        symlink("a.png", root.join("inside.png")).unwrap();
        symlink("../a.png", root.join("sub/parent.png")).unwrap();
        symlink("../../sub/b.png", root.join("sub/deeper/zigzag.png")).unwrap();
        symlink("sub", root.join("subdir")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        let beneath = Beneath::new(&root).unwrap();
        (dir, beneath)
    }

    type Opener = fn(&Beneath, &str, Access) -> io::Result<OwnedFd>;

    fn by_kernel(b: &Beneath, p: &str, a: Access) -> io::Result<OwnedFd> {
        assert!(b.uses_openat2(), "this kernel has openat2");
        b.open(Path::new(p), a)
    }

    fn by_walk(b: &Beneath, p: &str, a: Access) -> io::Result<OwnedFd> {
        walk(b.root.as_fd(), Path::new(p), a)
    }

    fn read(fd: OwnedFd) -> String {
        let mut text = String::new();
        fs::File::from(fd).read_to_string(&mut text).unwrap();
        text
    }

    fn refused(open: Opener, b: &Beneath, path: &str) -> i32 {
        match open(b, path, Access::Read) {
            Ok(fd) => panic!("{path} opened: {:?}", read(fd)),
            Err(e) => e.raw_os_error().unwrap_or(0),
        }
    }

    fn check_both(check: impl Fn(Opener, &Beneath)) {
        let (_d, b) = tree();
        check(by_kernel, &b);
        check(by_walk, &b);
    }

    #[test]
    fn plain_files_and_in_root_symlinks_open() {
        check_both(|open, b| {
            assert_eq!(read(open(b, "a.png", Access::Read).unwrap()), "inside");
            assert_eq!(read(open(b, "inside.png", Access::Read).unwrap()), "inside");
            assert_eq!(
                read(open(b, "sub/parent.png", Access::Read).unwrap()),
                "inside"
            );
            assert_eq!(read(open(b, "subdir/b.png", Access::Read).unwrap()), "sub");
            let zigzag = open(b, "sub/deeper/zigzag.png", Access::Read).unwrap();
            assert_eq!(read(zigzag), "sub");
            assert!(open(b, "inside.png", Access::Handle).is_ok());
        });
    }

    #[test]
    fn escapes_are_refused() {
        check_both(|open, b| {
            let exdev = rustix::io::Errno::XDEV.raw_os_error();
            assert_eq!(refused(open, b, "../secret.png"), exdev);
            assert_eq!(refused(open, b, "sub/../../secret.png"), exdev);
            assert_eq!(refused(open, b, "dotdot.png"), exdev);
            assert_eq!(refused(open, b, "up/secret.png"), exdev);
            assert_eq!(refused(open, b, "absolute.png"), exdev);
            // Absolute symlinks are refused even when they point inside: RESOLVE_BENEATH's rule.
            assert_eq!(refused(open, b, "absolute-inside.png"), exdev);
            assert_eq!(refused(open, b, "/etc/hostname"), exdev);
        });
    }

    #[test]
    fn loops_and_missing_files_fail() {
        check_both(|open, b| {
            let eloop = rustix::io::Errno::LOOP.raw_os_error();
            assert_eq!(refused(open, b, "loop1"), eloop);
            let enoent = rustix::io::Errno::NOENT.raw_os_error();
            assert_eq!(refused(open, b, "missing.png"), enoent);
            let enotdir = rustix::io::Errno::NOTDIR.raw_os_error();
            assert_eq!(refused(open, b, "a.png/x"), enotdir);
        });
    }

    #[test]
    fn a_fifo_opens_without_hanging_and_is_not_a_regular_file() {
        let (dir, b) = tree();
        let fifo = dir.path().join("root/pipe.png");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        for open in [by_kernel as Opener, by_walk] {
            for access in [Access::Read, Access::Handle] {
                let fd = open(&b, "pipe.png", access).unwrap();
                let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd).unwrap().st_mode);
                assert_eq!(kind, FileType::Fifo);
            }
        }
    }
}
