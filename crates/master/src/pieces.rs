//! Large legacy documents (`/master/state`, `/master/frameworks`) written in two steps: the
//! master's loop writes everything but the task lists and the frameworks' `used` sums and
//! keeps those as shared pointers; the task lists, most of the text at 100,000 tasks, and the
//! sums are then written off the loop on every core and sent as the chunks they were written
//! in. Each task's text is kept while its entry is unchanged, so the next document copies it
//! instead of writing it again (issue 20, G10).
//!
//! Before, the loop cloned the whole master (every task map's keys, the per-agent task index,
//! the ledger) for the blocking pool to write from, and one thread wrote 56 MiB. The text is
//! the same: objects are written as `serde_json`'s compact serializer writes a map (`{`,
//! `"key":value` joined by `,`, `}`), each value by `serde_json` itself or, for tasks, by
//! [`write_task`], which writes the same bytes.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use bytes::Bytes;
use drover_core::master::TaskEntry;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

#[cfg(test)]
use crate::legacy::TaskDoc;
use crate::legacy::write_task;

/// Task lists shorter than this are one job (written by one thread); longer ones are split
/// into jobs of [`CHUNK`] tasks.
const PARALLEL_MIN: usize = 2_048;
/// Tasks per job in a long list: many more jobs than threads, so the threads finish together
/// even when one of them also computes a framework's `used` sum (issue 20, G10).
const CHUNK: usize = 2_048;
/// At most this many threads write one document's task lists.
const MAX_THREADS: usize = 8;

/// A document in writing: text, with task lists and deferred values to be written later in
/// between.
#[derive(Default)]
pub struct Pieces {
    parts: Vec<Piece>,
    text: Vec<u8>,
}

impl std::fmt::Debug for Pieces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pieces")
            .field("parts", &self.parts.len())
            .field("text", &self.text.len())
            .finish()
    }
}

enum Piece {
    Text(Vec<u8>),
    Tasks(Arc<[Arc<TaskEntry>]>),
    Deferred(Arc<Deferred>),
}

/// A value whose text is written off the loop by [`Pieces::finish`], alongside the task
/// lists, once however often it appears (a framework's `used_resources`, also its
/// `resources`: a sum over every task of the framework, which on the loop delayed every
/// request and the whole document; issue 20, G10).
pub struct Deferred {
    write: Box<dyn Fn() -> Vec<u8> + Send + Sync>,
    text: OnceLock<Vec<u8>>,
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred")
            .field("written", &self.text.get().is_some())
            .finish()
    }
}

impl Deferred {
    /// A value `write` will write.
    pub fn new(write: impl Fn() -> Vec<u8> + Send + Sync + 'static) -> Arc<Deferred> {
        Arc::new(Deferred {
            write: Box::new(write),
            text: OnceLock::new(),
        })
    }

    fn text(&self) -> &[u8] {
        self.text.get_or_init(|| (self.write)())
    }
}

/// Each task's text as the last document wrote it, by the address of its entry (issue 20,
/// G10: between two GETs most tasks are unchanged, and their text was most of the work).
///
/// Why the address identifies the text: the cache holds a [`Weak`] to every entry it keeps,
/// so the allocation stays reserved and no other entry can be placed at that address while
/// it is cached. The core changes an entry in place only through `Arc::make_mut`
/// (`master::tasks`, `Arc<TaskEntry>` in the framework's maps), which, while a `Weak` exists,
/// moves the entry to a new allocation before changing it (and `Arc::get_mut` refuses);
/// entries moved between its maps are taken out with `Arc::unwrap_or_clone` and put back
/// with `Arc::new`, a new allocation too. So a changed entry never keeps a cached address;
/// `TaskEntry` holds no interior mutability. The text is a pure
/// function of the entry ([`write_task`]). Each document keeps exactly its own tasks, so
/// texts of gone or changed tasks (and their reserved allocations) last until the next one.
#[derive(Clone)]
struct Rendered {
    entry: Weak<TaskEntry>,
    text: Arc<[u8]>,
}

