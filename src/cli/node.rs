//! `streamgate node ...`: gateway node credentials through the Admin API's
//! `/gateway-nodes` resource (see [`crate::mgmt::nodes`]).

use reqwest::Method;

use super::CliError;
use super::client::{Client, NO_BODY, admin};
use super::output::Output;
use crate::mgmt::dto::ListDto;
use crate::mgmt::nodes::{CreatedGatewayNodeDto, GatewayNodeDto, GatewayNodeIn};

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
             Save it to a file (mode 0600) and start the node with\n  \
             streamgate gateway --control-plane URL --node-token FILE\n",
            node.name, node.token
        ),
        quiet: node.token,
        json: value,
        warnings: Vec::new(),
    })
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
