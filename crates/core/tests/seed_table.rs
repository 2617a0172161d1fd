//! Checks `SEEDS.md`, the table of every line of both seeds: it must cover every row of
//! `task::emission::EMISSIONS` and agree with it, name the daemon sources that really emit each
//! row, name only tests that exist, claim a real-process test only where one is named, and
//! state the counts it gives. When the seed documents are beside the repository (`../shared`,
//! as in CI, or `DROVER_SEEDS_DIR`), every seed line is checked to be in the table too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use drover_core::marathon::condition::condition_of;
use drover_core::task::TaskState;
use drover_core::task::emission::{EMISSIONS, Emission, StateRule};
use drover_core::task::names::{parse_reason, parse_source, parse_state, state_name};

const SEED1: &str = "Seed 1: Mesos task state reasons";
const SEED1_OTHER: &str = "Seed 1: the other statements";
const BEYOND: &str = "EMISSIONS rows beyond the seed";
const SEED2: &str = "Seed 2: Marathon task handling";

/// Crates whose `tests/` start real processes (or a real daemon on a real socket).
const REAL_PROCESS_CRATES: &[&str] = &["agent", "master", "drover", "marathon"];

/// Test files of other crates that start the built `drover` binary (crate, file).
const REAL_PROCESS_FILES: &[(&str, &str)] = &[("scheduler-client", "master_disconnected")];

