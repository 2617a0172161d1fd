//! `drover task exec`: runs a command inside a running task's container through its agent's
//! nested-container session (`LAUNCH_NESTED_CONTAINER_SESSION` for the output,
//! `ATTACH_CONTAINER_INPUT` for this terminal's input), then exits with the command's status,
//! as `dcos task exec` did. `drover task attach`: this terminal to a task launched with a TTY
//! (`ATTACH_CONTAINER_OUTPUT` and `ATTACH_CONTAINER_INPUT` on its container).

use std::io::{Read, Write};

use bytes::Bytes;
use drover_wire::codec::Encoding;
use drover_wire::v1;
use hyper::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::task::{executor_of, find_task};
use super::{CliError, CliResult, Endpoints, is_terminal, text};

/// A call answered with the container's output: RecordIO of protobuf `ProcessIO` records.
const STREAM_HEADERS: &[(&str, &str)] = &[
    ("Content-Type", "application/json"),
    ("Accept", "application/recordio"),
    ("Message-Accept", "application/x-protobuf"),
];

/// Input chunks in flight between this terminal and the agent.
const INPUT_QUEUE: usize = 64;

/// The command's raw wait status as this process' exit code (128 + signal, as shells do).
fn exit_code(raw: i32) -> u8 {
    if libc_exited(raw) {
        ((raw >> 8) & 0xff) as u8
    } else {
        (128 + (raw & 0x7f)).min(255) as u8
    }
}

fn libc_exited(raw: i32) -> bool {
    raw & 0x7f == 0
}

/// Puts a terminal in raw mode until dropped, so keys reach the remote terminal as typed.
struct RawMode {
    saved: Option<rustix::termios::Termios>,
}

impl RawMode {
    fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let Ok(saved) = rustix::termios::tcgetattr(&stdin) else {
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        raw.make_raw();
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw);
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                saved,
            );
        }
    }
}

/// This terminal's size (rows, columns), if stdout is one.
fn window_size() -> Option<(u16, u16)> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    (size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}

fn input_record(container: &v1::ContainerId, io: Option<v1::agent::ProcessIo>) -> Bytes {
    use v1::agent::call::attach_container_input::Type;
    let call = v1::agent::Call {
        r#type: Some(v1::agent::call::Type::AttachContainerInput as i32),
        attach_container_input: Some(v1::agent::call::AttachContainerInput {
            r#type: Some(if io.is_some() {
                Type::ProcessIo
            } else {
                Type::ContainerId
            } as i32),
            container_id: io.is_none().then(|| container.clone()),
            process_io: io,
        }),
        ..Default::default()
    };
    drover_wire::recordio::encode(&drover_wire::codec::encode(&call, Encoding::Protobuf))
}

fn stdin_data(data: Vec<u8>) -> v1::agent::ProcessIo {
    v1::agent::ProcessIo {
        r#type: Some(v1::agent::process_io::Type::Data as i32),
        data: Some(v1::agent::process_io::Data {
            r#type: Some(v1::agent::process_io::data::Type::Stdin as i32),
            data: Some(data),
        }),
        control: None,
    }
}

fn tty_info(rows: u16, columns: u16) -> v1::agent::ProcessIo {
    v1::agent::ProcessIo {
        r#type: Some(v1::agent::process_io::Type::Control as i32),
        data: None,
        control: Some(v1::agent::process_io::Control {
            r#type: Some(v1::agent::process_io::control::Type::TtyInfo as i32),
            tty_info: Some(v1::TtyInfo {
                window_size: Some(v1::tty_info::WindowSize {
                    rows: rows.into(),
                    columns: columns.into(),
                }),
            }),
            heartbeat: None,
        }),
    }
}

