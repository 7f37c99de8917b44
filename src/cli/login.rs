//! `streamgate login` / `logout`: a user's own management token, from the password grant
//! (RFC 6749 §4.3) at the server's `POST /oauth2/token`, kept in the user's config dir
//! (`$XDG_CONFIG_HOME/streamgate/token`, else `~/.config/streamgate/token`; file mode 0600,
//! dir 0700), one per management API URL, so that several people can share a server each
//! with their identity. The client subcommands use it when no `--admin-token` (nor
//! `$STREAMGATE_ADMIN_TOKEN`) is given, before the data dir's `admin-token` file.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::CliError;
use super::client::{Client, shell_word};
use super::output::{Output, object};
use crate::mgmt::dto::TokenResponse;

/// The file, in `<config dir>/streamgate/`, holding the stored logins.
pub const TOKEN_FILE: &str = "token";

/// One stored login: whose token, for which server, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredLogin {
    /// The user signed in.
    pub user: String,
    /// The management JWT.
    pub access_token: String,
    /// Its scopes, space separated.
    pub scope: String,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
}

/// The stored logins, keyed by management API URL (without a trailing `/`).
pub type Logins = BTreeMap<String, StoredLogin>;

/// Where the stored logins are: `<config dir>/streamgate/token` (`$XDG_CONFIG_HOME`, else
/// `~/.config` on Linux); `None` when there is no config dir (no home).
pub fn token_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("streamgate").join(TOKEN_FILE))
}

/// The key a login is stored under: the URL as parsed, without a trailing `/`.
pub fn url_key(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

/// The stored logins at `path` (none when the file is absent or unreadable as JSON).
pub fn read_logins(path: &Path) -> Logins {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Writes the stored logins to `path` (mode 0600, its dir made 0700); removes the file
/// when none are left.
///
/// # Errors
/// The file or its dir could not be written.
pub fn write_logins(path: &Path, logins: &Logins) -> std::io::Result<()> {
    if logins.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    let text = serde_json::to_vec_pretty(logins).map_err(std::io::Error::other)?;
    crate::datadir::write_secret(path, &text)
}

/// A password: the first line of standard input with `--password-stdin`, else asked on
/// the terminal with hidden input (twice when `confirm`, which must match).
///
/// # Errors
/// [`CliError::Usage`] when standard input cannot be read, the prompt is cancelled or the
/// two entries differ.
pub(super) fn read_password(
    prompt: &str,
    from_stdin: bool,
    confirm: bool,
) -> Result<String, CliError> {
    if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::Usage(format!("reading the password from stdin: {e}")))?;
        let line = text.lines().next().unwrap_or_default().to_string();
        return Ok(line);
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(CliError::Usage(
            "standard input is not a terminal: pass --password-stdin and pipe the password in"
                .to_string(),
        ));
    }
    let read = |p: &str| {
        crate::tui::read_password(p)
            .map_err(|e| CliError::Usage(format!("reading the password: {e}")))
    };
    let password = read(prompt)?;
    if confirm && read("again: ")? != password {
        return Err(CliError::Usage("the two passwords differ".to_string()));
    }
    Ok(password)
}

