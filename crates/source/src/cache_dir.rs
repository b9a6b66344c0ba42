//! A folder Tessera owns (a cache), held open by descriptor: every file in it is reached from that
//! descriptor one plain name at a time with `O_NOFOLLOW`, created with `O_EXCL`, renamed and removed
//! with `renameat`/`unlinkat`, so a symlink planted anywhere inside can neither make Tessera read a file
//! outside the folder nor write, touch or delete one.

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What an entry of a cache folder is (symlinks are never followed to find out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// Anything else: a symlink, FIFO, socket or device.
    Other,
}

/// One entry of a cache folder, as `fstatat(AT_SYMLINK_NOFOLLOW)` saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
    /// Size in bytes.
    pub len: u64,
    /// Modification time.
    pub modified: SystemTime,
}

/// A cache folder held open. Paths given to it are relative, `/`-separated plain names (no `.`, `..`
/// or empty parts); none of their components may be a symlink.
#[derive(Debug, Clone)]
pub struct CacheDir {
    path: PathBuf,
    fd: Arc<OwnedFd>,
}

impl CacheDir {
    /// `dir` (created with its parents if missing), held open. `dir` itself comes from the
    /// configuration and is trusted; only what lies inside it is not.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(dir, flags, Mode::empty())?;
        Ok(Self {
            path: dir.to_path_buf(),
            fd: Arc::new(fd),
        })
    }

    /// The folder's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The regular file at `rel`, opened for reading (`O_NONBLOCK`: a planted FIFO cannot hang it).
    pub fn open_file(&self, rel: &str) -> io::Result<File> {
        let (parent, name) = self.parent(rel)?;
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let file = File::from(rustix::fs::openat(
            parent.fd(self),
            name,
            flags,
            Mode::empty(),
        )?);
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}/{rel} is not a regular file", self.path.display()),
            ));
        }
        Ok(file)
    }

    /// The whole regular file at `rel`.
    pub fn read(&self, rel: &str) -> io::Result<Vec<u8>> {
        let mut file = self.open_file(rel)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        Ok(data)
    }

    /// A new file at `rel`, open for reading and writing; fails if anything (a symlink included)
    /// is already there (`O_CREAT | O_EXCL | O_NOFOLLOW`).
    pub fn create_new(&self, rel: &str) -> io::Result<File> {
        let (parent, name) = self.parent(rel)?;
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(parent.fd(self), name, flags, Mode::from_raw_mode(0o644))?;
        Ok(File::from(fd))
    }

    /// Make the folder `rel` and its parents where missing; an existing symlink in its place fails.
    pub fn create_dirs(&self, rel: &str) -> io::Result<()> {
        let mut here: Option<OwnedFd> = None;
        for part in parts(rel)? {
            let at = here.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd());
            match rustix::fs::mkdirat(at, part, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            here = Some(open_dir(at, part)?);
        }
        Ok(())
    }

    /// Rename `from` to `to` (both inside this folder), replacing whatever entry `to` is; nothing is
    /// followed.
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (from_parent, from_name) = self.parent(from)?;
        let (to_parent, to_name) = self.parent(to)?;
        Ok(rustix::fs::renameat(
            from_parent.fd(self),
            from_name,
            to_parent.fd(self),
            to_name,
        )?)
    }

    /// Remove the entry `rel` that is not a folder (a symlink is removed itself, never its target).
    pub fn remove_file(&self, rel: &str) -> io::Result<()> {
        let (parent, name) = self.parent(rel)?;
        Ok(rustix::fs::unlinkat(
            parent.fd(self),
            name,
            AtFlags::empty(),
        )?)
    }

    /// Remove the empty folder `rel`.
    pub fn remove_dir(&self, rel: &str) -> io::Result<()> {
        let (parent, name) = self.parent(rel)?;
        Ok(rustix::fs::unlinkat(
            parent.fd(self),
            name,
            AtFlags::REMOVEDIR,
        )?)
    }

    /// The entries of the folder `rel` (`""` for this folder itself), `.` and `..` left out, names that
    /// are not UTF-8 skipped.
    pub fn entries(&self, rel: &str) -> io::Result<Vec<Entry>> {
        let mut here: Option<OwnedFd> = None;
        for part in parts_or_none(rel)? {
            let at = here.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd());
            here = Some(open_dir(at, part)?);
        }
        let at = here.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd());
        let listing = rustix::fs::openat(
            at,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut entries = Vec::new();
        for entry in Dir::read_from(&listing)?.filter_map(Result::ok) {
            let Ok(name) = entry.file_name().to_str() else {
                continue;
            };
            if name == "." || name == ".." {
                continue;
            }
            let Ok(stat) = rustix::fs::statat(&listing, name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            let kind = match FileType::from_raw_mode(stat.st_mode) {
                FileType::RegularFile => EntryKind::File,
                FileType::Directory => EntryKind::Dir,
                _ => EntryKind::Other,
            };
            let secs = u64::try_from(stat.st_mtime).unwrap_or(0);
            let nanos = u32::try_from(stat.st_mtime_nsec).unwrap_or(0);
            entries.push(Entry {
                name: name.to_string(),
                kind,
                len: u64::try_from(stat.st_size).unwrap_or(0),
                modified: SystemTime::UNIX_EPOCH + Duration::new(secs, nanos),
            });
        }
        Ok(entries)
    }

    /// The folder holding `rel`'s last component (opened without following symlinks), and that name.
    fn parent<'a>(&self, rel: &'a str) -> io::Result<(Parent, &'a str)> {
        let mut all = parts(rel)?;
        let name = all.pop().ok_or_else(|| invalid(rel))?;
        let mut here: Option<OwnedFd> = None;
        for part in all {
            let at = here.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd());
            here = Some(open_dir(at, part)?);
        }
        Ok((Parent(here), name))
    }
}

