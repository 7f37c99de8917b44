//! The data dir: where it is, and writing its secret files with owner-only permissions.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable that names the data dir when `--data-dir` is absent.
pub const DATA_DIR_ENV: &str = "STREAMGATE_DATA_DIR";

/// `--data-dir`, else `$STREAMGATE_DATA_DIR`, else the platform data dir
/// (`~/.local/share/streamgate` on Linux), else `./.streamgate`.
pub fn resolve(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os(DATA_DIR_ENV).map(PathBuf::from))
        .or_else(|| dirs::data_dir().map(|d| d.join("streamgate")))
        .unwrap_or_else(|| PathBuf::from(".streamgate"))
}

/// Writes `contents` to `path` with mode 0600 (owner read/write only), atomically:
/// a temp file in the same dir, then a rename.
pub fn write_secret(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("secret")
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// Makes the data dir owner-only: the dir and every dir in it mode 0700, every regular
/// file in them mode 0600 (the TLS key in `tls/` too); symbolic links are left alone.
/// Returns the paths whose modes were tightened (empty when all were already right), so
/// the caller can say so in the log. A no-op off Unix.
pub fn tighten(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut set = |path: &Path, mode: u32| -> std::io::Result<()> {
            let meta = std::fs::symlink_metadata(path)?;
            if meta.permissions().mode() & 0o777 != mode {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
                changed.push(path.to_path_buf());
            }
            Ok(())
        };
        let mut dirs = vec![dir.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            set(&dir, 0o700)?;
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let kind = entry.file_type()?;
                if kind.is_file() {
                    set(&entry.path(), 0o600)?;
                } else if kind.is_dir() {
                    dirs.push(entry.path());
                }
            }
        }
    }
    Ok(changed)
}

/// Reads a secret file, or creates it with `make()` when absent.
pub fn read_or_create_secret(
    path: &Path,
    make: impl FnOnce() -> std::io::Result<Vec<u8>>,
) -> std::io::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes = make()?;
            write_secret(path, &bytes)?;
            Ok(bytes)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_are_owner_only_and_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("admin-token");
        let first = read_or_create_secret(&path, || Ok(b"one".to_vec())).unwrap();
        let second = read_or_create_secret(&path, || Ok(b"two".to_vec())).unwrap();
        assert_eq!(first, b"one");
        assert_eq!(second, b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn tighten_makes_the_dir_and_its_files_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("streamgate.log");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // The TLS key in a subdirectory, loosened by hand.
        let tls = dir.path().join("tls");
        std::fs::create_dir(&tls).unwrap();
        let key = tls.join("key.pem");
        std::fs::write(&key, b"k").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&tls, std::fs::Permissions::from_mode(0o755)).unwrap();
        let changed = tighten(dir.path()).unwrap();
        assert_eq!(changed.len(), 4, "{changed:?}");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&tls), 0o700);
        assert_eq!(mode(&key), 0o600);
        assert!(tighten(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn the_flag_wins_over_the_environment() {
        assert_eq!(resolve(Some(PathBuf::from("/x"))), PathBuf::from("/x"));
    }
}
