//! Structured logs to stderr: human-readable by default, JSON with `--log_format=json`; the
//! level comes from `--logging_level` (Mesos' flag) or `RUST_LOG`. With `--log_dir` (Mesos'
//! flag) the same lines also go to `<log_dir>/drover.log`, which the master serves as
//! `/master/log` to the Operator API's READ_FILE.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// Opens `<log_dir>/drover.log` for appending and tells the master where it is; a log dir
/// that cannot be used is reported on stderr and logging stays on stderr only.
fn log_file(flags: &LogFlags) -> Option<std::fs::File> {
    let dir = flags.log_dir.as_ref()?;
    let path = dir.join("drover.log");
    let opened = std::fs::create_dir_all(dir).and_then(|_| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
    });
    match opened {
        Ok(file) => {
            drover_master::operator::logging::set_log_file(path);
            Some(file)
        }
        Err(error) => {
            eprintln!(
                "drover: cannot write the log to {}: {error}",
                path.display()
            );
            None
        }
    }
}

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
    /// Also write the log to `<log_dir>/drover.log` (created if missing).
    #[arg(long = "log_dir", env = "MESOS_LOG_DIR", global = true)]
    pub log_dir: Option<std::path::PathBuf>,
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
    // RUST_LOG, when set, is the base filter; otherwise the flag's level.
    let base = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| EnvFilter::try_new(v).is_ok())
        .unwrap_or_else(|| level.to_owned());
    let filter = EnvFilter::new(&base);
    let writer = match log_file(flags) {
        Some(file) => {
            use tracing_subscriber::fmt::writer::MakeWriterExt;
            BoxMakeWriter::new(std::io::stderr.and(std::sync::Mutex::new(file)))
        }
        None => BoxMakeWriter::new(std::io::stderr),
    };
    // Colour codes only for a person at a terminal: in a log file or a pipe they are noise
    // that every grep and log shipper has to strip.
    let ansi = flags.log_dir.is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    // The operator API's SET_LOGGING_LEVEL raises the verbosity for a while through a
    // reload handle (Mesos toggled glog's `--v`).
    let apply = |reload: Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>| {
        drover_master::operator::logging::install(Box::new(move |verbosity| {
            let filter = match verbosity {
                0 => EnvFilter::new(&base),
                1 => EnvFilter::new("debug"),
                _ => EnvFilter::new("trace"),
            };
            reload(filter)
        }));
    };
    if flags.format == "json" {
        let builder = builder.json().with_filter_reloading();
        let handle = builder.reload_handle();
        apply(Box::new(move |f| {
            handle.reload(f).map_err(|e| e.to_string())
        }));
        builder.init();
    } else {
        let builder = builder.with_filter_reloading();
        let handle = builder.reload_handle();
        apply(Box::new(move |f| {
            handle.reload(f).map_err(|e| e.to_string())
        }));
        builder.init();
    }
}
