//! The backup archive's reader (`centralino::archive::unpack_from`, what `centralino restore`
//! runs on an archive before it replaces anything): whatever the bytes, it never panics,
//! writes nothing outside its staging folder, and an archive it accepts is what its manifest
//! says: every member listed with its size, the database and `pin.key` among them, and
//! nothing else staged. A staging folder it gives up on is removed.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

/// Regular files under `dir`, as `/`-separated paths relative to `root`.
fn files(root: &Path, dir: &Path, out: &mut Vec<(String, u64)>) {
    for entry in std::fs::read_dir(dir).expect("read the staging folder").flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).expect("stat");
        if meta.is_dir() {
            files(root, &path, out);
        } else {
            assert!(meta.is_file(), "only regular files are staged: {path:?}");
            let name = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            out.push((name, meta.len()));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let data_dir = tempfile::tempdir().expect("a temporary folder");
    match centralino::archive::unpack_from(data, "fuzz input", data_dir.path()) {
        Ok(unpacked) => {
            let staged = unpacked.dir.path();
            assert_eq!(staged.parent(), Some(data_dir.path()), "staged in the data folder");
            let mut found = Vec::new();
            files(staged, staged, &mut found);
            found.sort();
            let mut listed: Vec<(String, u64)> = unpacked
                .manifest
                .members
                .iter()
                .map(|m| (m.path.clone(), m.size))
                .collect();
            listed.sort();
            assert_eq!(found, listed, "staged exactly the manifest's members");
            assert!(listed.iter().any(|(p, _)| p == centralino::archive::PIN_KEY));
        }
        Err(error) => {
            let message = error.to_string();
            assert!(!message.is_empty());
        }
    }
    // Whatever happened, the data folder holds nothing once the staging folder is dropped.
    let left: Vec<_> = std::fs::read_dir(data_dir.path())
        .expect("read the data folder")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
});
