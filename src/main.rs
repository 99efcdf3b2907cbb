use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use scim_gateway::config::{Cli, Command, DomainsCommand, LogFormat};
use scim_gateway::domain::admin::Lifetime;
use scim_gateway::{AppState, Settings, db, domain};
use tracing_subscriber::EnvFilter;

fn init_tracing(cli: &Cli) {
    let mut filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // tokio-postgres (the lanes) logs every statement with its values at debug: people's
    // names and e-mails. Only when asked for by name, as sqlx's statement log is off.
    if !cli.log.contains("tokio_postgres")
        && let Ok(quiet) = "tokio_postgres=info".parse()
    {
        filter = filter.add_directive(quiet);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
    for name in scim_gateway::config::unknown_env_vars(std::env::vars().map(|(k, _)| k)) {
        tracing::warn!(variable = %name, "unknown SCIM_GATEWAY_ variable ignored (a typo?)");
    }
    let result = match cli.command.clone().unwrap_or(Command::Serve) {
        Command::PrintSchema => {
            print!("{}", scim_gateway::graphql::sdl());
            Ok(())
        }
        Command::Migrate => migrate(&cli).await,
        Command::AdminToken {
            workspace,
            email,
            given_name,
            family_name,
            expires_in_days,
            never_expires,
        } => {
            let person = domain::admin::PersonName {
                given: given_name.clone(),
                family: family_name.clone(),
            };
            match lifetime(expires_in_days, never_expires) {
                Ok(lifetime) => admin_token(&cli, &workspace, &email, &person, lifetime).await,
                Err(e) => Err(e.to_string()),
            }
        }
        Command::Domains {
            action: DomainsCommand::Verify { workspace, domain },
        } => vouch_domain(&cli, &workspace, &domain).await,
        Command::Serve => serve(&cli).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn open(cli: &Cli) -> Result<sea_orm::DatabaseConnection, String> {
    let conn = db::connect(&cli.database_url, cli.db_max_connections)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    db::migrate(&conn)
        .await
        .map_err(|e| format!("cannot apply migrations: {e}"))?;
    // Accounts stored before claimed domains existed get their e-mail's domain (once).
    let filled = domain::domains::fill_account_domains(&conn)
        .await
        .map_err(|e| format!("cannot fill the accounts' e-mail domains: {e}"))?;
    if filled > 0 {
        tracing::info!(accounts = filled, "filled the accounts' e-mail domains");
    }
    Ok(conn)
}

async fn vouch_domain(cli: &Cli, workspace: &str, domain: &str) -> Result<(), String> {
    let conn = open(cli).await?;
    let claim = domain::domains::vouch(&conn, workspace, domain)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "{} is verified for workspace {workspace} (vouched for by the operator)",
        claim.domain_unicode()
    );
    Ok(())
}

async fn migrate(cli: &Cli) -> Result<(), String> {
    open(cli).await?;
    eprintln!("migrations applied");
    Ok(())
}

/// The lifetime `admin-token --expires-in-days N` or `--never-expires` asks for.
fn lifetime(expires_in_days: Option<i64>, never_expires: bool) -> Result<Lifetime, domain::Error> {
    match (never_expires, expires_in_days) {
        (true, _) => Ok(Lifetime::Never),
        (false, Some(days)) => Lifetime::days(days),
        (false, None) => Ok(Lifetime::default()),
    }
}

async fn admin_token(
    cli: &Cli,
    workspace: &str,
    email: &str,
    person: &domain::admin::PersonName,
    lifetime: Lifetime,
) -> Result<(), String> {
    let conn = open(cli).await?;
    let issued =
        domain::admin::issue_token_named(&conn, workspace, workspace, email, person, lifetime)
            .await
            .map_err(|e| e.to_string())?;
    if issued.created_workspace {
        eprintln!(
            "created workspace {} with owner {email}",
            issued.workspace_slug
        );
    }
    if !issued.is_admin {
        eprintln!(
            "warning: {email} is not an active admin of {}; the token signs in but settings are forbidden",
            issued.workspace_slug
        );
    }
    match issued.expires_at {
        Some(at) => eprintln!("the token expires {}", at.format("%Y-%m-%d %H:%M UTC")),
        None => eprintln!("the token never expires: revoke it on the settings page when done"),
    }
    println!("{}", issued.token);
    Ok(())
}

/// Raises the soft descriptor limit to the hard one (service managers often give 1,024), logs
/// both, and returns the limit the process now has.
fn raise_descriptor_limit() -> u64 {
    use rlimit::Resource;
    let Ok((soft, hard)) = Resource::NOFILE.get() else {
        tracing::warn!("could not read the descriptor limit; assuming 1024");
        return 1024;
    };
    let raised = rlimit::increase_nofile_limit(hard).unwrap_or(soft);
    tracing::info!(
        soft_before = soft,
        hard,
        soft_now = raised,
        "descriptor limit"
    );
    raised
}

async fn serve(cli: &Cli) -> Result<(), String> {
    let nofile = raise_descriptor_limit();
    // Before any request: xmlsec initialised, and it and libxml2 unable to open files or URLs.
    domain::saml::verify::xml_libraries_closed()
        .map_err(|e| format!("cannot prepare SAML signature checks: {e}"))?;
    let conn = open(cli).await?;
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(&cli.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.bind))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Without a configured public URL, the address actually bound (a port 0 resolved).
    let public_url = cli
        .public_url()
        .unwrap_or_else(|| format!("http://{local}"));
    let settings = Settings::new(&public_url, cli.web_dir.clone())
        .with_limits(cli.limits(nofile))
        .with_db_lanes(cli.db_lanes())
        .with_trusted_proxies(cli.trusted_proxies.clone())
        .with_session_ttl(chrono::TimeDelta::hours(i64::from(cli.session_hours)))
        .with_metrics_token(cli.metrics_token.as_deref())
        .with_dns_server(cli.dns_server)
        .with_domain_check_every(Duration::from_secs(cli.domain_check_secs));
    let limits = &settings.limits;
    tracing::info!(
        max_connections = limits.max_connections,
        head_timeout_secs = limits.head_timeout.as_secs(),
        idle_timeout_secs = limits.idle_timeout.as_secs(),
        "connection limits"
    );
    if let Some(issued) = domain::admin::bootstrap_if_empty(&conn)
        .await
        .map_err(|e| format!("cannot create the demo workspace: {e}"))?
    {
        // The demo owner's domain, vouched for, so its SAML settings can be tried at once.
        domain::domains::vouch(&conn, domain::admin::DEMO_SLUG, domain::admin::DEMO_DOMAIN)
            .await
            .map_err(|e| format!("cannot verify the demo workspace's domain: {e}"))?;
        // Printed, never logged: the token is a secret shown once.
        println!(
            "Created the demo workspace \"{}\" (owner {}).\nSign in: {}\n",
            issued.workspace_slug,
            domain::admin::DEMO_OWNER_EMAIL,
            settings.sign_in_link(&issued.token)
        );
    }
    // Workspaces configured before claimed domains existed: told, not silently trusted.
    for slug in domain::domains::saml_without_verified_domain(&conn)
        .await
        .map_err(|e| format!("cannot read the workspaces' domains: {e}"))?
    {
        tracing::warn!(
            workspace = %slug,
            "SAML is configured but no domain is verified: its IdP signs in nobody until an admin verifies a domain (Settings → Domains) or the operator runs `scim-gateway domains verify --workspace {slug} DOMAIN`"
        );
    }
    println!(
        "scim-gateway listening on http://{local}\n  settings page: {}/\n  GraphQL:       {}/graphql\n  playground:    {}/graphql/playground",
        settings.public_url, settings.public_url, settings.public_url
    );
    tracing::info!(%local, public_url = %settings.public_url, "listening");
    spawn_retention(conn.clone(), cli.activity_retention_days);
    let writer = db::connect_writer(&cli.database_url, &conn)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let state = AppState::new(&cli.database_url, conn, writer, settings);
    scim_gateway::serve(listener, state, shutdown)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

/// Deletes activity past the retention window, at start and then hourly.
fn spawn_retention(conn: sea_orm::DatabaseConnection, days: u32) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let cutoff = domain::now() - chrono::TimeDelta::days(i64::from(days));
            match domain::activity::purge_before(&conn, cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "activity past retention deleted"),
                Err(e) => tracing::warn!(error = %e, "activity retention failed"),
            }
        }
    });
}

/// SIGTERM or ctrl-c. The handlers are installed here, before the service announces itself, so a
/// signal that comes right after "listening" still shuts down gracefully.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()> + Send + 'static, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutting down; finishing in-flight requests");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down; finishing in-flight requests");
        })
    }
}