/// Crates that are declared fakes of the daemons (simulator, benchmarks, soak): their use of a
/// row is not an emission by a daemon.
const NOT_DAEMONS: &[&str] = &["sim", "bench", "soak"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Table {
    heading: String,
    rows: Vec<BTreeMap<String, String>>,
}

/// Every Markdown table of the document, keyed by the heading above it.
fn tables(text: &str) -> Vec<Table> {
    let split = |line: &str| -> Vec<String> {
        let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
        inner.split('|').map(|c| c.trim().to_owned()).collect()
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut heading = String::new();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with('#') {
            heading = line.trim_start_matches('#').trim().to_owned();
        }
        let is_header = line.starts_with('|')
            && lines
                .get(i + 1)
                .is_some_and(|next| next.starts_with("| ---"));
        if !is_header {
            i += 1;
            continue;
        }
        let header = split(line);
        let mut rows = Vec::new();
        i += 2;
        while i < lines.len() && lines[i].starts_with('|') {
            let cells = split(lines[i]);
            assert_eq!(
                cells.len(),
                header.len(),
                "SEEDS.md line {}: {} cells, the header has {}",
                i + 1,
                cells.len(),
                header.len()
            );
            rows.push(header.iter().cloned().zip(cells).collect());
            i += 1;
        }
        out.push(Table {
            heading: heading.clone(),
            rows,
        });
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Real,
    CoreOnly,
    NoRealCause,
    RaceRemoved,
    NeverEmitted,
    Missing,
}

/// Reads and caches source files; checks test references against them.
#[derive(Default)]
struct Sources {
    files: BTreeMap<PathBuf, Option<String>>,
}

impl Sources {
    fn read(&mut self, path: &Path) -> Option<&str> {
        self.files
            .entry(path.to_owned())
            .or_insert_with(|| std::fs::read_to_string(path).ok())
            .as_deref()
    }

    /// Checks `crate::file::name`: the file exists and defines `fn name` under a test
    /// attribute. Returns whether the test starts real processes.
    fn check_test(&mut self, reference: &str) -> Result<bool, String> {
        let parts: Vec<&str> = reference.split("::").collect();
        let [krate, file, name] = parts[..] else {
            return Err(format!("`{reference}` is not crate::file::test"));
        };
        let path = if file.contains('/') {
            repo().join("crates").join(krate).join(file)
        } else {
            repo()
                .join("crates")
                .join(krate)
                .join("tests")
                .join(format!("{file}.rs"))
        };
        let Some(text) = self.read(&path) else {
            return Err(format!("`{reference}`: no file {}", path.display()));
        };
        let lines: Vec<&str> = text.lines().collect();
        let defines = |line: &str| {
            let line = line.trim_start();
            let line = line.strip_prefix("async ").unwrap_or(line);
            line.strip_prefix("fn ")
                .and_then(|rest| rest.strip_prefix(name))
                .is_some_and(|rest| rest.starts_with('('))
        };
        let Some(at) = lines.iter().position(|l| defines(l)) else {
            return Err(format!(
                "`{reference}`: no `fn {name}` in {}",
                path.display()
            ));
        };
        let is_test = lines[..at]
            .iter()
            .rev()
            .map(|l| l.trim())
            .take_while(|l| l.starts_with("#[") || l.starts_with("//"))
            .any(|l| l.starts_with("#[test]") || l.starts_with("#[tokio::test"));
        if !is_test {
            return Err(format!("`{reference}`: `fn {name}` is not a test"));
        }
        Ok(!file.contains('/')
            && (REAL_PROCESS_CRATES.contains(&krate)
                || REAL_PROCESS_FILES.contains(&(krate, file))))
    }

    /// Parses and checks an Evidence cell.
    fn evidence(&mut self, cell: &str) -> Result<Status, String> {
        let (status, rest) = cell
            .split_once(':')
            .ok_or_else(|| format!("no status in {cell:?}"))?;
        let status = match status.trim() {
            "real" => Status::Real,
            "core test only" => Status::CoreOnly,
            "no real cause yet" => Status::NoRealCause,
            "race removed by design" => Status::RaceRemoved,
            "never emitted" => Status::NeverEmitted,
            "missing" => Status::Missing,
            other => return Err(format!("unknown status {other:?}")),
        };
        let references: Vec<&str> = rest
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|r| r.matches("::").count() == 2)
            .collect();
        let mut real = 0;
        for reference in &references {
            if self.check_test(reference)? {
                real += 1;
            }
        }
        let explained = rest.trim().len() > 10;
        match status {
            Status::Real if real == 0 => Err("`real:` names no real-process test".into()),
            Status::CoreOnly if references.is_empty() => {
                Err("`core test only:` names no test".into())
            }
            Status::CoreOnly if real > 0 => {
                Err("`core test only:` names a real-process test: say `real:`".into())
            }
            Status::NeverEmitted if references.is_empty() => {
                Err("`never emitted:` names no test".into())
            }
            Status::NoRealCause | Status::RaceRemoved | Status::Missing if !explained => {
                Err("the status must say what is missing, or why".into())
            }
            _ => Ok(status),
        }
    }
}

/// The name of an EMISSIONS row, as the table writes it.
fn trigger_name(row: &Emission) -> String {
    format!("{:?}", row.trigger)
}

fn state_cell(row: &Emission, partition_aware: bool) -> String {
    match row.state {
        StateRule::Current => "(current)".into(),
        StateRule::Fixed { .. } => {
            state_name(row.state_for(partition_aware, TaskState::TaskRunning)).into()
        }
    }
}

/// Whether `text` uses `needle` as a whole identifier.
fn uses(text: &str, needle: &str) -> bool {
    text.match_indices(needle).any(|(at, _)| {
        !text[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Every daemon source file (under `crates/*/src`), relative to `crates/`, with its text.
fn daemon_sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let crates = repo().join("crates");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&crates).expect("crates/").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !NOT_DAEMONS.contains(&name.as_str()) {
            walk(&entry.path().join("src"), &mut files);
        }
    }
    files
        .into_iter()
        .filter_map(|path| {
            let relative = path
                .strip_prefix(&crates)
                .ok()?
                .to_string_lossy()
                .into_owned();
            (relative != "core/src/task/emission.rs")
                .then(|| std::fs::read_to_string(&path).ok().map(|t| (relative, t)))
                .flatten()
        })
        .collect()
}

/// The backticked paths of an "Emitted in" cell.
fn paths(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Checks one row of a seed-1 style table against EMISSIONS; returns the trigger it names.
fn check_emission_row(
    row: &BTreeMap<String, String>,
    daemons: &[(String, String)],
    sources: &mut Sources,
) -> Result<Option<String>, String> {
    let reason_cell = &row["Reason (seed)"];
    let reason = parse_reason(reason_cell).ok_or(format!("unknown reason {reason_cell}"))?;
    let source_cell = &row["Source"];
    let source = parse_source(source_cell).ok_or(format!("unknown source {source_cell}"))?;
    let trigger = &row["EMISSIONS row"];
    if trigger == "—" {
        return Ok(None);
    }
    let emission = EMISSIONS
        .iter()
        .find(|e| trigger_name(e) == *trigger)
        .ok_or(format!("no EMISSIONS row {trigger}"))?;
    if emission.emitter.source() != source {
        return Err(format!(
            "{trigger} is emitted with {:?}, the table says {source_cell}",
            emission.emitter.source()
        ));
    }
    if emission.reason != reason && emission.reason_other != reason {
        return Err(format!(
            "{trigger} sends {:?}, the table says {reason_cell}",
            emission.reason
        ));
    }
    for (column, pa) in [("PA gets", true), ("non-PA gets", false)] {
        let expected = state_cell(emission, pa);
        if row[column] != expected {
            return Err(format!(
                "{trigger}: {column} is {expected}, not {}",
                row[column]
            ));
        }
    }
    let seed_state = &row["Seed state"];
    if parse_state(seed_state).is_some()
        && *seed_state != row["PA gets"]
        && *seed_state != row["non-PA gets"]
        && row["Note"].is_empty()
    {
        return Err(format!(
            "{trigger}: Drover differs from the seed's {seed_state}; the Note must say why"
        ));
    }
    // Emitted in: exactly the daemon sources that use the row.
    let listed = paths(&row["Emitted in"]);
    let needle = format!("Trigger::{trigger}");
    let reason_needle = format!("Reason::{reason:?}");
    for path in &listed {
        let text = sources
            .read(&repo().join("crates").join(path))
            .ok_or(format!("{trigger}: no file crates/{path}"))?;
        if !uses(text, &needle) && !uses(text, &reason_needle) {
            return Err(format!("{trigger}: crates/{path} does not emit it"));
        }
    }
    let users: BTreeSet<String> = daemons
        .iter()
        .filter(|(_, text)| uses(text, &needle))
        .map(|(path, _)| path.clone())
        .collect();
    let unlisted: Vec<&String> = users.difference(&listed).collect();
    if !unlisted.is_empty() {
        return Err(format!(
            "{trigger} is now used in {unlisted:?}: add it to \"Emitted in\" (and update the \
             row's evidence if it now has a real cause)"
        ));
    }
    Ok(Some(trigger.clone()))
}

/// Reads the "**N of M**" count of the "Where we stand" bullet that starts with `label`.
fn stated_count(text: &str, label: &str) -> (usize, usize) {
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("* {label}")))
        .unwrap_or_else(|| panic!("no \"* {label}\" line in SEEDS.md"));
    let bold = line.split("**").nth(1).expect("a **N of M** count");
    let (n, m) = bold.split_once(" of ").expect("N of M");
    (n.trim().parse().expect("N"), m.trim().parse().expect("M"))
}

/// The seed documents, when they are beside the repository.
fn seeds_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("DROVER_SEEDS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/seeds"));
    dir.join("mesos-task-state-reasons.txt")
        .exists()
        .then_some(dir)
}