/// Seconds since the Unix epoch.
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `streamgate login`: the password grant for `user`, stored for this server's URL.
pub(super) async fn login(
    client: &Client,
    user: Option<String>,
    password_stdin: bool,
) -> Result<Output, CliError> {
    let path = token_path().ok_or_else(|| {
        CliError::Usage("no config dir (set XDG_CONFIG_HOME or HOME) to keep the token in".into())
    })?;
    let user = match user {
        Some(u) => u,
        None if password_stdin => {
            return Err(CliError::Usage(
                "--password-stdin needs --user NAME".to_string(),
            ));
        }
        None => {
            eprint!("user: ");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| CliError::Usage(format!("reading the user name: {e}")))?;
            line.trim().to_string()
        }
    };
    if user.is_empty() {
        return Err(CliError::Usage("the user name is empty".to_string()));
    }
    let password = read_password(&format!("password for {user}: "), password_stdin, false)?;
    let issued: TokenResponse = client
        .token_request(&[
            ("grant_type", "password"),
            ("username", &user),
            ("password", &password),
        ])
        .await?;
    let key = url_key(&client.base);
    let mut logins = read_logins(&path);
    logins.insert(
        key.clone(),
        StoredLogin {
            user: user.clone(),
            access_token: issued.access_token,
            scope: issued.scope.clone(),
            expires_at: now_secs().saturating_add(issued.expires_in),
        },
    );
    write_logins(&path, &logins).map_err(|e| {
        CliError::Usage(format!("cannot store the token in {}: {e}", path.display()))
    })?;
    Ok(Output {
        human: format!(
            "Signed in to {key} as {user}; token stored in {} (valid {} s)\nscopes: {}\n",
            path.display(),
            issued.expires_in,
            if issued.scope.is_empty() {
                "none"
            } else {
                &issued.scope
            }
        ),
        quiet: user.clone(),
        json: object([
            ("adminUrl", Value::from(key)),
            ("user", Value::from(user)),
            ("scope", Value::from(issued.scope)),
            ("expiresIn", Value::from(issued.expires_in)),
            ("tokenFile", Value::from(path.display().to_string())),
        ]),
        warnings: Vec::new(),
    })
}

/// `streamgate logout`: revokes the stored token at the server (RFC 7009, best effort) and
/// forgets it.
pub(super) async fn logout(client: &Client) -> Result<Output, CliError> {
    let path = token_path().ok_or_else(|| {
        CliError::Usage("no config dir (set XDG_CONFIG_HOME or HOME)".to_string())
    })?;
    let key = url_key(&client.base);
    let mut logins = read_logins(&path);
    let Some(login) = logins.remove(&key) else {
        return Ok(Output {
            human: format!("Not signed in to {key} (nothing in {})\n", path.display()),
            quiet: String::new(),
            json: object([("adminUrl", Value::from(key)), ("signedOut", Value::Null)]),
            warnings: Vec::new(),
        });
    };
    let mut warnings = Vec::new();
    if let Err(e) = client.revoke_management_token(&login.access_token).await {
        warnings.push(format!(
            "the server did not revoke the token ({e}); it is forgotten here and expires by itself"
        ));
    }
    write_logins(&path, &logins)
        .map_err(|e| CliError::Usage(format!("cannot update {}: {e}", path.display())))?;
    Ok(Output {
        human: format!(
            "Signed out of {key} ({} no longer signed in; token revoked and removed from {})\n",
            shell_word(&login.user),
            path.display()
        ),
        quiet: login.user.clone(),
        json: object([
            ("adminUrl", Value::from(key)),
            ("signedOut", Value::from(login.user)),
        ]),
        warnings,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn logins_round_trip_owner_only_and_vanish_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("streamgate").join(TOKEN_FILE);
        let mut logins = Logins::new();
        logins.insert(
            "http://127.0.0.1:9443".into(),
            StoredLogin {
                user: "dev1".into(),
                access_token: "t".into(),
                scope: "apim:subscribe".into(),
                expires_at: 1,
            },
        );
        write_logins(&path, &logins).unwrap();
        assert_eq!(read_logins(&path), logins);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            let parent = path.parent().unwrap();
            let dir_mode = std::fs::metadata(parent).unwrap().permissions().mode() & 0o777;
            assert_eq!((file, dir_mode), (0o600, 0o700));
        }
        write_logins(&path, &Logins::new()).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn logins_are_keyed_by_url_without_a_trailing_slash() {
        let url = Url::parse("http://127.0.0.1:9443/").unwrap();
        assert_eq!(url_key(&url), "http://127.0.0.1:9443");
    }
}