/// The texts kept, by entry address.
type Texts = HashMap<usize, Rendered, BuildHasherDefault<AddressHasher>>;

/// The texts the last finished document wrote (every document shares them: an entry's text
/// does not depend on the document).
static TEXTS: Store = Mutex::new(None);

/// Where texts are kept ([`TEXTS`]; tests keep their own).
type Store = Mutex<Option<Arc<Texts>>>;

fn cached_texts(store: &Store) -> Arc<Texts> {
    let mut texts = store.lock().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(texts.get_or_insert_with(Default::default))
}

fn keep_texts(store: &Store, texts: Texts) {
    let old = store
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .replace(Arc::new(texts));
    // Dropped outside the lock.
    drop(old);
}

/// A hash of an address: the bits above the allocator's 16-byte alignment, multiplied by a
/// large odd constant (SipHash cost more than the lookup).
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = ((n as u64) >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
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

/// Writes `value` as `serde_json` does.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    // Our values only have string keys, so serde_json cannot fail on them.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Writes `text` as a JSON string, as `serde_json` does. Most strings (ids, names, states)
/// need no escaping: they are checked in one pass that the compiler vectorizes and copied
/// whole; a string with a byte to escape goes to `serde_json` (issue 20, G10: escaping was
/// ~18 % of `/master/state`). Non-ASCII is copied as UTF-8, as `serde_json` copies it
/// ([`ascii_chunks`] escapes it afterwards).
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        write_value(out, text);
        return;
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Whether `serde_json` escapes any of these bytes: control characters, `"` and `\\`.
fn needs_escape(bytes: &[u8]) -> bool {
    let escaped = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    let mut blocks = bytes.chunks_exact(16);
    // No early exit inside a block, so each block is a few vector instructions.
    for block in &mut blocks {
        if block.iter().fold(false, |any, &b| any | escaped(b)) {
            return true;
        }
    }
    blocks.remainder().iter().any(|&b| escaped(b))
}

/// Writes `value` as `serde_json` does: `null` if it is not finite, else its shortest text.
pub(crate) fn write_f64(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        // Writing to a Vec cannot fail.
        let _ = CompactFormatter.write_f64(out, value);
    } else {
        out.extend_from_slice(b"null");
    }
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
    pub fn tasks(&mut self, object: &mut Object, key: &str, tasks: Arc<[Arc<TaskEntry>]>) {
        self.key(object, key);
        self.cut(Piece::Tasks(tasks));
    }

    /// Writes `"key":` and leaves the value to [`Pieces::finish`].
    pub fn deferred(&mut self, object: &mut Object, key: &str, value: &Arc<Deferred>) {
        self.key(object, key);
        self.cut(Piece::Deferred(Arc::clone(value)));
    }

    fn cut(&mut self, piece: Piece) {
        let text = std::mem::take(&mut self.text);
        self.parts.push(Piece::Text(text));
        self.parts.push(piece);
    }

    /// The whole text as chunks, in order. The task lists (in jobs of up to [`CHUNK`] tasks)
    /// and the deferred values are written by up to `threads` threads, each taking the next
    /// job as it finishes one, deferred values first (each is one long job). `per_task` is
    /// the expected size of one task's text (buffers are reserved from it).
    pub fn finish(self, threads: usize, per_task: usize) -> Vec<Vec<u8>> {
        self.finish_with(threads, per_task, &TEXTS)
    }

    fn finish_with(mut self, threads: usize, per_task: usize, store: &Store) -> Vec<Vec<u8>> {
        let tail = std::mem::take(&mut self.text);
        self.parts.push(Piece::Text(tail));
        let threads = threads.clamp(1, MAX_THREADS);
        let split = threads > 1;
        let mut deferred: Vec<&Deferred> = Vec::new();
        let mut chunks: Vec<(&[Arc<TaskEntry>], bool)> = Vec::new();
        for part in &self.parts {
            match part {
                Piece::Text(_) => {}
                Piece::Deferred(value) => {
                    if !deferred.iter().any(|d| std::ptr::eq(*d, &**value)) {
                        deferred.push(value);
                    }
                }
                Piece::Tasks(tasks) => {
                    let size = chunk_size(split, tasks.len());
                    chunks.extend(tasks.chunks(size).enumerate().map(|(i, c)| (c, i == 0)));
                }
            }
        }
        let texts = cached_texts(store);
        let written = run_jobs(&deferred, &chunks, threads, per_task, &texts);
        let total = written.iter().map(|(_, kept)| kept.len()).sum();
        let mut kept = Texts::with_capacity_and_hasher(total, Default::default());
        let mut written = written.into_iter().map(|(text, texts)| {
            kept.extend(texts);
            text
        });
        let mut out = Vec::with_capacity(self.parts.len() + chunks.len() + 2);
        for part in self.parts {
            match part {
                Piece::Text(text) => out.push(text),
                Piece::Deferred(value) => out.push(value.text().to_vec()),
                Piece::Tasks(tasks) if tasks.is_empty() => out.push(b"[]".to_vec()),
                Piece::Tasks(tasks) => {
                    let size = chunk_size(split, tasks.len());
                    out.extend(written.by_ref().take(tasks.len().div_ceil(size)));
                    out.push(b"]".to_vec());
                }
            }
        }
        drop(written);
        // This document's tasks, and only those, are kept for the next one.
        drop(texts);
        keep_texts(store, kept);
        out
    }

    /// The whole text in one buffer, on this thread.
    pub fn into_bytes(self) -> Vec<u8> {
        self.finish(1, 0).concat()
    }
}