/// `drover task exec ID [-i] [-t] -- CMD…`.
pub async fn exec(
    endpoints: &Endpoints,
    wanted: &str,
    tty: bool,
    interactive: bool,
    command: Vec<String>,
) -> CliResult {
    let master = endpoints.master();
    let state = master.get("/master/state").await?;
    let found = find_task(&state, wanted)?;
    let state_name = text(&found.task, "state");
    if is_terminal(state_name) {
        return Err(CliError::Failed(format!(
            "task {} is not running ({state_name})",
            text(&found.task, "id")
        )));
    }
    let (agent, executor) = executor_of(endpoints, &found, &state).await?;
    let parent = text(&executor, "container").to_owned();
    if parent.is_empty() {
        return Err(CliError::Failed(format!(
            "the agent does not show the container of task {}",
            text(&found.task, "id")
        )));
    }
    let container = v1::ContainerId {
        value: uuid::Uuid::new_v4().to_string(),
        parent: Some(Box::new(task_container(&found.task, &parent))),
    };
    let window = if tty { window_size() } else { None };
    let mut container_info = json!({"type": "MESOS"});
    if tty {
        let (rows, columns) = window.unwrap_or((24, 80));
        container_info["tty_info"] = json!({"window_size": {"rows": rows, "columns": columns}});
    }
    let launch = json!({
        "type": "LAUNCH_NESTED_CONTAINER_SESSION",
        "launch_nested_container_session": {
            "container_id": id_json(&container),
            "command": {"shell": false, "value": command[0], "arguments": command},
            "container": container_info,
        }
    });
    let output = agent
        .recordio_as("/api/v1", STREAM_HEADERS, &launch)
        .await?;
    relay(&agent, &container, output, interactive, tty, window, false).await;
    let call = |kind: &str| {
        let key = kind.to_lowercase();
        json!({"type": kind, key: {"container_id": id_json(&container)}})
    };
    let waited = agent
        .json(
            Method::POST,
            "/api/v1",
            Some(&call("WAIT_NESTED_CONTAINER")),
        )
        .await?;
    let _ = agent
        .json(
            Method::POST,
            "/api/v1",
            Some(&call("REMOVE_NESTED_CONTAINER")),
        )
        .await;
    let result = &waited["wait_nested_container"];
    if let Some(raw) = result
        .get("exit_status")
        .and_then(serde_json::Value::as_i64)
    {
        return match exit_code(raw as i32) {
            0 => Ok(()),
            code => Err(CliError::Exit(code)),
        };
    }
    Err(CliError::Failed(format!(
        "the command ended without an exit status: {} {} {}",
        text(result, "state"),
        text(result, "reason"),
        text(result, "message")
    )))
}