fn line_of(row: &BTreeMap<String, String>) -> Option<usize> {
    row["Line"].strip_prefix('L').and_then(|n| n.parse().ok())
}

/// Every `REASON_` line of seed 1 (with the state and source of its section) and every `case`
/// line of seed 2 must be in the table.
fn check_against_seed_files(dir: &Path, all: &[Table], errors: &mut Vec<String>) {
    let seed1 = std::fs::read_to_string(dir.join("mesos-task-state-reasons.txt")).expect("seed 1");
    let rows1: Vec<&BTreeMap<String, String>> = all
        .iter()
        .filter(|t| t.heading == SEED1)
        .flat_map(|t| &t.rows)
        .collect();
    let (mut state, mut source) = (None::<String>, None::<String>);
    for (i, line) in seed1.lines().enumerate() {
        let n = i + 1;
        if let Some(rest) = line.strip_prefix("For state ") {
            state = Some(rest.trim_end_matches(':').trim().to_owned());
            source = None;
        } else if line.starts_with("In status updates generated on the master") {
            source = Some("SOURCE_MASTER".into());
        } else if line.starts_with("In status updates generated on the agent") {
            source = Some("SOURCE_AGENT".into());
        } else if line.starts_with("Reasons for Non-Terminal") {
            (state, source) = (None, None);
        }
        let Some(reason) = line
            .split_whitespace()
            .next()
            .filter(|w| w.starts_with("REASON_"))
        else {
            continue;
        };
        let here: Vec<_> = rows1.iter().filter(|r| line_of(r) == Some(n)).collect();
        if !here.iter().any(|r| r["Reason (seed)"] == reason) {
            errors.push(format!("seed 1 line {n} ({reason}) has no row"));
            continue;
        }
        if let Some(state) = &state
            && !here.iter().any(|r| r["Seed state"] == *state)
        {
            errors.push(format!("seed 1 line {n}: no row with its state {state}"));
        }
        if let Some(source) = &source
            && !here.iter().all(|r| r["Source"] == *source)
        {
            errors.push(format!("seed 1 line {n}: its source is {source}"));
        }
    }
    let seed2 = std::fs::read_to_string(dir.join("marathon-task-handling.txt")).expect("seed 2");
    let rows2: Vec<&BTreeMap<String, String>> = all
        .iter()
        .filter(|t| t.heading == SEED2)
        .flat_map(|t| &t.rows)
        .collect();
    for (i, line) in seed2.lines().enumerate() {
        let Some((state, condition)) = line
            .strip_prefix("case ")
            .and_then(|rest| rest.split_once("=>"))
        else {
            continue;
        };
        let (state, condition) = (state.trim(), condition.trim());
        if !rows2.iter().any(|r| {
            line_of(r) == Some(i + 1) && r["Mesos state"] == state && r["Condition"] == condition
        }) {
            errors.push(format!(
                "seed 2 line {}: no row {state} => {condition}",
                i + 1
            ));
        }
    }
}

