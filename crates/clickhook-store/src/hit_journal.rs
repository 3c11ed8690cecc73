//! The embedded store's hit journal: where a redirect's hit becomes durable.
//!
//! Why not a SQLite table: every redirect waits until its hit is on disk, and SQLite has one
//! writer, which also carries the click processor's settles (a click row with its sixteen
//! index entries, the daily counters, the delivery jobs). With hits in SQLite, redirects
//! queued behind settles and a flood of clicks was capped by the processor's write cost
//! (BENCHMARKS.md). Here hits go to append-only files with a writer thread of their own:
//! a group of waiting hits is one `write` and one `fdatasync`, and nothing else is in line.
//!
//! Files: `<dir>/<seq>-<created_ms>.jsonl`, one JSON hit per line. The writer appends to the
//! newest segment and starts a new one past [`SEGMENT_BYTES`]. The segment being written is
//! zero-filled ahead of its end, so that a sync flushes data, not metadata; the zeros after
//! the last line are ignored when a segment is read. The next segment is made, zero-filled
//! to its full size, by a helper thread once the current one is half full, so the writer
//! never waits for zeros to reach the disk (only the first segment of a run grows by
//! [`PREALLOCATE`] steps, to keep small and short-lived stores small). A segment is deleted when it
//! is no longer written to, has been read to its end, and every hit read from it is settled.
//!
//! Reading: claims lease hits from a window of at most [`WINDOW`] hits held in memory. When
//! the processor keeps up (the usual case) the writer hands each synced group straight to
//! the window; when it falls behind, further hits stay on disk and are read back in order as
//! the window drains, so a burst of clicks costs disk space, not memory.
//!
//! Settled hits are recorded by the store in SQLite (`settled_hits`) in the same transaction
//! as their click, and only then forgotten here. After a crash, the segments left on disk
//! are read again from the start; their hits come back marked [`Claimed::replayed`] so that
//! the store can drop the ones it had already settled.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clickhook_core::Hit;
use tokio::sync::{Notify, oneshot};

/// A segment takes no more appends past this size.
pub const SEGMENT_BYTES: u64 = 32 * 1024 * 1024;
/// Most hits held in memory, claimed or waiting to be claimed.
pub const WINDOW: usize = 4096;
/// Most hits written with one `fdatasync`.
const MAX_GROUP: usize = 1024;
/// Segments are filled with zeros this far ahead of the writing position. Writing into
/// blocks that already exist lets `fdatasync` skip the file's metadata: on our disks it took
/// 0.13 ms instead of 0.34 ms per synced write (dd oflag=dsync, conv=notrunc vs append).
const PREALLOCATE: u64 = 1024 * 1024;

/// A hit handed out by [`HitJournal::claim`].
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub hit: Hit,
    /// Read from a segment written before this process started: it may have been settled
    /// already, so the store checks before processing it.
    pub replayed: bool,
}

/// Where the next hit to read into the window starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    seg: u64,
    offset: u64,
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    created_ms: i64,
    /// Bytes known to be complete lines on disk.
    durable_len: u64,
    /// Still taking appends.
    active: bool,
    /// Read into the window and not yet settled.
    unresolved: usize,
    /// Written by an earlier run of the process.
    earlier_run: bool,
}

impl Segment {
    /// A closed segment found at start (or written from an older layout's hits): read again
    /// from its start, its hits checked against what was settled before.
    fn to_read_again(path: PathBuf, created_ms: i64, durable_len: u64) -> Self {
        Segment { path, created_ms, durable_len, active: false, unresolved: 0, earlier_run: true }
    }
}

#[derive(Debug)]
struct Slot {
    hit: Hit,
    seg: u64,
    /// 0 while waiting; otherwise leased until then (unix ms).
    lease_until_ms: i64,
    replayed: bool,
}

/// Everything the journal knows in memory. No I/O in here: the writer thread and the loader
/// do the file work and report to it.
#[derive(Debug, Default)]
struct State {
    window: BTreeMap<uuid::Uuid, Slot>,
    segments: BTreeMap<u64, Segment>,
    cursor: Option<Cursor>,
    /// Complete lines on disk past the cursor.
    unread: u64,
}

