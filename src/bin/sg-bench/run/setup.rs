//! `sg-bench setup` and the gateway state every run starts from.

use super::*;

/// Command-line arguments of `sg-bench setup`.
#[derive(Debug, Clone, clap::Args)]
pub struct SetupArgs {
    /// The data dir to set up (created if missing; must not be in use).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The origin's address, IP:PORT.
    #[arg(long)]
    pub origin: String,
}

/// Runs `sg-bench setup`: prints the token, then the stream path on the gateway.
pub async fn setup(args: SetupArgs) -> Result<(), BoxError> {
    fs::create_dir_all(&args.data_dir)?;
    let token = set_up_gateway(&args.data_dir, &args.origin, false).await?;
    println!("{token}");
    println!("{API_CONTEXT}/{API_VERSION}{RESOURCE}");
    Ok(())
}

/// The metered plan of `--redis` runs: more events per minute than any run delivers.
const METERED_PLAN: &str = "BenchMetered";

/// The gateway state for the benchmark: one API on the origin, published and deployed;
/// one application on the Unlimited policy subscribed with AsyncUnlimited (or, `metered`,
/// with a plan of 10^12 events per minute, so every event is metered); its token.
pub(super) async fn set_up_gateway(
    data_dir: &Path,
    origin: &str,
    metered: bool,
) -> Result<String, BoxError> {
    let control = Control::open(ControlOptions::new(data_dir))?;
    let mut plans = vec!["AsyncUnlimited".to_string()];
    if metered {
        control
            .add_subscription_policy(SubscriptionPolicy {
                name: METERED_PLAN.to_string(),
                display_name: METERED_PLAN.to_string(),
                description: "sg-bench: every event metered".to_string(),
                quota: Quota::Events {
                    count: 1_000_000_000_000,
                    unit: TimeUnit::Min,
                    unit_time: 1,
                },
                built_in: false,
            })
            .await?;
        plans.push(METERED_PLAN.to_string());
    }
    let api = control
        .create_api(ApiDraft {
            name: "Bench".to_string(),
            context: API_CONTEXT.to_string(),
            version: API_VERSION.to_string(),
            description: "sg-bench origin".to_string(),
            production_endpoint: Some(format!("http://{origin}")),
            sandbox_endpoint: Some(format!("http://{origin}")),
            policies: plans,
            topics: Vec::new(),
        })
        .await?;
    let shared = control
        .create_api(ApiDraft {
            name: "BenchShared".to_string(),
            context: SHARED_CONTEXT.to_string(),
            version: API_VERSION.to_string(),
            description: "sg-bench origin, one backend stream for all".to_string(),
            production_endpoint: Some(format!("http://{origin}")),
            sandbox_endpoint: Some(format!("http://{origin}")),
            policies: vec!["AsyncUnlimited".to_string()],
            topics: Vec::new(),
        })
        .await?;
    control
        .set_api_backend_stream(&shared.id, BackendStream::Shared)
        .await?;
    let env = streamgate::catalog::default_environments()
        .into_iter()
        .next()
        .ok_or("no default gateway environment")?;
    for id in [&api.id, &shared.id] {
        control
            .deploy_new_revision(id, "bench", &[DeployTarget::new(&env.name, &env.vhost)])
            .await?;
        control
            .change_lifecycle(id, LifecycleAction::Publish)
            .await?;
    }
    let app = control
        .create_application(ApplicationDraft {
            name: "bench".to_string(),
            throttling_policy: "Unlimited".to_string(),
            description: "sg-bench load client".to_string(),
        })
        .await?;
    let plan = if metered {
        METERED_PLAN
    } else {
        "AsyncUnlimited"
    };
    control.subscribe(&app.id, &api.id, plan).await?;
    control
        .subscribe(&app.id, &shared.id, "AsyncUnlimited")
        .await?;
    let keys = control
        .generate_keys(&app.id, KeyType::Production, Some(TOKEN_VALIDITY_SECS))
        .await?;
    Ok(keys.token.access_token)
}