/// A parent folder: the cache folder itself (`None`) or a subfolder opened below it.
struct Parent(Option<OwnedFd>);

impl Parent {
    fn fd<'a>(&'a self, dir: &'a CacheDir) -> BorrowedFd<'a> {
        self.0.as_ref().map_or(dir.fd.as_fd(), |d| d.as_fd())
    }
}

/// The folder `name` in `at`, which must be a real folder, not a symlink to one.
fn open_dir(at: BorrowedFd, name: &str) -> io::Result<OwnedFd> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(at, name, flags, Mode::empty())?)
}

/// `rel`'s components, each a plain name.
fn parts(rel: &str) -> io::Result<Vec<&str>> {
    let all: Vec<&str> = rel.split('/').collect();
    if all.iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
        return Err(invalid(rel));
    }
    Ok(all)
}

/// [`parts`], with `""` meaning the folder itself.
fn parts_or_none(rel: &str) -> io::Result<Vec<&str>> {
    if rel.is_empty() {
        Ok(Vec::new())
    } else {
        parts(rel)
    }
}

fn invalid(rel: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{rel:?} is not a plain relative path in a cache folder"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::symlink;

    /// A cache folder with a planted symlink to an outside file and one to an outside folder.
    fn planted() -> (tempfile::TempDir, CacheDir) {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("victim"), b"precious").unwrap();
        let cache = CacheDir::open(&dir.path().join("cache")).unwrap();
        symlink(outside.join("victim"), cache.path().join("file-link")).unwrap();
        symlink(&outside, cache.path().join("dir-link")).unwrap();
        (dir, cache)
    }

    fn victim(dir: &tempfile::TempDir) -> Vec<u8> {
        std::fs::read(dir.path().join("outside/victim")).unwrap()
    }

    #[test]
    fn writes_reads_renames_and_removes_inside() {
        let (_d, cache) = planted();
        cache.create_dirs("g/h").unwrap();
        cache.create_dirs("g/h").unwrap();
        cache
            .create_new("g/h/tmp")
            .unwrap()
            .write_all(b"abc")
            .unwrap();
        assert!(cache.create_new("g/h/tmp").is_err(), "O_EXCL");
        cache.rename("g/h/tmp", "g/x").unwrap();
        assert_eq!(cache.read("g/x").unwrap(), b"abc");
        let mut names: Vec<(String, EntryKind)> = cache
            .entries("g")
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            names,
            vec![("h".into(), EntryKind::Dir), ("x".into(), EntryKind::File)]
        );
        let x = cache
            .entries("g")
            .unwrap()
            .into_iter()
            .find(|e| e.name == "x");
        assert_eq!(x.map(|e| e.len), Some(3));
        cache.remove_file("g/x").unwrap();
        cache.remove_dir("g/h").unwrap();
        assert!(cache.read("g/x").is_err());
        for bad in ["", "a//b", "../x", "a/./b", "/abs"] {
            assert!(cache.read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn planted_symlinks_are_never_followed() {
        let (dir, cache) = planted();
        // Reading through a symlinked file or folder fails.
        assert!(cache.read("file-link").is_err());
        assert!(cache.read("dir-link/victim").is_err());
        assert!(cache.open_file("file-link").is_err());
        // Creating over a symlink fails instead of writing through it.
        assert!(cache.create_new("file-link").is_err());
        assert!(cache.create_new("dir-link/new").is_err());
        assert!(cache.create_dirs("dir-link/sub").is_err());
        assert!(!dir.path().join("outside/new").exists());
        assert!(!dir.path().join("outside/sub").exists());
        // Renaming onto a symlink replaces the symlink, not its target.
        cache
            .create_new("tmp")
            .unwrap()
            .write_all(b"fresh")
            .unwrap();
        cache.rename("tmp", "file-link").unwrap();
        assert_eq!(cache.read("file-link").unwrap(), b"fresh");
        assert!(cache.rename("file-link", "dir-link/victim").is_err());
        // Removing through a symlinked folder fails; removing a symlink removes only it.
        assert!(cache.remove_file("dir-link/victim").is_err());
        cache.remove_file("dir-link").unwrap();
        assert_eq!(victim(&dir), b"precious");
        // Listing through a symlinked folder fails; symlinks are listed as such.
        symlink(dir.path().join("outside"), cache.path().join("dir-link")).unwrap();
        assert!(cache.entries("dir-link").is_err());
        let kinds: Vec<EntryKind> = cache
            .entries("")
            .unwrap()
            .into_iter()
            .filter(|e| e.name == "dir-link")
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, vec![EntryKind::Other]);
    }

    #[test]
    fn a_planted_fifo_is_refused_without_hanging() {
        let (_d, cache) = planted();
        let fifo = cache.path().join("fifo");
        let mode = Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, FileType::Fifo, mode, 0).unwrap();
        assert!(cache.read("fifo").is_err());
    }
}
