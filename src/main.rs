use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;

use switchboard::accounts::{self, NewUser};
use switchboard::auth::Role;
use switchboard::config::Settings;
use switchboard::db::ids::OrganizationId;
use switchboard::secrets::SecretKey;
use switchboard::startup::Application;
use switchboard::storage::Storage;
use switchboard::{db, demo, telemetry};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Realtime SMS/MMS and email messaging server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (applies pending migrations first).
    Serve {
        #[command(flatten)]
        settings: Settings,
        /// Also create the demo organisation if it does not exist.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        settings: Settings,
    },
    /// Create the demo organisation (once) and print its login.
    Demo {
        #[command(flatten)]
        settings: Settings,
    },
    /// Manage organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage operators.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organisation with its first admin; prints their ids as JSON.
    Create {
        #[command(flatten)]
        settings: Settings,
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long)]
        admin_password: String,
        #[arg(long, default_value = "Administrator")]
        admin_name: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an operator to an organisation; prints their id as JSON.
    Create {
        #[command(flatten)]
        settings: Settings,
        #[arg(long)]
        org: uuid::Uuid,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value = "agent")]
        role: Role,
        /// A permission beyond the role (repeatable), e.g. `sms.admin`.
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
}

/// mimalloc rather than the system allocator: messages are built on one thread and
/// dropped on another (HTTP workers, actors, the database batchers), which glibc's
/// per-thread arenas handle poorly; measured on the send bench, the server ran 13% fewer
/// instructions.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // A `.env` file in the working directory fills in settings not set in the environment.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { settings, demo } => serve(settings, demo).await,
        Command::Migrate { settings } => {
            telemetry::init(settings.log_format);
            db::ensure_database_exists(&settings.database.database_url).await?;
            let applied = db::migrate(&settings.database.database_url).await?;
            println!("{}", json!({ "applied": applied }));
            Ok(())
        }
        Command::Demo { settings } => {
            telemetry::init(settings.log_format);
            let pool = db::connect(&settings.database.database_url, 2).await?;
            let public_url = settings
                .server
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", settings.server.addr));
            // The server's own key and store: the demo's picture is served as an upload.
            let secrets =
                SecretKey::load_or_create(settings.secret_key.as_deref(), &settings.data_dir)?;
            let storage = Storage::from_settings(
                &settings.attachments,
                &settings.data_dir,
                secrets,
                &public_url,
            )?;
            demo::ensure(&pool, &storage, settings.default_region()?).await?;
            print_demo_login(&public_url);
            Ok(())
        }
        Command::Org(OrgCommand::Create {
            settings,
            name,
            admin_email,
            admin_password,
            admin_name,
        }) => {
            telemetry::init(settings.log_format);
            let pool = db::connect(&settings.database.database_url, 2).await?;
            let admin = NewUser {
                email: &admin_email,
                name: &admin_name,
                password: &admin_password,
                role: Role::Admin,
                permissions: &[],
            };
            let (organization, user) = accounts::create_organization(&pool, &name, admin)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            println!(
                "{}",
                json!({ "organization_id": organization.id, "user_id": user.id })
            );
            Ok(())
        }
        Command::User(UserCommand::Create {
            settings,
            org,
            email,
            password,
            name,
            role,
            permissions,
        }) => {
            telemetry::init(settings.log_format);
            let pool = db::connect(&settings.database.database_url, 2).await?;
            let user = NewUser {
                email: &email,
                name: &name,
                password: &password,
                role,
                permissions: &permissions,
            };
            let user = accounts::create_user(&pool, OrganizationId(org), user)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            println!(
                "{}",
                json!({ "organization_id": user.organization_id, "user_id": user.id })
            );
            Ok(())
        }
    }
}

async fn serve(mut settings: Settings, with_demo: bool) -> anyhow::Result<()> {
    telemetry::init(settings.log_format);
    // The demo's contacts answer its texts, so the pages are alive from the first minute.
    settings.delivery.sandbox_replies |= with_demo;
    let app = Application::build(&settings)
        .await
        .context("starting the server")?;
    if with_demo {
        demo::ensure(app.pool(), app.storage(), settings.default_region()?)
            .await
            .map_err(|error| anyhow::anyhow!("creating the demo organisation: {error}"))?;
        print_demo_login(app.public_url());
    }
    app.run_until_stopped().await?;
    Ok(())
}

fn print_demo_login(url: &str) {
    println!();
    println!("  Switchboard is running at {url}/");
    println!("  Demo organisation \"Demo Clinic\":");
    println!("    admin  {} / {}", demo::ADMIN_EMAIL, demo::PASSWORD);
    println!("    agent  {} / {}", demo::AGENT_EMAIL, demo::PASSWORD);
    println!();
}
