//! Structured logs to stderr: human-readable by default, JSON with `--log_format=json`; the
//! level comes from `--logging_level` (Mesos' flag) or `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Logging flags shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct LogFlags {
    /// Log level: ERROR, WARNING, INFO or DEBUG (Mesos' spelling). `RUST_LOG` overrides it.
    #[arg(
        long = "logging_level",
        env = "MESOS_LOGGING_LEVEL",
        default_value = "INFO",
        global = true
    )]
    pub level: String,
    /// Log format: `text` for people, `json` for machines.
    #[arg(
        long = "log_format",
        env = "DROVER_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub format: String,
}

/// Installs the global subscriber.
pub fn init(flags: &LogFlags) {
    let level = match flags.level.to_ascii_uppercase().as_str() {
        "ERROR" => "error",
        "WARNING" | "WARN" => "warn",
        "DEBUG" => "debug",
        "TRACE" => "trace",
        _ => "info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // Colour codes only for a person at a terminal: in a log file or a pipe they are noise
    // that every grep and log shipper has to strip.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if flags.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
