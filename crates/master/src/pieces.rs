//! Large legacy documents (`/master/state`, `/master/frameworks`) written in two steps: the
//! master's loop writes everything but the task lists and keeps those as shared pointers; the
//! task lists, most of the text at 100,000 tasks, are then written off the loop on every core
//! and sent as the chunks they were written in (issue 20, G10).
//!
//! Before, the loop cloned the whole master (every task map's keys, the per-agent task index,
//! the ledger) for the blocking pool to write from, and one thread wrote 56 MiB. The text is
//! the same: objects are written as `serde_json`'s compact serializer writes a map (`{`,
//! `"key":value` joined by `,`, `}`), each value by `serde_json` itself.

use std::sync::Arc;

use bytes::Bytes;
use drover_core::master::TaskEntry;
use serde::Serialize;

use crate::legacy::TaskDoc;

/// Task lists shorter than this are written on one thread.
const PARALLEL_MIN: usize = 2_048;
/// At most this many threads write one document's task lists.
const MAX_THREADS: usize = 8;

/// A document in writing: text, with task lists to be written later in between.
#[derive(Debug, Default)]
pub struct Pieces {
    parts: Vec<Piece>,
    text: Vec<u8>,
}

#[derive(Debug)]
enum Piece {
    Text(Vec<u8>),
    Tasks(Vec<Arc<TaskEntry>>),
}

/// An object being written: whether an entry needs a `,` before it.
#[derive(Debug)]
pub struct Object {
    first: bool,
}

/// An array being written.
#[derive(Debug)]
pub struct Array {
    first: bool,
}

fn write_value(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    // Our values only have string keys, so serde_json cannot fail on them.
    let _ = serde_json::to_writer(&mut *out, value);
}

impl Pieces {
    /// Starts an object.
    pub fn object(&mut self) -> Object {
        self.text.push(b'{');
        Object { first: true }
    }

    /// Ends an object.
    pub fn end_object(&mut self, _object: Object) {
        self.text.push(b'}');
    }

    /// Starts an array.
    pub fn array(&mut self) -> Array {
        self.text.push(b'[');
        Array { first: true }
    }

    /// Before each element of an array.
    pub fn element(&mut self, array: &mut Array) {
        if !array.first {
            self.text.push(b',');
        }
        array.first = false;
    }

    /// Ends an array.
    pub fn end_array(&mut self, _array: Array) {
        self.text.push(b']');
    }

    /// Writes `"key":` (the value comes next).
    pub fn key(&mut self, object: &mut Object, key: &str) {
        if !object.first {
            self.text.push(b',');
        }
        object.first = false;
        write_value(&mut self.text, key);
        self.text.push(b':');
    }

    /// Writes `"key":value`.
    pub fn entry(&mut self, object: &mut Object, key: &str, value: &(impl Serialize + ?Sized)) {
        self.key(object, key);
        write_value(&mut self.text, value);
    }

    /// Writes `"key":` and leaves the array of these tasks to [`Pieces::finish`].
    pub fn tasks(&mut self, object: &mut Object, key: &str, tasks: Vec<Arc<TaskEntry>>) {
        self.key(object, key);
        let text = std::mem::take(&mut self.text);
        self.parts.push(Piece::Text(text));
        self.parts.push(Piece::Tasks(tasks));
    }

    /// The whole text as chunks, in order: task lists of [`PARALLEL_MIN`] or more are split
    /// across up to `threads` threads. `per_task` is the expected size of one task's text
    /// (buffers are reserved from it).
    pub fn finish(mut self, threads: usize, per_task: usize) -> Vec<Vec<u8>> {
        let tail = std::mem::take(&mut self.text);
        self.parts.push(Piece::Text(tail));
        let threads = threads.clamp(1, MAX_THREADS);
        let mut out = Vec::with_capacity(self.parts.len() + threads);
        for part in self.parts {
            match part {
                Piece::Text(text) => out.push(text),
                Piece::Tasks(tasks) => write_tasks(&mut out, &tasks, threads, per_task),
            }
        }
        out
    }

    /// The whole text in one buffer, on this thread.
    pub fn into_bytes(self) -> Vec<u8> {
        self.finish(1, 0).concat()
    }
}

