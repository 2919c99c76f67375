//! The node's home directory: config, keys, store, API files, and the lock that keeps a second
//! daemon out.
//!
//! ```text
//! HOME/config.toml   commented defaults, written on first start
//! HOME/author.key    the author's ed25519 secret (hex), mode 0600
//! HOME/node.key      the libp2p identity (protobuf), mode 0600
//! HOME/store/        the sled database
//! HOME/api.addr      where the local API listens (written at start)
//! HOME/api.token     the API's bearer token (0600, new at every start)
//! HOME/sessions.json the web app's browser sessions, hashed secrets only (0600)
//! HOME/daemon.lock   held by the running daemon
//! ```

use anyhow::{Context, Result, bail};
use handbill_protocol::AuthorKey;
use rand_core::{OsRng, RngCore};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Paths inside a node's home.
#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// The home at `root` (not created yet).
    pub fn at(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    /// The platform's default home (e.g. `~/.local/share/handbill`), unless overridden by
    /// `--home` or `HANDBILL_HOME`.
    pub fn default_root() -> Result<PathBuf> {
        directories::ProjectDirs::from("", "", "handbill")
            .map(|dirs| dirs.data_dir().to_path_buf())
            .context("cannot determine a default data directory; pass --home DIR")
    }

    /// The home directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `config.toml`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// The author key file.
    pub fn author_key(&self) -> PathBuf {
        self.root.join("author.key")
    }
    /// The libp2p identity file.
    pub fn node_key(&self) -> PathBuf {
        self.root.join("node.key")
    }
    /// The sled database directory.
    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }
    /// Where the API address is published.
    pub fn api_addr(&self) -> PathBuf {
        self.root.join("api.addr")
    }
    /// The API token file.
    pub fn api_token(&self) -> PathBuf {
        self.root.join("api.token")
    }
    /// HOME/sessions.json.
    pub fn sessions(&self) -> PathBuf {
        self.root.join("sessions.json")
    }

    /// The daemon lock file.
    pub fn lock(&self) -> PathBuf {
        self.root.join("daemon.lock")
    }

    /// Creates the home if needed: directory (0700), author key, node key, commented config.
    /// Returns whether anything was created. Never overwrites an existing key.
    pub fn init(&self) -> Result<bool> {
        let mut created = false;
        if !self.root.exists() {
            fs::create_dir_all(&self.root)
                .with_context(|| format!("creating home {}", self.root.display()))?;
            fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restricting {}", self.root.display()))?;
            created = true;
        }
        if !self.author_key().exists() {
            let key = AuthorKey::generate(&mut OsRng);
            let text = format!("{}\n", hex::encode(key.secret_bytes()));
            write_secret(&self.author_key(), text.as_bytes())?;
            created = true;
        }
        if !self.node_key().exists() {
            let node_key = libp2p::identity::Keypair::generate_ed25519()
                .to_protobuf_encoding()
                .context("encoding a new node key")?;
            write_secret(&self.node_key(), &node_key)?;
            created = true;
        }
        if !self.config().exists() {
            fs::write(self.config(), crate::config::DEFAULT_CONFIG)
                .with_context(|| format!("writing {}", self.config().display()))?;
            created = true;
        }
        Ok(created)
    }

    /// Reads the author key, refusing a key file others can read.
    pub fn read_author_key(&self) -> Result<AuthorKey> {
        let path = self.author_key();
        let text = read_secret(&path)?;
        let text =
            String::from_utf8(text).with_context(|| format!("{} is not text", path.display()))?;
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .with_context(|| format!("{} does not hold a 64-digit hex secret", path.display()))?;
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&bytes);
        Ok(AuthorKey::from_secret_bytes(&secret))
    }

    /// Reads the node identity bytes, refusing a key file others can read.
    pub fn read_node_key(&self) -> Result<Vec<u8>> {
        read_secret(&self.node_key())
    }

    /// Takes the daemon lock, failing at once if another daemon holds it.
    pub fn lock_exclusive(&self) -> Result<File> {
        let path = self.lock();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another handbilld is already running on {} (it holds {}); stop it first or use another --home",
                self.root.display(),
                path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }

    /// Writes a fresh random API token (0600) and returns it.
    pub fn new_api_token(&self) -> Result<String> {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        replace_secret(&self.api_token(), token.as_bytes())?;
        Ok(token)
    }
}

/// Replaces `path` atomically with a 0600 file holding `bytes`, so a reader never sees a
/// half-written secret and a crash leaves the old one.
pub fn replace_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = fs::remove_file(&tmp);
    write_secret(&tmp, bytes)?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Creates `path` with mode 0600 and writes `bytes`, failing if it exists.
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads a secret file after checking that only its owner can read it.
pub fn read_secret(path: &Path) -> Result<Vec<u8>> {
    let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "refusing to use {}: it is readable by others (mode {mode:o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_private_keys_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("h"));
        assert!(home.init().unwrap());
        let mode = fs::metadata(home.author_key())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let key = home.read_author_key().unwrap();
        let node_key = home.read_node_key().unwrap();
        assert!(!home.init().unwrap());
        assert_eq!(home.read_author_key().unwrap().author(), key.author());
        assert_eq!(
            home.read_node_key().unwrap(),
            node_key,
            "the node key is kept too"
        );
        assert!(libp2p::identity::Keypair::from_protobuf_encoding(&node_key).is_ok());
    }

    #[test]
    fn world_readable_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        home.init().unwrap();
        fs::set_permissions(home.author_key(), fs::Permissions::from_mode(0o644)).unwrap();
        let err = home.read_author_key().unwrap_err().to_string();
        assert!(err.contains("readable by others"), "{err}");
    }

    #[test]
    fn second_lock_fails_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let _held = home.lock_exclusive().unwrap();
        let err = home.lock_exclusive().unwrap_err().to_string();
        assert!(err.contains("already running"), "{err}");
    }

    #[test]
    fn api_token_is_private_and_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let a = home.new_api_token().unwrap();
        let b = home.new_api_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(read_secret(&home.api_token()).unwrap(), b.as_bytes());
    }
}
