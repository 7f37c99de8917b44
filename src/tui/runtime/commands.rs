//! The runtime's commands: each [`Command`] an `update` returns runs here, off the loop,
//! and reports back to the loop as actions (the fresh catalog, then the [`Done`]).

use super::*;

impl Runtime {
    /// Runs a control call on a task; sends the fresh catalog, then the result, so the
    /// result never arrives before the state it describes.
    fn spawn_control<F, Fut>(&self, f: F)
    where
        F: FnOnce(Control) -> Fut,
        Fut: Future<Output = Done> + Send + 'static,
    {
        let control = self.control.clone();
        let tx = self.tx.clone();
        let fut = f(self.control.clone());
        tokio::spawn(async move {
            let done = fut.await;
            // The UI may be gone when a late result arrives; nothing to tell then.
            let _ = tx.send(Action::Catalog(control.snapshot()));
            let _ = tx.send(Action::Done(done));
        });
    }

    fn handle_of(&self, api_id: &str) -> String {
        self.control
            .snapshot()
            .apis
            .get(api_id)
            .map(|a| a.handle())
            .unwrap_or_else(|| api_id.to_string())
    }

    /// Where the gateway serves an API (`host:port/context/version`), if it runs.
    fn api_url(&self, api_id: &str) -> Option<String> {
        let host = self.app.config.gateway_host()?;
        let path = self
            .control
            .snapshot()
            .apis
            .get(api_id)
            .map(|a| a.base_path())
            .unwrap_or_default();
        Some(format!("{host}{path}"))
    }