/// Appends `[task,task,…]` to `out`, as chunks written in parallel when the list is long.
fn write_tasks(out: &mut Vec<Vec<u8>>, tasks: &[Arc<TaskEntry>], threads: usize, per_task: usize) {
    let threads = if tasks.len() >= PARALLEL_MIN {
        threads
    } else {
        1
    };
    let per_chunk = tasks.len().div_ceil(threads).max(1);
    let write = |index: usize, chunk: &[Arc<TaskEntry>]| {
        let mut text = Vec::with_capacity(chunk.len().saturating_mul(per_task).saturating_add(2));
        if index == 0 {
            text.push(b'[');
        }
        for (i, task) in chunk.iter().enumerate() {
            if index > 0 || i > 0 {
                text.push(b',');
            }
            write_value(&mut text, &TaskDoc(task));
        }
        text
    };
    if threads == 1 || tasks.is_empty() {
        let mut text = write(0, tasks);
        text.push(b']');
        out.push(text);
        return;
    }
    let chunks: Vec<&[Arc<TaskEntry>]> = tasks.chunks(per_chunk).collect();
    let written: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let helpers: Vec<_> = chunks
            .iter()
            .enumerate()
            .skip(1)
            .map(|(index, chunk)| scope.spawn(move || write(index, chunk)))
            .collect();
        let mut written = vec![write(0, chunks[0])];
        for helper in helpers {
            // A helper only panics if writing panics; the caller's thread would have too.
            written.push(
                helper
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            );
        }
        written
    });
    out.extend(written);
    out.push(b"]".to_vec());
}

/// JSON text as ASCII (`drover_http::ascii_json`): ASCII, the usual case, is kept as it is,
/// without a second pass to check it is UTF-8.
pub fn ascii_bytes(bytes: Vec<u8>) -> Vec<u8> {
    if bytes.is_ascii() {
        return bytes;
    }
    match String::from_utf8(bytes) {
        Ok(text) => drover_http::ascii_json(text),
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    }
    .into_bytes()
}

/// Each chunk as ASCII JSON (what `drover_http::ascii_json` makes of the whole text: chunks
/// end between values, so no character is split), and the total length.
pub fn ascii_chunks(chunks: Vec<Vec<u8>>) -> (Vec<Bytes>, usize) {
    let mut total = 0;
    let chunks: Vec<Bytes> = chunks
        .into_iter()
        .filter(|c| !c.is_empty())
        .map(|chunk| {
            let chunk = ascii_bytes(chunk);
            total += chunk.len();
            Bytes::from(chunk)
        })
        .collect();
    (chunks, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_wire::v1;
    use std::collections::VecDeque;

    fn entry(n: usize) -> Arc<TaskEntry> {
        let mut task = v1::Task {
            name: format!("task \u{e9} {n}"),
            state: v1::TaskState::TaskRunning as i32,
            resources: drover_core::resources::parse("cpus:0.01;mem:1").expect("resources"),
            ..Default::default()
        };
        task.task_id.value = format!("t-{n}");
        task.framework_id.value = "fw".into();
        task.agent_id.value = format!("a-{}", n % 7);
        Arc::new(TaskEntry {
            task,
            role: "*".into(),
            history: VecDeque::new(),
            unreachable_time_ms: None,
            executor: None,
            acked_uuids: Vec::new(),
        })
    }

    fn document(tasks: usize, threads: usize) -> Vec<u8> {
        let mut pieces = Pieces::default();
        let mut map = pieces.object();
        pieces.entry(&mut map, "before", "x");
        pieces.tasks(&mut map, "tasks", (0..tasks).map(entry).collect());
        pieces.tasks(&mut map, "none", Vec::new());
        pieces.entry(&mut map, "after", &[1, 2]);
        pieces.end_object(map);
        let (chunks, total) = ascii_chunks(pieces.finish(threads, 0));
        let text: Vec<u8> = chunks.concat();
        assert_eq!(text.len(), total);
        text
    }

    #[test]
    fn task_lists_written_in_parallel_read_as_written_serially() {
        let tasks = PARALLEL_MIN * 2 + 3;
        let serial = document(tasks, 1);
        for threads in [2, 3, MAX_THREADS + 4] {
            assert_eq!(document(tasks, threads), serial, "{threads} threads");
        }
        let list: Vec<serde_json::Value> = (0..tasks)
            .map(|n| serde_json::to_value(TaskDoc(&entry(n))).expect("a task"))
            .collect();
        let expected =
            serde_json::json!({"before": "x", "tasks": list, "none": [], "after": [1, 2]});
        let expected = drover_http::ascii_json(serde_json::to_string(&expected).expect("text"));
        assert_eq!(String::from_utf8(serial).expect("utf-8"), expected);
        assert_eq!(
            document(0, 2),
            br#"{"before":"x","tasks":[],"none":[],"after":[1,2]}"#
        );
    }
}
