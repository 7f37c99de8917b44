//! `streamgate node ...`: gateway node credentials through the Admin API's
//! `/gateway-nodes` resource (see [`crate::mgmt::nodes`]).

use std::fmt::Write as _;

use reqwest::Method;

use super::CliError;
use super::client::{Client, NO_BODY, admin};
use super::output::Output;
use crate::mgmt::dto::ListDto;
use crate::mgmt::nodes::{CreatedGatewayNodeDto, GatewayNodeDto, GatewayNodeIn};
use crate::tls::server::fingerprint;

/// `streamgate node ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum NodeCommand {
    /// Create a node credential; its token is shown once (give it to `streamgate gateway
    /// --node-token FILE`).
    Add {
        /// The node's name (A-Z a-z 0-9 . _ -).
        name: String,
    },
    /// List the nodes: created, last seen, applied version, address, open streams.
    List,
    /// Remove a node: its feed connection closes at once and its token is refused.
    Remove {
        /// The node's name.
        name: String,
    },
}

/// Runs one `streamgate node ...` subcommand.
pub(super) async fn run(client: &Client, cmd: NodeCommand) -> Result<Output, CliError> {
    match cmd {
        NodeCommand::Add { name } => add(client, name).await,
        NodeCommand::List => list(client).await,
        NodeCommand::Remove { name } => remove(client, name).await,
    }
}

async fn add(client: &Client, name: String) -> Result<Output, CliError> {
    let (node, value) = client
        .post::<CreatedGatewayNodeDto>(&admin("/gateway-nodes"), &[], Some(&GatewayNodeIn { name }))
        .await?;
    Ok(Output {
        human: format!(
            "Created gateway node {}. Its token, shown this once:\n{}\n\
             Save it to a file (mode 0600) and start the node with\n{}",
            node.name,
            node.token,
            start_command(client).await
        ),
        quiet: node.token,
        json: value,
        warnings: Vec::new(),
    })
}

/// The command that starts a node following this management API, and for an https one how
/// the node trusts its certificate: the file this command trusted when it is the
/// certificate the server presents, and that certificate's fingerprint.
async fn start_command(client: &Client) -> String {
    let url = client.base.as_str().trim_end_matches('/');
    if client.base.scheme() != "https" {
        return format!("  streamgate gateway --control-plane {url} --node-token FILE\n");
    }
    let mut text = format!(
        "  streamgate gateway --control-plane {url} --control-plane-cacert CERT --node-token FILE\n"
    );
    let presented = client
        .presented_certificate()
        .await
        .map(|cert| fingerprint(cert.as_ref()));
    let trusted: Vec<_> = client
        .trusted_certs
        .iter()
        .map(|path| (path, first_fingerprint(path)))
        .collect();
    // The file that holds the certificate the server presents, if one does.
    let presents = trusted
        .iter()
        .find(|(_, fp)| fp.is_some() && presented.is_some() && *fp == presented)
        .map(|(path, _)| *path);
    match (presents, trusted.as_slice()) {
        (Some(path), _) => {
            let _ = writeln!(
                text,
                "CERT: {} (the certificate the control plane presents; copy it to the node)",
                path.display()
            );
        }
        (None, [_, ..]) => {
            let files: Vec<String> = trusted
                .iter()
                .map(|(path, _)| path.display().to_string())
                .collect();
            let _ = writeln!(
                text,
                "CERT: the CA that issued the control plane's certificate (PEM); this command \
                 trusted {}",
                files.join(" and ")
            );
        }
        (None, []) => text.push_str(
            "CERT: the CA that issued the control plane's certificate (PEM); leave \
             --control-plane-cacert out when a CA of the node's platform issued it\n",
        ),
    }
    if let Some(fp) = presented {
        let _ = writeln!(
            text,
            "The control plane's certificate has the SHA-256 fingerprint\n  {fp}\n\
             (`streamgate tls cert --fingerprint` on its host prints the generated one's)"
        );
    }
    text.push_str(
        "The URL's host must be one the certificate names (the generated one names localhost, \
         127.0.0.1 and ::1).\n",
    );
    text
}

/// The SHA-256 fingerprint of the first certificate in the PEM file at `path`.
fn first_fingerprint(path: &std::path::Path) -> Option<String> {
    let pem = std::fs::read(path).ok()?;
    let certs = crate::tls::pem::certificates(&pem).ok()?;
    certs.first().map(|cert| fingerprint(cert.as_ref()))
}

async fn list(client: &Client) -> Result<Output, CliError> {
    let (nodes, value) = client
        .get::<ListDto<GatewayNodeDto>>(&admin("/gateway-nodes"), &[])
        .await?;
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    let rows: Vec<Vec<String>> = nodes
        .list
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                if n.connected { "connected" } else { "-" }.to_string(),
                n.created_time.clone(),
                dash(n.last_seen.clone()),
                dash(n.applied_version.map(|v| v.to_string())),
                dash(n.address.clone()),
                n.open_streams.to_string(),
            ]
        })
        .collect();
    Ok(Output::listing(
        value,
        &[
            "NAME",
            "FEED",
            "CREATED",
            "LAST SEEN",
            "APPLIED",
            "ADDRESS",
            "OPEN STREAMS",
        ],
        &rows,
        "No gateway nodes. Add one with: streamgate node add NAME",
    ))
}

async fn remove(client: &Client, name: String) -> Result<Output, CliError> {
    let path = admin(&format!("/gateway-nodes/{name}"));
    let value = client.send(Method::DELETE, &path, &[], NO_BODY).await?;
    Ok(Output {
        human: format!("Removed gateway node {name}; its feed connection is closed\n"),
        quiet: name,
        json: value,
        warnings: Vec::new(),
    })
}
