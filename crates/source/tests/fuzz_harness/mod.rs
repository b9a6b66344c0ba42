//! What the `identifier` fuzz target does with its input (`fuzz/fuzz_targets/identifier.rs`
//! includes this file), and what `tests/fuzz_regressions.rs` replays over
//! `tests/fuzz-regressions/identifier/`: an identifier through a fixed rule list and through the
//! folder resolver over a small tree with symlinks leading out. No key may leave its source and no
//! resolved file may lie outside the root.

#![allow(dead_code)]

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use tessera_source::{checked_key, FolderResolver, RuleConfig, Rules};

/// The tree the resolver looks in: `outside/` holds a secret, `outside/root/` is the image root.
struct Tree {
    resolver: FolderResolver,
    outside: PathBuf,
}

static TREE: OnceLock<Option<Tree>> = OnceLock::new();
static RULES: OnceLock<Option<Rules>> = OnceLock::new();

/// Build (idempotently, so concurrent runs share it) the tree under the system temp folder.
fn build_tree() -> io::Result<Tree> {
    let outside = std::env::temp_dir().join("tessera-fuzz-identifier-tree");
    let root = outside.join("root");
    fs::create_dir_all(root.join("lax:13410"))?;
    fs::create_dir_all(root.join("sub/deeper"))?;
    for file in [
        "a.png",
        "twin.jpg",
        "twin.tif",
        "lax:13410/fig4.tif",
        "sub/deeper/b.JPG",
        "sp ace%2F.jp2",
    ] {
        fs::write(root.join(file), b"x")?;
    }
    fs::write(outside.join("secret.png"), b"secret")?;
    let links: [(PathBuf, &str); 5] = [
        (outside.join("secret.png"), "escape.png"),
        (outside.clone(), "up"),
        (root.join("a.png"), "inside.png"),
        (PathBuf::from("../secret.png"), "sub/relative-escape.png"),
        (PathBuf::from("loop"), "loop"),
    ];
    for (to, from) in links {
        match std::os::unix::fs::symlink(&to, root.join(from)) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    let resolver = FolderResolver::new(&root)?;
    let outside = outside.canonicalize()?;
    Ok(Tree { resolver, outside })
}

/// The rules every identifier is matched against: prefixes with templates and alternates, a
/// pattern with named captures, and a catch-all.
fn build_rules() -> Result<Rules, String> {
    let rule =
        |prefix: Option<&str>, pattern: Option<&str>, key: Option<&str>, alt: &[&str]| RuleConfig {
            prefix: prefix.map(String::from),
            pattern: pattern.map(String::from),
            source: "images".into(),
            key: key.map(String::from),
            alternates: alt.iter().map(|s| s.to_string()).collect(),
            info: None,
        };
    Rules::new(&[
        rule(
            Some("lax:"),
            None,
            Some("lax:13410/${stem}.tif"),
            &["${rest}"],
        ),
        rule(
            None,
            Some(r"^(?P<a>[^/]+)/(?P<b>.+)\.(?P<ext>jpg|png)$"),
            Some("$a/pyramids/$b.tif"),
            &["$a/$b.$ext", "${b}"],
        ),
        rule(Some(""), None, None, &["${stem}.jp2"]),
    ])
}

/// Match `data` (as text) against the rules and resolve it in the tree; panics when a key or a
/// resolved path could leave its root.
pub fn exercise_identifier(data: &[u8]) {
    let identifier = String::from_utf8_lossy(data);
    let rules = RULES
        .get_or_init(|| build_rules().ok())
        .as_ref()
        .unwrap_or_else(|| panic!("the harness's rules do not compile"));
    let tree = TREE
        .get_or_init(|| build_tree().ok())
        .as_ref()
        .unwrap_or_else(|| panic!("the harness's tree cannot be built"));
    if let Ok(candidates) = rules.candidates(&identifier) {
        assert!(!candidates.is_empty(), "{identifier:?}: no candidates");
        for candidate in &candidates {
            assert!(
                checked_key(&candidate.key).is_ok(),
                "{identifier:?}: unchecked key {:?}",
                candidate.key
            );
            assert!(
                stays_inside(Path::new(&candidate.key)),
                "{identifier:?}: key {:?} leaves its source",
                candidate.key
            );
            check_resolved(tree, &candidate.key);
            for id in rules.identifiers_for(&candidate.source, &candidate.key) {
                let back = rules.candidates(&id);
                assert!(
                    back.as_ref().is_ok_and(|c| c.contains(candidate)),
                    "{id:?} is listed for {candidate:?} but leads to {back:?}"
                );
            }
        }
    }
    check_resolved(tree, &identifier);
}

/// Resolve `identifier` in `tree`; a file found must be a regular file under the root, never the
/// secret beside it.
fn check_resolved(tree: &Tree, identifier: &str) {
    use std::os::unix::fs::MetadataExt;
    let Ok(found) = tree
        .resolver
        .resolve(identifier, tessera_source::Access::Read)
    else {
        return;
    };
    assert!(
        stays_inside(Path::new(&found.relative)),
        "{identifier:?} resolved outside the root: {}",
        found.relative
    );
    let file = fs::File::from(found.fd);
    let meta = file.metadata();
    assert!(
        meta.as_ref().is_ok_and(|m| m.is_file()),
        "{identifier:?}: {} is not a file",
        found.relative
    );
    let secret = fs::metadata(tree.outside.join("secret.png"));
    if let (Ok(meta), Ok(secret)) = (meta, secret) {
        assert!(
            (meta.dev(), meta.ino()) != (secret.dev(), secret.ino()),
            "{identifier:?} reached the secret"
        );
    }
}

/// Whether a relative path, read component by component, never climbs above where it starts.
fn stays_inside(path: &Path) -> bool {
    let mut depth: usize = 0;
    for component in path.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}
