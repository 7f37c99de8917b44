//! `streamgate user ...`: management users over SCIM 2.0 (RFC 7643/7644), as WSO2's
//! identity server exposes it at `/scim2/Users`; a password change is a SCIM PATCH.

use std::fmt::Write as _;

use reqwest::Method;
use serde_json::{Value, json};

use super::CliError;
use super::client::{Client, NO_BODY, shell_word};
use super::login::read_password;
use super::output::{Output, object};
use crate::catalog::Role;
use crate::catalog::user::parse_roles;
use crate::mgmt::scim::{PATCH_SCHEMA, USER_SCHEMA};

/// The SCIM users resource.
const USERS: &str = "/scim2/Users";

/// `streamgate user ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum UserCommand {
    /// Add a user (asks the password twice, hidden, unless --password-stdin).
    Add {
        /// The user name.
        name: String,
        /// A role: admin, creator, publisher or subscriber; repeat for several (default:
        /// subscriber).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users with their roles.
    List,
    /// Show one user.
    Show {
        /// The user (name or id).
        name: String,
    },
    /// Set a user's password (their management tokens stop working).
    Passwd {
        /// The user (name or id).
        name: String,
        /// Read the new password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a user with the applications they own.
    Remove {
        /// The user (name or id).
        name: String,
    },
}

/// Runs one `streamgate user ...` subcommand.
pub(super) async fn run(client: &Client, cmd: UserCommand) -> Result<Output, CliError> {
    match cmd {
        UserCommand::Add {
            name,
            roles,
            password_stdin,
        } => add(client, name, roles, password_stdin).await,
        UserCommand::List => list(client).await,
        UserCommand::Show { name } => show(client, &name).await,
        UserCommand::Passwd {
            name,
            password_stdin,
        } => passwd(client, &name, password_stdin).await,
        UserCommand::Remove { name } => remove(client, &name).await,
    }
}

/// The role names of a SCIM user resource (`roles`, else `groups`).
fn roles_of(user: &Value) -> Vec<String> {
    let items = user["roles"]
        .as_array()
        .or_else(|| user["groups"].as_array())
        .cloned()
        .unwrap_or_default();
    items
        .iter()
        .filter_map(|r| r["value"].as_str().or_else(|| r.as_str()))
        .map(str::to_string)
        .collect()
}

fn text(user: &Value, field: &str) -> String {
    user[field].as_str().unwrap_or_default().to_string()
}

/// A user found by name (any case) or id in the SCIM list.
async fn resolve(client: &Client, handle: &str) -> Result<Value, CliError> {
    let list = client.send(Method::GET, USERS, &[], NO_BODY).await?;
    let users = list["Resources"].as_array().cloned().unwrap_or_default();
    users
        .iter()
        .find(|u| u["id"].as_str() == Some(handle))
        .or_else(|| {
            users.iter().find(|u| {
                u["userName"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(handle))
            })
        })
        .cloned()
        .ok_or_else(|| {
            let known: Vec<String> = users.iter().map(|u| text(u, "userName")).collect();
            CliError::Usage(format!(
                "no user '{handle}' (known: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
}

/// `streamgate user add`: `POST /scim2/Users`.
async fn add(
    client: &Client,
    name: String,
    roles: Vec<String>,
    password_stdin: bool,
) -> Result<Output, CliError> {
    // Unknown roles are refused before asking for a password (the server checks too).
    let roles = if roles.is_empty() {
        vec![Role::Subscriber]
    } else {
        // The rule's message already lists the known roles.
        parse_roles(roles.iter().map(String::as_str)).map_err(|e| CliError::Usage(e.to_string()))?
    };
    let password = read_password(&format!("password for {name}: "), password_stdin, true)?;
    let body = json!({
        "schemas": [USER_SCHEMA],
        "userName": name,
        "password": password,
        "roles": roles.iter().map(|r| json!({"value": r.as_str()})).collect::<Vec<_>>(),
    });
    let user = client.send(Method::POST, USERS, &[], Some(&body)).await?;
    let roles = roles_of(&user);
    Ok(Output {
        human: format!(
            "Added user {} (id {}) with roles {}\n",
            text(&user, "userName"),
            text(&user, "id"),
            roles.join(", ")
        ),
        quiet: text(&user, "id"),
        json: user,
        warnings: Vec::new(),
    })
}

/// `streamgate user list`: `GET /scim2/Users`.
async fn list(client: &Client) -> Result<Output, CliError> {
    let value = client.send(Method::GET, USERS, &[], NO_BODY).await?;
    let rows: Vec<Vec<String>> = value["Resources"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|u| {
            vec![
                text(u, "userName"),
                roles_of(u).join(","),
                text(&u["meta"], "created"),
                text(u, "id"),
            ]
        })
        .collect();
    let mut out = Output::listing(
        value,
        &["NAME", "ROLES", "CREATED", "ID"],
        &rows,
        "No users.",
    );
    // `--quiet` lists names, the handle the other user commands take.
    out.quiet = rows
        .iter()
        .map(|r| r[0].clone())
        .collect::<Vec<_>>()
        .join("\n");
    Ok(out)
}

/// `streamgate user show`: `GET /scim2/Users/{id}`.
async fn show(client: &Client, handle: &str) -> Result<Output, CliError> {
    let found = resolve(client, handle).await?;
    let user = client
        .send(
            Method::GET,
            &format!("{USERS}/{}", text(&found, "id")),
            &[],
            NO_BODY,
        )
        .await?;
    let mut human = String::new();
    let _ = writeln!(human, "User {}", text(&user, "userName"));
    let _ = writeln!(human, "  id        {}", text(&user, "id"));
    let _ = writeln!(human, "  roles     {}", roles_of(&user).join(", "));
    let _ = writeln!(human, "  created   {}", text(&user["meta"], "created"));
    let _ = writeln!(human, "  modified  {}", text(&user["meta"], "lastModified"));
    Ok(Output {
        human,
        quiet: text(&user, "id"),
        json: user,
        warnings: Vec::new(),
    })
}

/// `streamgate user passwd`: a SCIM PATCH replacing the password.
async fn passwd(client: &Client, handle: &str, password_stdin: bool) -> Result<Output, CliError> {
    let found = resolve(client, handle).await?;
    let name = text(&found, "userName");
    let password = read_password(&format!("new password for {name}: "), password_stdin, true)?;
    let body = json!({
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "replace", "path": "password", "value": password}],
    });
    let user = client
        .send(
            Method::PATCH,
            &format!("{USERS}/{}", text(&found, "id")),
            &[],
            Some(&body),
        )
        .await?;
    Ok(Output {
        human: format!(
            "Changed the password of {name}; their management tokens no longer work (sign in again with `streamgate login --user {}`)\n",
            shell_word(&name)
        ),
        quiet: text(&user, "id"),
        json: user,
        warnings: Vec::new(),
    })
}

/// `streamgate user remove`: `DELETE /scim2/Users/{id}`.
async fn remove(client: &Client, handle: &str) -> Result<Output, CliError> {
    let found = resolve(client, handle).await?;
    let id = text(&found, "id");
    let name = text(&found, "userName");
    client
        .send(Method::DELETE, &format!("{USERS}/{id}"), &[], NO_BODY)
        .await?;
    Ok(Output {
        human: format!("Removed user {name} and the applications they owned\n"),
        quiet: id.clone(),
        json: object([("id", Value::from(id)), ("userName", Value::from(name))]),
        warnings: Vec::new(),
    })
}
