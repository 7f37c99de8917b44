//! `streamgate tls cert [--fingerprint]`: the TLS listeners' generated certificate in the
//! data dir (`<data dir>/tls/cert.pem`), as PEM, so
//! `curl --cacert <(streamgate tls cert) https://localhost:8243/...` trusts it; or only its
//! SHA-256 fingerprint, in the colon-separated uppercase hex the Servers screen and
//! `serve`'s startup log show. Reads the file only: no server needs to run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::datadir;
use crate::tls::server::{CERT_FILE, TLS_DIR, fingerprint};

/// The `tls` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum TlsCommand {
    /// Print the gateway's and management API's certificate (PEM) from the data dir.
    Cert {
        /// Print only its SHA-256 fingerprint (AA:BB:...), as the Servers screen shows it.
        #[arg(long)]
        fingerprint: bool,
    },
}

/// What `tls cert` prints for the certificate file `path`: its PEM text, or the SHA-256
/// fingerprint of its first certificate and a newline.
///
/// # Errors
/// A sentence naming the file when it is missing, unreadable or holds no PEM certificate.
pub fn certificate_text(path: &Path, fingerprint_only: bool) -> Result<String, String> {
    let pem = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "no certificate at {}: `streamgate serve` generates it on its first start \
                 (with --tls-cert, that file is the certificate)",
                path.display()
            )
        } else {
            format!("cannot read {}: {e}", path.display())
        }
    })?;
    let certs =
        crate::tls::pem::certificates(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
    if fingerprint_only {
        Ok(format!("{}\n", fingerprint(certs[0].as_ref())))
    } else {
        let text = String::from_utf8_lossy(&pem).into_owned();
        Ok(if text.ends_with('\n') {
            text
        } else {
            format!("{text}\n")
        })
    }
}

/// Runs a `tls` subcommand against the data dir `data_dir` (default: as `serve`'s);
/// errors go to stderr with a failure status.
pub fn run_tls(command: TlsCommand, data_dir: Option<PathBuf>) -> ExitCode {
    let TlsCommand::Cert { fingerprint } = command;
    let path = datadir::resolve(data_dir).join(TLS_DIR).join(CERT_FILE);
    match certificate_text(&path, fingerprint) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