    /// Runs one command off the loop.
    pub fn execute(&mut self, command: Command) {
        match command {
            Command::CreateApi(draft) => {
                // Provided by the signed-in user (admin for the local operator).
                let provider = self.app.config.principal.user.clone();
                self.spawn_control(|c| async move {
                    Done::ApiCreated(c.create_api_by(draft, &provider).await.map_err(message))
                })
            }
            Command::SetPlans { api_id, plans } => self.spawn_control(|c| async move {
                Done::PlansSaved(c.set_plans(&api_id, plans).await.map_err(message))
            }),
            Command::ChangeLifecycle { api_id, action } => self.spawn_control(|c| async move {
                Done::LifecycleChanged(
                    c.change_lifecycle(&api_id, action)
                        .await
                        .map(|o| (o.previous, o.api, o.warning))
                        .map_err(message),
                )
            }),
            Command::DeployNewRevision { api_id, targets } => {
                let handle = self.handle_of(&api_id);
                let gateway = self.api_url(&api_id);
                self.spawn_control(|c| async move {
                    Done::Deployed(
                        c.deploy_new_revision(&api_id, "", &targets)
                            .await
                            .map(|(rev, deps)| {
                                deployed(&handle, &rev.display_name(), &deps, gateway)
                            })
                            .map_err(message),
                    )
                })
            }
            Command::DeployRevision {
                api_id,
                revision_id,
                targets,
            } => {
                let handle = self.handle_of(&api_id);
                let gateway = self.api_url(&api_id);
                let name = self
                    .control
                    .snapshot()
                    .revisions
                    .get(&revision_id)
                    .map(|r| r.display_name())
                    .unwrap_or_default();
                self.spawn_control(|c| async move {
                    Done::Deployed(
                        c.deploy_revision(&api_id, &revision_id, &targets)
                            .await
                            .map(|deps| deployed(&handle, &name, &deps, gateway))
                            .map_err(message),
                    )
                })
            }
            Command::UndeployRevision {
                api_id,
                revision_id,
            } => {
                let handle = self.handle_of(&api_id);
                self.spawn_control(|c| async move {
                    Done::Message(
                        c.undeploy_revision(&api_id, &revision_id, &[])
                            .await
                            .map(|deps| {
                                let envs: Vec<String> =
                                    deps.iter().map(|d| d.environment.clone()).collect();
                                format!("Undeployed {handle} from {}", envs.join(", "))
                            })
                            .map_err(message),
                    )
                })
            }
            Command::RestoreRevision {
                api_id,
                revision_id,
            } => self.spawn_control(|c| async move {
                Done::Message(
                    c.restore_revision(&api_id, &revision_id)
                        .await
                        .map(|api| format!("Restored the working copy of {}", api.handle()))
                        .map_err(message),
                )
            }),
            Command::DeleteRevision {
                api_id,
                revision_id,
            } => self.spawn_control(|c| async move {
                Done::Message(
                    c.delete_revision(&api_id, &revision_id)
                        .await
                        .map(|rev| format!("Deleted {}", rev.display_name()))
                        .map_err(message),
                )
            }),
            Command::DeleteApi { api_id } => self.spawn_control(|c| async move {
                Done::Message(
                    c.delete_api(&api_id)
                        .await
                        .map(|api| format!("Deleted API {}", api.handle()))
                        .map_err(message),
                )
            }),
            Command::CreateApplication(draft) => {
                // Owned by the signed-in user (admin for the local operator).
                let owner = self.app.config.principal.user.clone();
                self.spawn_control(|c| async move {
                    Done::AppCreated(
                        c.create_application_owned(draft, &owner)
                            .await
                            .map_err(message),
                    )
                })
            }
            Command::Subscribe {
                app_id,
                api_id,
                plan,
            } => self.spawn_control(|c| async move {
                Done::Subscribed(c.subscribe(&app_id, &api_id, &plan).await.map_err(message))
            }),
            Command::GenerateKeys { app_id, key_type } => self.spawn_control(|c| async move {
                let result = c
                    .generate_keys(&app_id, key_type, None)
                    .await
                    .map(|g| {
                        (
                            KeysInfo {
                                key_type: g.key_pair.key_type,
                                consumer_key: g.key_pair.consumer_key,
                                consumer_secret: g.consumer_secret,
                            },
                            token_info(key_type, &g.token),
                        )
                    })
                    .map_err(message);
                Done::KeysGenerated { app_id, result }
            }),
            Command::GenerateToken {
                app_id,
                key_type,
                validity_secs,
            } => self.spawn_control(|c| async move {
                let id = app_id.clone();
                let result = tokio::task::spawn_blocking(move || {
                    c.generate_token(
                        &id,
                        &crate::control::KeyPairRef::Type(key_type),
                        Some(validity_secs),
                    )
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(message))
                .map(|t| token_info(key_type, &t));
                Done::TokenGenerated { app_id, result }
            }),
            Command::DeleteApplication { app_id } => self.spawn_control(|c| async move {
                Done::Message(
                    c.delete_application(&app_id)
                        .await
                        .map(|a| format!("Deleted application {}", a.name))
                        .map_err(message),
                )
            }),
            Command::Unsubscribe { subscription_id } => self.spawn_control(|c| async move {
                Done::Message(
                    c.unsubscribe(&subscription_id)
                        .await
                        .map(|_| "Unsubscribed".to_string())
                        .map_err(message),
                )
            }),
            Command::StartBackend {
                addr,
                interval,
                time,
            } => {
                let slot = self.backend.clone();
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let result =
                        match BackendHandle::start(addr, BackendOptions { interval, time }).await {
                            Ok(handle) => {
                                let bound = handle.addr();
                                if let Ok(mut s) = slot.lock() {
                                    // A handle dropped here stops its server: only one runs.
                                    *s = Some(handle);
                                }
                                Ok(bound)
                            }
                            Err(e) => Err(e.to_string()),
                        };
                    // The UI may be gone; nothing to tell then.
                    let _ = tx.send(Action::Done(Done::BackendStarted(result)));
                });
            }
            Command::StopBackend => {
                let slot = self.backend.clone();
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let handle = slot.lock().ok().and_then(|mut s| s.take());
                    let result = match handle {
                        Some(h) => h.stop().await.map_err(|e| e.to_string()),
                        None => Ok(()),
                    };
                    // The UI may be gone; nothing to tell then.
                    let _ = tx.send(Action::Done(Done::BackendStopped(result)));
                });
            }
            Command::OpenStream {
                stream_id,
                url,
                token,
            } => {
                let task = tokio::spawn(try_it(
                    self.http.clone(),
                    stream_id,
                    url,
                    token,
                    self.tx.clone(),
                ));
                self.streams.insert(stream_id, task.abort_handle());
            }
            Command::CloseStream { stream_id } => {
                if let Some(task) = self.streams.remove(&stream_id) {
                    task.abort();
                }
            }
            Command::Copy(text) => {
                let what = if text.starts_with("curl ") {
                    "the curl command"
                } else {
                    "the token"
                };
                let result = match &self.clipboard {
                    Clipboard::Terminal => {
                        let mut out = io::stdout();
                        out.write_all(osc52(&text).as_bytes())
                            .and_then(|()| out.flush())
                            .map_err(|e| e.to_string())
                    }
                    Clipboard::Recorder(list) => {
                        if let Ok(mut l) = list.lock() {
                            l.push(text);
                        }
                        Ok(())
                    }
                };
                self.dispatch(Action::Done(Done::Copied(
                    result.map(|()| what.to_string()),
                )));
            }
            Command::CreateUser {
                name,
                password,
                roles,
            } => self.spawn_control(|c| async move {
                Done::Users(
                    c.create_user(&name, &password, roles)
                        .await
                        .map(|u| format!("Added user {}", u.name))
                        .map_err(message),
                )
            }),
            Command::DeleteUser { user_id } => self.spawn_control(|c| async move {
                Done::Users(
                    c.delete_user(&user_id)
                        .await
                        .map(|u| format!("Removed user {} and their applications", u.name))
                        .map_err(message),
                )
            }),
            Command::SetCors { api_id, cors } => self.spawn_control(|c| async move {
                Done::ApiSettings(
                    c.set_api_cors(&api_id, *cors)
                        .await
                        .map(|api| {
                            format!(
                                "CORS of {} saved; it applies after the next deploy",
                                api.handle()
                            )
                        })
                        .map_err(message),
                )
            }),
            Command::SetBackendStream { api_id, mode } => self.spawn_control(|c| async move {
                Done::ApiSettings(
                    c.set_api_backend_stream(&api_id, mode)
                        .await
                        .map(|api| {
                            format!(
                                "Backend stream of {} set to {}; it applies after the next deploy",
                                api.handle(),
                                mode.as_str()
                            )
                        })
                        .map_err(message),
                )
            }),
            Command::AddEndpointCertificate {
                alias,
                endpoint,
                path,
            } => self.spawn_control(|c| async move {
                let pem = match tokio::fs::read_to_string(&path).await {
                    Ok(pem) => pem,
                    Err(e) => {
                        return Done::ApiSettings(Err(format!("{}: {e}", path.display())));
                    }
                };
                Done::ApiSettings(
                    c.add_endpoint_certificate(&alias, &endpoint, &pem)
                        .await
                        .map(|cert| {
                            format!(
                                "Certificate {} trusted for {}:{}",
                                cert.alias, cert.host, cert.port
                            )
                        })
                        .map_err(message),
                )
            }),
        }
    }
}

fn deployed(
    handle: &str,
    revision: &str,
    deps: &[crate::catalog::Deployment],
    gateway: Option<String>,
) -> String {
    let envs: Vec<String> = deps
        .iter()
        .map(|d| format!("{} ({})", d.environment, d.vhost))
        .collect();
    // The URL first: the status line is one row of an 80-column screen.
    match gateway {
        Some(url) => format!(
            "{revision} of {handle} deployed: http://{url} (to {})",
            envs.join(", ")
        ),
        None => format!(
            "Deployed {revision} of {handle} to {}; the gateway is not running",
            envs.join(", ")
        ),
    }
}

fn token_info(key_type: crate::catalog::KeyType, t: &crate::keys::IssuedToken) -> TokenInfo {
    TokenInfo {
        key_type,
        access_token: t.access_token.clone(),
        expires_in: t.expires_in,
        issued_at: t.claims.iat,
    }
}