/// How many tasks of a list of `len` each job writes.
fn chunk_size(split: bool, len: usize) -> usize {
    if split && len >= PARALLEL_MIN {
        CHUNK
    } else {
        len.max(1)
    }
}

/// A chunk of a task list as written, with the texts of its tasks to keep.
type Written = (Vec<u8>, Vec<(usize, Rendered)>);

/// Writes every deferred value (into itself) and every chunk of tasks (returned in order), on
/// up to `threads` threads, taking unchanged tasks' texts from `texts`.
fn run_jobs(
    deferred: &[&Deferred],
    chunks: &[(&[Arc<TaskEntry>], bool)],
    threads: usize,
    per_task: usize,
    texts: &Texts,
) -> Vec<Written> {
    let jobs = deferred.len() + chunks.len();
    let run = |job: usize| -> Option<Written> {
        match job.checked_sub(deferred.len()) {
            None => {
                deferred[job].text();
                None
            }
            Some(i) => Some(write_chunk(chunks[i].0, chunks[i].1, per_task, texts)),
        }
    };
    if threads == 1 || jobs <= 1 {
        return (0..jobs).filter_map(run).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || -> Vec<(usize, Written)> {
        let mut done = Vec::new();
        loop {
            let job = next.fetch_add(1, Ordering::Relaxed);
            if job >= jobs {
                return done;
            }
            if let Some(written) = run(job) {
                done.push((job - deferred.len(), written));
            }
        }
    };
    let mut slots: Vec<Written> = (0..chunks.len()).map(|_| Default::default()).collect();
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads.min(jobs)).map(|_| scope.spawn(work)).collect();
        let mine = work();
        let theirs = helpers.into_iter().flat_map(|helper| {
            // A helper only panics if writing panics; this thread would have too.
            helper
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        });
        for (i, written) in mine.into_iter().chain(theirs) {
            slots[i] = written;
        }
    });
    slots
}