#[test]
fn seeds_md_covers_every_seed_line_and_emissions_row_with_existing_tests() {
    let text = std::fs::read_to_string(repo().join("SEEDS.md")).expect("SEEDS.md at the root");
    let all = tables(&text);
    for heading in [SEED1, SEED1_OTHER, BEYOND, SEED2] {
        assert!(
            all.iter()
                .any(|t| t.heading == heading && !t.rows.is_empty()),
            "SEEDS.md has no table under \"{heading}\""
        );
    }
    let daemons = daemon_sources();
    let mut sources = Sources::default();
    let mut errors = Vec::new();
    let mut covered = BTreeSet::new();
    // (table, status) → rows, for the counts and the summary.
    let mut tally: BTreeMap<(&str, Status), Vec<String>> = BTreeMap::new();
    for table in &all {
        let heading = [SEED1, SEED1_OTHER, BEYOND, SEED2]
            .into_iter()
            .find(|h| *h == table.heading);
        let Some(heading) = heading else { continue };
        for row in &table.rows {
            let label = format!(
                "{heading} {} {}",
                row["Line"],
                row.get("EMISSIONS row")
                    .or(row.get("Mesos state"))
                    .or(row.get("Statement"))
                    .map(String::as_str)
                    .unwrap_or_default()
            );
            if heading == SEED1 || heading == BEYOND {
                match check_emission_row(row, &daemons, &mut sources) {
                    Ok(Some(trigger)) => {
                        covered.insert(trigger);
                    }
                    Ok(None) => {}
                    Err(e) => errors.push(format!("{label}: {e}")),
                }
            }
            if heading == SEED2 && row["Mesos state"] != "—" {
                let (state, reason) = match row["Mesos state"].split_once(" / ") {
                    Some((s, r)) => (s, parse_reason(r)),
                    None => (row["Mesos state"].as_str(), None),
                };
                match parse_state(state) {
                    Some(state) => {
                        let condition = condition_of(state, reason, None).name();
                        if condition != row["Condition"] {
                            errors.push(format!("{label}: the condition is {condition}"));
                        }
                    }
                    None => errors.push(format!("{label}: unknown state {state}")),
                }
            }
            match sources.evidence(&row["Evidence"]) {
                Ok(status) => tally.entry((heading, status)).or_default().push(label),
                Err(e) => errors.push(format!("{label}: {e}")),
            }
        }
    }
    for row in EMISSIONS {
        if !covered.contains(&trigger_name(row)) {
            errors.push(format!(
                "EMISSIONS row {} ({}) is not in SEEDS.md",
                trigger_name(row),
                row.seed
            ));
        }
    }
    match seeds_dir() {
        Some(dir) => {
            println!("seed documents checked: {}", dir.display());
            check_against_seed_files(&dir, &all, &mut errors);
        }
        None => println!(
            "seed documents not beside the repository: checked against the table's own seed \
             columns only"
        ),
    }
    let count = |headings: &[&str]| {
        let rows = |status: Option<Status>| -> usize {
            tally
                .iter()
                .filter(|((h, s), _)| headings.contains(h) && status.is_none_or(|x| x == *s))
                .map(|(_, rows)| rows.len())
                .sum()
        };
        (rows(Some(Status::Real)), rows(None))
    };
    for (label, headings) in [
        ("Seed 1", &[SEED1, SEED1_OTHER][..]),
        ("Seed 2", &[SEED2][..]),
        ("`EMISSIONS` rows beyond the seed", &[BEYOND][..]),
    ] {
        let (real, total) = count(headings);
        println!("{label}: {real} of {total} rows have a real-process test");
        let stated = stated_count(&text, label);
        if stated != (real, total) {
            errors.push(format!(
                "\"Where we stand\" says {label}: {} of {}; the table gives {real} of {total}",
                stated.0, stated.1
            ));
        }
    }
    for ((heading, status), rows) in &tally {
        if *status != Status::Real {
            println!("{heading}: {status:?}: {}", rows.len());
            for row in rows {
                println!("    {row}");
            }
        }
    }
    assert!(errors.is_empty(), "SEEDS.md:\n{}", errors.join("\n"));
}