impl State {
    /// Takes hits read from segment `seg` into the window. Returns how many were new.
    fn admit(&mut self, seg: u64, hits: Vec<Hit>, replayed: bool) -> usize {
        let mut fresh = 0;
        for hit in hits {
            if self.window.contains_key(&hit.id) {
                continue;
            }
            fresh += 1;
            self.window.insert(
                hit.id,
                Slot {
                    hit,
                    seg,
                    lease_until_ms: 0,
                    replayed,
                },
            );
        }
        if let Some(s) = self.segments.get_mut(&seg) {
            s.unresolved += fresh;
        }
        fresh
    }

    /// Leases up to `max` hits that are waiting or whose lease has ended, oldest id first.
    fn lease(&mut self, max: usize, now_ms: i64, until_ms: i64) -> Vec<Claimed> {
        let mut out = Vec::new();
        for slot in self.window.values_mut() {
            if out.len() >= max {
                break;
            }
            if slot.lease_until_ms <= now_ms {
                slot.lease_until_ms = until_ms;
                out.push(Claimed {
                    hit: slot.hit.clone(),
                    replayed: slot.replayed,
                });
            }
        }
        out
    }

    /// Forgets a settled hit. Returns the segments that may now be deleted.
    fn settle(&mut self, id: uuid::Uuid) -> Vec<PathBuf> {
        let Some(slot) = self.window.remove(&id) else {
            return Vec::new();
        };
        if let Some(s) = self.segments.get_mut(&slot.seg) {
            s.unresolved = s.unresolved.saturating_sub(1);
        }
        self.collect_done()
    }

    /// Segments behind the cursor, closed, with nothing unsettled: removed from the state,
    /// their paths returned for deletion.
    fn collect_done(&mut self) -> Vec<PathBuf> {
        let Some(cursor) = self.cursor else {
            return Vec::new();
        };
        let done: Vec<u64> = self
            .segments
            .iter()
            .filter(|(seq, s)| **seq < cursor.seg && !s.active && s.unresolved == 0)
            .map(|(seq, _)| *seq)
            .collect();
        done.into_iter()
            .filter_map(|seq| self.segments.remove(&seq))
            .map(|s| s.path)
            .collect()
    }

    /// Moves the cursor past `lines` complete lines ending at `offset` of its segment, and on
    /// to the next segment when a closed one has been read to its end.
    fn advance(&mut self, offset: u64, lines: u64) {
        self.unread = self.unread.saturating_sub(lines);
        let Some(c) = self.cursor.as_mut() else {
            return;
        };
        c.offset = offset;
        let seg = c.seg;
        if let Some(s) = self.segments.get(&seg)
            && !s.active
            && offset >= s.durable_len
            && let Some((&next, _)) = self.segments.range(seg + 1..).next()
        {
            self.cursor = Some(Cursor {
                seg: next,
                offset: 0,
            });
        }
    }

    /// Hits in the window that a claim could take now.
    fn waiting(&self, now_ms: i64) -> usize {
        self.window
            .values()
            .filter(|s| s.lease_until_ms <= now_ms)
            .count()
    }

    fn pending(&self) -> u64 {
        self.window.len() as u64 + self.unread
    }
}