/// `[task,task` for the first chunk of a list, `,task,task` for the others: each task's text
/// copied from `texts` if its entry is the one cached, else written (and kept).
fn write_chunk(chunk: &[Arc<TaskEntry>], first: bool, per_task: usize, texts: &Texts) -> Written {
    let mut text = Vec::with_capacity(chunk.len().saturating_mul(per_task).saturating_add(2));
    let mut kept = Vec::with_capacity(chunk.len());
    if first {
        text.push(b'[');
    }
    for (i, task) in chunk.iter().enumerate() {
        if !first || i > 0 {
            text.push(b',');
        }
        let address = Arc::as_ptr(task) as usize;
        match texts.get(&address) {
            Some(rendered) if std::ptr::eq(rendered.entry.as_ptr(), Arc::as_ptr(task)) => {
                text.extend_from_slice(&rendered.text);
                kept.push((address, rendered.clone()));
            }
            _ => {
                let start = text.len();
                write_task(&mut text, task);
                let rendered = Rendered {
                    entry: Arc::downgrade(task),
                    text: Arc::from(&text[start..]),
                };
                kept.push((address, rendered));
            }
        }
    }
    (text, kept)
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
        pieces.tasks(&mut map, "none", Arc::from(Vec::new()));
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

    /// `{"tasks":[…]}` written through `store`.
    fn cached_document(tasks: &[Arc<TaskEntry>], threads: usize, store: &Store) -> String {
        let mut pieces = Pieces::default();
        let mut map = pieces.object();
        pieces.tasks(&mut map, "tasks", tasks.iter().cloned().collect());
        pieces.end_object(map);
        String::from_utf8(pieces.finish_with(threads, 0, store).concat()).expect("utf-8")
    }

    /// The same document written by `serde_json`, nothing cached.
    fn slow_document(tasks: &[Arc<TaskEntry>]) -> String {
        let list: Vec<String> = tasks
            .iter()
            .map(|t| serde_json::to_string(&TaskDoc(t)).expect("a task"))
            .collect();
        format!("{{\"tasks\":[{}]}}", list.join(","))
    }

    #[test]
    fn cached_task_texts_read_as_written_afresh_also_after_a_change() {
        let store: Store = Mutex::new(None);
        let mut tasks: Vec<Arc<TaskEntry>> = (0..PARALLEL_MIN + 5).map(entry).collect();
        assert_eq!(cached_document(&tasks, 2, &store), slow_document(&tasks));
        let before = cached_texts(&store);
        assert_eq!(before.len(), tasks.len());

        // Changed as the core changes an entry: `Arc::make_mut`, the framework's map holding
        // the only strong pointer. With the cache's `Weak` the entry moves, so its address
        // no longer finds the old text.
        let changed = [3, PARALLEL_MIN + 1];
        for &i in &changed {
            let address = Arc::as_ptr(&tasks[i]);
            let entry = Arc::make_mut(&mut tasks[i]);
            entry.task.name = format!("changed \"{i}\"");
            entry.task.state = v1::TaskState::TaskFinished as i32;
            assert_ne!(Arc::as_ptr(&tasks[i]), address, "make_mut moved the entry");
        }
        // One replaced, one gone, one new.
        tasks[7] = entry(100_007);
        tasks.remove(9);
        tasks.push(entry(100_000));

        for threads in [1, 2, 3] {
            assert_eq!(
                cached_document(&tasks, threads, &store),
                slow_document(&tasks),
                "{threads} threads"
            );
        }
        // The unchanged tasks' texts were copied, not written again; only this document's
        // tasks are kept.
        let after = cached_texts(&store);
        assert_eq!(after.len(), tasks.len());
        let reused = tasks
            .iter()
            .filter(|t| {
                let address = Arc::as_ptr(t) as usize;
                before
                    .get(&address)
                    .is_some_and(|old| Arc::ptr_eq(&old.text, &after[&address].text))
            })
            .count();
        assert_eq!(reused, tasks.len() - 4);
    }
}