/// The container task `task` (from `/master/state`) runs in: the nested container its
/// executor reported in its updates (a default executor's task, as Mesos' said), when it lies
/// in `executor_container`; else the executor's container itself.
fn task_container(task: &Value, executor_container: &str) -> v1::ContainerId {
    fn parse(value: &Value, depth: usize) -> Option<v1::ContainerId> {
        let id = value.get("value")?.as_str()?.to_owned();
        let parent = match value.get("parent") {
            Some(p) if depth < 4 => Some(Box::new(parse(p, depth + 1)?)),
            Some(_) => return None,
            None => None,
        };
        Some(v1::ContainerId { value: id, parent })
    }
    let reported = task["statuses"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .find_map(|s| parse(&s["container_status"]["container_id"], 0))
        .filter(|id| {
            let mut root = id;
            while let Some(parent) = root.parent.as_deref() {
                root = parent;
            }
            id.parent.is_some() && root.value == executor_container
        });
    reported.unwrap_or_else(|| v1::ContainerId {
        value: executor_container.to_owned(),
        parent: None,
    })
}

/// A container id as the operator API's JSON has it, parents included.
fn id_json(id: &v1::ContainerId) -> Value {
    match &id.parent {
        Some(parent) => json!({"value": id.value, "parent": id_json(parent)}),
        None => json!({"value": id.value}),
    }
}

/// Ctrl-P Ctrl-Q: leaves an attached terminal without ending what runs in it (Docker's and
/// DC/OS' key sequence).
const DETACH: [u8; 2] = [0x10, 0x11];

/// Streams the container's output to this process' stdout/stderr until it ends, and (when
/// `interactive`) this process' stdin to the container. With `detachable`, Ctrl-P Ctrl-Q
/// ends the relay early; returns whether that happened.
async fn relay(
    agent: &super::Service,
    container: &v1::ContainerId,
    mut output: super::http::RecordStream,
    interactive: bool,
    tty: bool,
    window: Option<(u16, u16)>,
    detachable: bool,
) -> bool {
    let (detach_tx, mut detach_rx) = mpsc::channel::<()>(1);
    // The terminal goes raw only once the command runs, and comes back before any message.
    let raw = (tty && rustix::termios::isatty(std::io::stdin())).then(RawMode::enter);
    let input = {
        let (tx, rx) = mpsc::channel::<Bytes>(INPUT_QUEUE);
        let _ = tx.try_send(input_record(container, None));
        if let Some((rows, columns)) = window {
            let _ = tx.try_send(input_record(container, Some(tty_info(rows, columns))));
        }
        let container = container.clone();
        if !interactive {
            // Without -i the command's input is empty, as `docker exec` without -i: it sees
            // the end of its stdin at once instead of waiting on it for ever.
            let _ = tx.try_send(input_record_eof(&container));
            drop(tx);
        } else {
            // A thread of its own: reading stdin blocks, and may still be blocked when the
            // command ends (the process then exits under it).
            std::thread::spawn(move || {
                let mut stdin = std::io::stdin();
                let mut buf = [0u8; 4096];
                let mut last = 0u8;
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) | Err(_) => {
                            let _ = tx.blocking_send(input_record_eof(&container));
                            return;
                        }
                        Ok(n) => {
                            let chunk = &buf[..n];
                            let detach = detachable
                                && (chunk.windows(2).any(|w| w == DETACH)
                                    || (last == DETACH[0] && chunk[0] == DETACH[1]));
                            last = chunk[n - 1];
                            if detach {
                                let _ = detach_tx.blocking_send(());
                                return;
                            }
                            let record = input_record(&container, Some(stdin_data(chunk.to_vec())));
                            if tx.blocking_send(record).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
        let agent = agent.clone();
        tokio::spawn(async move {
            agent
                .post_streaming(
                    "/api/v1",
                    &[
                        ("Content-Type", "application/recordio"),
                        ("Message-Content-Type", "application/x-protobuf"),
                    ],
                    rx,
                )
                .await
        })
    };
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let mut detached = false;
    loop {
        let record = tokio::select! {
            record = output.next() => record,
            Some(()) = detach_rx.recv() => {
                detached = true;
                None
            }
        };
        let Some(record) = record else { break };
        let Ok(message) =
            drover_wire::codec::decode::<v1::agent::ProcessIo>(&record, Encoding::Protobuf)
        else {
            continue;
        };
        let Some(data) = message.data else { continue };
        let bytes = data.data.unwrap_or_default();
        if data.r#type == Some(v1::agent::process_io::data::Type::Stderr as i32) {
            let _ = stderr.write_all(&bytes);
            let _ = stderr.flush();
        } else {
            let _ = stdout.write_all(&bytes);
            let _ = stdout.flush();
        }
    }
    drop(raw);
    input.abort();
    detached
}

/// `drover task attach ID`: this terminal to a task launched with a TTY (Marathon's `tty`,
/// `container.tty_info`), until the task ends or Ctrl-P Ctrl-Q.
pub async fn attach(endpoints: &Endpoints, wanted: &str) -> CliResult {
    let master = endpoints.master();
    let state = master.get("/master/state").await?;
    let found = find_task(&state, wanted)?;
    let task_id = text(&found.task, "id").to_owned();
    let state_name = text(&found.task, "state");
    if is_terminal(state_name) {
        return Err(CliError::Failed(format!(
            "task {task_id} is not running ({state_name})"
        )));
    }
    let (agent, executor) = executor_of(endpoints, &found, &state).await?;
    let container = task_container(&found.task, text(&executor, "container"));
    let call = json!({"type": "ATTACH_CONTAINER_OUTPUT",
        "attach_container_output": {"container_id": id_json(&container)}});
    let output = agent.recordio_as("/api/v1", STREAM_HEADERS, &call).await?;
    let tty = rustix::termios::isatty(std::io::stdin());
    if tty {
        eprint!("attached to task {task_id}; detach with Ctrl-P Ctrl-Q\r\n");
    }
    let window = if tty { window_size() } else { None };
    if relay(&agent, &container, output, true, tty, window, true).await {
        eprintln!("\ndetached from task {task_id} (it keeps running)");
    }
    Ok(())
}

fn input_record_eof(container: &v1::ContainerId) -> Bytes {
    input_record(container, Some(stdin_data(Vec::new())))
}