enum Job {
    Append {
        hit: Hit,
        line: Vec<u8>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Remove(Vec<PathBuf>),
}

struct Shared {
    state: Mutex<State>,
    /// One reader of segment files at a time.
    loader: tokio::sync::Mutex<()>,
    ready: Notify,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub struct HitJournal {
    tx: std::sync::mpsc::SyncSender<Job>,
    shared: Arc<Shared>,
}

fn segment_name(seq: u64, created_ms: i64) -> String {
    format!("{seq:016}-{created_ms}.jsonl")
}

fn parse_segment_name(name: &str) -> Option<(u64, i64)> {
    let (seq, rest) = name.strip_suffix(".jsonl")?.split_once('-')?;
    Some((seq.parse().ok()?, rest.parse().ok()?))
}

/// Length of the complete lines of a file and how many there are (a torn last line, from a
/// crash mid-write, is not counted).
fn complete_lines(path: &Path) -> std::io::Result<(u64, u64)> {
    let mut r = BufReader::with_capacity(1 << 16, File::open(path)?);
    let (mut len, mut lines, mut pos) = (0u64, 0u64, 0u64);
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok((len, lines));
        }
        let n = buf.len();
        for (i, b) in buf.iter().enumerate() {
            if *b == b'\n' {
                lines += 1;
                len = pos + i as u64 + 1;
            }
        }
        pos += n as u64;
        r.consume(n);
    }
}

fn preallocation(segment_bytes: u64) -> u64 {
    PREALLOCATE.min(segment_bytes).max(4096)
}

/// Writes `len` zero bytes at `from` and syncs them.
fn zero_fill(file: &File, from: u64, len: u64) -> std::io::Result<()> {
    let zeros = vec![0u8; 64 * 1024];
    let mut at = from;
    while at < from + len {
        let n = zeros.len().min((from + len - at) as usize);
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    file.sync_data()
}

/// A new, empty segment, zero-filled for its first writes and durable in its directory.
fn create_segment(dir: &Path, path: &Path, segment_bytes: u64) -> std::io::Result<File> {
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
    zero_fill(&file, 0, preallocation(segment_bytes))?;
    sync_dir(dir)?;
    Ok(file)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn now_ms() -> i64 {
    clickhook_core::timefmt::unix_ms(time::OffsetDateTime::now_utc())
}

impl HitJournal {
    /// Opens the journal in `dir`, finding the segments an earlier run left, and writes
    /// `carried_over` (hits from an older store layout) durably before it returns. Segments
    /// take appends up to `segment_bytes` ([`SEGMENT_BYTES`] in the store).
    pub fn open(dir: &Path, carried_over: &[Hit], segment_bytes: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut state = State::default();
        let mut last_seq = 0;
        let mut found: Vec<(u64, i64, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if let Some((seq, created)) = name.to_str().and_then(parse_segment_name) {
                found.push((seq, created, entry.path()));
            }
        }
        found.sort();
        for (seq, created_ms, path) in found {
            last_seq = last_seq.max(seq);
            let (durable_len, lines) = complete_lines(&path)?;
            if lines == 0 {
                std::fs::remove_file(&path)?;
                continue;
            }
            state.unread += lines;
            state.segments.insert(seq, Segment::to_read_again(path, created_ms, durable_len));
        }
        if !carried_over.is_empty() {
            last_seq += 1;
            let created_ms = now_ms();
            let path = dir.join(segment_name(last_seq, created_ms));
            let mut f = File::create(&path)?;
            let mut buf = Vec::new();
            for h in carried_over {
                serde_json::to_writer(&mut buf, h).map_err(std::io::Error::other)?;
                buf.push(b'\n');
            }
            f.write_all(&buf)?;
            f.sync_all()?;
            state.unread += carried_over.len() as u64;
            let durable_len = buf.len() as u64;
            state.segments.insert(last_seq, Segment::to_read_again(path, created_ms, durable_len));
        }
        let seq = last_seq + 1;
        let created_ms = now_ms();
        let path = dir.join(segment_name(seq, created_ms));
        let file = create_segment(dir, &path, segment_bytes)?;
        state.segments.insert(
            seq,
            Segment {
                path,
                created_ms,
                durable_len: 0,
                active: true,
                unresolved: 0,
                earlier_run: false,
            },
        );
        let first = *state.segments.keys().next().unwrap_or(&seq);
        state.cursor = Some(Cursor {
            seg: first,
            offset: 0,
        });
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            loader: tokio::sync::Mutex::new(()),
            ready: Notify::new(),
        });
        // Bounded: a writer that falls behind pushes back on redirects instead of growing.
        // (The queue's slots are allocated up front: 8192 of them are ~1.5 MB.)
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(8192);
        let (d, s) = (dir.to_path_buf(), shared.clone());
        std::thread::Builder::new()
            .name("hit-journal".into())
            .spawn(move || writer(d, file, seq, segment_bytes, rx, s))?;
        Ok(Self { tx, shared })
    }

    /// Resolves once `hit` is on disk.
    pub async fn append(&self, hit: &Hit) -> Result<(), String> {
        if self.shared.state().window.contains_key(&hit.id) {
            return Ok(()); // on disk already, and not yet settled
        }
        let mut line = serde_json::to_vec(hit).map_err(|e| e.to_string())?;
        line.push(b'\n');
        let (reply, rx) = oneshot::channel();
        let job = Job::Append {
            hit: hit.clone(),
            line,
            reply,
        };
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(std::sync::mpsc::TrySendError::Full(job)) => {
                // A full queue pushes back on the caller instead of growing.
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || tx.send(job).map_err(|_| "the hit journal's writer has stopped".to_owned()))
                    .await
                    .map_err(|e| e.to_string())??;
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                return Err("the hit journal's writer has stopped".into());
            }
        }
        rx.await
            .map_err(|_| "the hit journal's writer dropped the hit".to_owned())?
    }

    /// Leases up to `max` hits for `lease`, reading more from disk when the window runs low.
    pub async fn claim(&self, max: usize, lease: Duration) -> Result<Vec<Claimed>, String> {
        self.fill(max).await?;
        let now = now_ms();
        Ok(self
            .shared
            .state()
            .lease(max, now, now + lease.as_millis() as i64))
    }

    /// Reads hits past the cursor into the window until it holds `want` claimable hits, the
    /// window is full, or nothing is left on disk.
    async fn fill(&self, want: usize) -> Result<(), String> {
        let _one_reader = self.shared.loader.lock().await;
        loop {
            let (path, seg, from, to, replayed, room) = {
                let st = self.shared.state();
                let Some(c) = st.cursor else { return Ok(()) };
                let Some(s) = st.segments.get(&c.seg) else {
                    return Ok(());
                };
                if st.unread == 0 || st.waiting(now_ms()) >= want {
                    return Ok(());
                }
                let room = WINDOW.saturating_sub(st.window.len());
                if room == 0 {
                    return Ok(());
                }
                (
                    s.path.clone(),
                    c.seg,
                    c.offset,
                    s.durable_len,
                    s.earlier_run,
                    room,
                )
            };
            if from >= to {
                // Nothing more in this segment: move on if it is closed, else wait for appends.
                let mut st = self.shared.state();
                let before = st.cursor;
                st.advance(from, 0);
                let done = st.collect_done();
                let moved = st.cursor != before;
                drop(st);
                self.remove(done);
                if moved {
                    continue;
                }
                return Ok(());
            }
            let (hits, end, lines) =
                tokio::task::spawn_blocking(move || read_lines(&path, from, to, room))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("reading the hit journal: {e}"))?;
            let mut st = self.shared.state();
            if st.cursor != Some(Cursor { seg, offset: from }) {
                continue; // the writer moved it (it cannot, while we are behind; be safe)
            }
            st.admit(seg, hits, replayed);
            st.advance(end, lines);
            let done = st.collect_done();
            drop(st);
            self.remove(done);
        }
    }

    /// Forgets a hit the store has settled.
    pub fn settled(&self, id: uuid::Uuid) {
        let done = self.shared.state().settle(id);
        self.remove(done);
    }

    /// Whether the hit is known to be waiting or leased. `false` can also mean "not read
    /// from disk yet" when [`HitJournal::unread`] is not zero.
    pub fn holds(&self, id: uuid::Uuid) -> bool {
        self.shared.state().window.contains_key(&id)
    }

    /// Complete lines on disk not yet read into memory.
    pub fn unread(&self) -> u64 {
        self.shared.state().unread
    }

    /// Hits not yet settled (counting a hit appended twice twice, until it is read).
    pub fn pending(&self) -> u64 {
        self.shared.state().pending()
    }

    /// When the oldest segment still on disk was started: every hit settled before this
    /// belongs to a segment that is gone.
    pub fn oldest_segment_ms(&self) -> i64 {
        self.shared
            .state()
            .segments
            .values()
            .map(|s| s.created_ms)
            .min()
            .unwrap_or_else(now_ms)
    }

    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.shared.ready.notified()).await;
    }

    fn remove(&self, paths: Vec<PathBuf>) {
        if !paths.is_empty() {
            // The writer deletes files, off the async threads. Losing this (queue full) only
            // leaves a settled segment behind until the next start.
            let _ = self.tx.try_send(Job::Remove(paths));
        }
    }
}

/// Reads up to `max` complete lines of `path` in `[from, to)`. Returns the hits that parse,
/// the offset after the last line read, and how many lines were read.
fn read_lines(
    path: &Path,
    from: u64,
    to: u64,
    max: usize,
) -> std::io::Result<(Vec<Hit>, u64, u64)> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(from))?;
    let mut r = BufReader::with_capacity(1 << 16, f.take(to - from));
    let (mut hits, mut offset, mut lines) = (Vec::new(), from, 0u64);
    let mut line = Vec::new();
    while (lines as usize) < max {
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        offset += n as u64;
        lines += 1;
        match serde_json::from_slice::<Hit>(&line) {
            Ok(h) => hits.push(h),
            Err(e) => {
                tracing::error!(error = %e, file = %path.display(), offset = offset - n as u64, "hit journal: skipping a line that is not a hit")
            }
        }
    }
    Ok((hits, offset, lines))
}

fn writer(
    dir: PathBuf,
    mut file: File,
    mut seq: u64,
    segment_bytes: u64,
    rx: std::sync::mpsc::Receiver<Job>,
    shared: Arc<Shared>,
) {
    let mut len = 0u64;
    let mut allocated = preallocation(segment_bytes);
    let (prepare, prepared) = spawn_preparer(dir.clone(), segment_bytes);
    let mut next_requested = false;
    let mut buf = Vec::with_capacity(1 << 20);
    while let Ok(first) = rx.recv() {
        let mut group = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Append { hit, line, reply } => {
                    buf.extend_from_slice(&line);
                    group.push((hit, reply));
                }
                Job::Remove(paths) => {
                    for p in paths {
                        if let Err(e) = std::fs::remove_file(&p) {
                            tracing::warn!(error = %e, file = %p.display(), "hit journal: cannot delete a settled segment");
                        }
                    }
                }
            }
            if group.len() < MAX_GROUP {
                next = rx.try_recv().ok();
            }
        }
        if group.is_empty() {
            continue;
        }
        let start = len;
        let written = file.write_all_at(&buf, start).and_then(|()| file.sync_data());
        let n = buf.len() as u64;
        buf.clear();
        match written {
            Ok(()) => {
                len += n;
                let (hits, replies): (Vec<Hit>, Vec<_>) = group.into_iter().unzip();
                let count = hits.len() as u64;
                {
                    let mut st = shared.state();
                    if let Some(s) = st.segments.get_mut(&seq) {
                        s.durable_len = len;
                    }
                    // Caught up and room: hand the hits over without reading them back.
                    let caught_up = st.cursor
                        == Some(Cursor {
                            seg: seq,
                            offset: start,
                        });
                    if caught_up && st.window.len() + hits.len() <= WINDOW {
                        st.admit(seq, hits, false);
                        if let Some(c) = st.cursor.as_mut() {
                            c.offset = len;
                        }
                    } else {
                        st.unread += count;
                    }
                }
                shared.ready.notify_one();
                for r in replies {
                    let _ = r.send(Ok(()));
                }
                if !next_requested && len >= segment_bytes / 2 {
                    next_requested = prepare.send(seq + 1).is_ok();
                }
                if allocated < segment_bytes && allocated.saturating_sub(len) < preallocation(segment_bytes) / 2 {
                    // After the replies: the next group may wait for this, not this one.
                    match zero_fill(&file, allocated, preallocation(segment_bytes)) {
                        Ok(()) => allocated += preallocation(segment_bytes),
                        Err(e) => tracing::warn!(error = %e, "hit journal: cannot preallocate; appends will grow the file"),
                    }
                }
                if len >= segment_bytes {
                    let ready = if next_requested { prepared.recv().ok().and_then(|r| r.map_err(|e| tracing::warn!(error = %e, "hit journal: the next segment could not be prepared")).ok()) } else { None };
                    next_requested = false;
                    match rotate(&dir, seq, len, segment_bytes, ready, &shared) {
                        Ok((f, s, a)) => {
                            (file, seq, len, allocated) = (f, s, 0, a);
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "hit journal: cannot start a new segment; appending to the current one")
                        }
                    }
                }
            }
            Err(e) => {
                let msg = format!("writing the hit journal: {e}");
                tracing::error!(error = %msg, "hit journal: a group of hits was not written");
                // Take back whatever part of the group reached the file: the next group is
                // written at the same place, and no line of this one may outlive it.
                if let Err(e) = file.write_all_at(&vec![0; n as usize], start) {
                    tracing::error!(error = %e, "hit journal: cannot clear a failed write from the segment");
                }
                for (_, r) in group {
                    let _ = r.send(Err(msg.clone()));
                }
            }
        }
    }
}

/// A segment made ahead of time, zero-filled to its full size.
struct Prepared {
    seq: u64,
    created_ms: i64,
    path: PathBuf,
    file: File,
}

/// The thread that makes the next segment while the current one fills.
fn spawn_preparer(
    dir: PathBuf,
    segment_bytes: u64,
) -> (std::sync::mpsc::Sender<u64>, std::sync::mpsc::Receiver<std::io::Result<Prepared>>) {
    let (ask, asked) = std::sync::mpsc::channel::<u64>();
    let (give, given) = std::sync::mpsc::channel();
    let made = std::thread::Builder::new().name("hit-journal-prep".into()).spawn(move || {
        while let Ok(seq) = asked.recv() {
            let created_ms = now_ms();
            let path = dir.join(segment_name(seq, created_ms));
            let made = OpenOptions::new().read(true).write(true).create_new(true).open(&path).and_then(|file| {
                zero_fill(&file, 0, segment_bytes)?;
                sync_dir(&dir)?;
                Ok(Prepared { seq, created_ms, path: path.clone(), file })
            });
            if made.is_err() {
                let _ = std::fs::remove_file(&path);
            }
            if give.send(made).is_err() {
                return;
            }
        }
    });
    if let Err(e) = made {
        tracing::warn!(error = %e, "hit journal: no thread to prepare segments; they will be made when needed");
    }
    (ask, given)
}

/// Closes segment `seq` (of `len` bytes) and starts the next one: `ready` when the preparer
/// made it, else a new one now. Returns the file, its number and how much of it is allocated.
fn rotate(dir: &Path, seq: u64, len: u64, segment_bytes: u64, ready: Option<Prepared>, shared: &Shared) -> std::io::Result<(File, u64, u64)> {
    let next = seq + 1;
    let (file, path, created_ms, allocated) = match ready {
        Some(p) if p.seq == next => (p.file, p.path, p.created_ms, segment_bytes),
        other => {
            if let Some(p) = other {
                let _ = std::fs::remove_file(&p.path);
            }
            let created_ms = now_ms();
            let path = dir.join(segment_name(next, created_ms));
            (create_segment(dir, &path, segment_bytes)?, path, created_ms, preallocation(segment_bytes))
        }
    };
    let mut st = shared.state();
    if let Some(s) = st.segments.get_mut(&seq) {
        s.active = false;
    }
    st.segments.insert(
        next,
        Segment {
            path,
            created_ms,
            durable_len: 0,
            active: true,
            unresolved: 0,
            earlier_run: false,
        },
    );
    if st.cursor
        == Some(Cursor {
            seg: seq,
            offset: len,
        })
    {
        st.cursor = Some(Cursor {
            seg: next,
            offset: 0,
        });
    }
    let done = st.collect_done();
    drop(st);
    for p in done {
        let _ = std::fs::remove_file(p);
    }
    Ok((file, next, allocated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickhook_core::{ClickLocation, Hit};

    fn hit(n: u64) -> Hit {
        Hit {
            id: uuid::Uuid::from_u64_pair(0x0190_0000_0000_7000, n),
            message_id: format!("m{}", n % 3),
            original_link: format!("https://example.com/{n}"),
            location: ClickLocation::Html,
            sent_at: 1_700_000_000,
            received_at_ms: 1_700_000_000_000 + n as i64,
            ip: "192.0.2.1".parse().unwrap(),
            user_agent: "test".into(),
        }
    }

    fn state_with(seg_active: bool) -> State {
        let mut st = State::default();
        st.segments.insert(
            1,
            Segment {
                path: "1".into(),
                created_ms: 0,
                durable_len: 100,
                active: seg_active,
                unresolved: 0,
                earlier_run: false,
            },
        );
        st.segments.insert(
            2,
            Segment {
                path: "2".into(),
                created_ms: 1,
                durable_len: 0,
                active: true,
                unresolved: 0,
                earlier_run: false,
            },
        );
        st.cursor = Some(Cursor { seg: 1, offset: 0 });
        st
    }

    #[test]
    fn leases_oldest_first_and_gives_back_expired_leases() {
        let mut st = state_with(true);
        st.admit(1, (0..5).map(hit).collect(), false);
        let a = st.lease(3, 1000, 2000);
        assert_eq!(
            a.iter().map(|c| c.hit.id).collect::<Vec<_>>(),
            (0..3).map(|n| hit(n).id).collect::<Vec<_>>()
        );
        assert_eq!(st.lease(10, 1000, 2000).len(), 2);
        assert!(st.lease(10, 1999, 3000).is_empty(), "leases still running");
        assert_eq!(st.lease(10, 2000, 3000).len(), 5, "every lease ended");
    }

    #[test]
    fn a_hit_admitted_twice_is_held_once() {
        let mut st = state_with(true);
        assert_eq!(st.admit(1, vec![hit(1), hit(1), hit(2)], false), 2);
        assert_eq!(st.admit(1, vec![hit(2)], false), 0);
        assert_eq!(st.segments[&1].unresolved, 2);
        assert_eq!(st.pending(), 2);
    }

    #[test]
    fn a_segment_is_deleted_only_when_closed_read_through_and_settled() {
        let mut st = state_with(false);
        st.admit(1, vec![hit(1), hit(2)], false);
        st.advance(100, 2);
        assert_eq!(
            st.cursor,
            Some(Cursor { seg: 2, offset: 0 }),
            "read to the end of a closed segment: on to the next"
        );
        assert!(
            st.settle(hit(1).id).is_empty(),
            "one hit of it still unsettled"
        );
        assert_eq!(st.settle(hit(2).id), vec![PathBuf::from("1")]);
        assert!(!st.segments.contains_key(&1));
        assert!(
            st.settle(hit(2).id).is_empty(),
            "settling twice is harmless"
        );
    }

    #[test]
    fn the_active_segment_is_never_deleted() {
        let mut st = state_with(true);
        st.admit(1, vec![hit(1)], false);
        st.advance(100, 1);
        assert_eq!(
            st.cursor,
            Some(Cursor {
                seg: 1,
                offset: 100
            }),
            "an active segment may still grow"
        );
        assert!(st.settle(hit(1).id).is_empty());
    }

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(
            parse_segment_name(&segment_name(42, 1_700_000_000_123)),
            Some((42, 1_700_000_000_123))
        );
        assert_eq!(parse_segment_name("notes.txt"), None);
        assert_eq!(parse_segment_name("x-1.jsonl"), None);
    }
}
