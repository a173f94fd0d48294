//! Downloading the video: streamed to a partial file beside the target, named after the target
//! and the task so that a later run (another process) resumes it with `Range`; locked while
//! written; synced and renamed at the end.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::retry::{Backoff, Next};
use crate::status::TaskStatus;
use crate::transport::{self, header};
use serde::{Deserialize, Serialize};

/// The target of this room's log records.
const LOG: &str = "vidu::download";
/// Redirect hops followed per request.
const MAX_REDIRECTS: u32 = 5;
/// Attempts per download, counting resumed connections and transient failures.
const MAX_ATTEMPTS: u32 = 8;
/// The longest file name most file systems take (Linux `NAME_MAX`, in bytes).
const NAME_MAX: usize = 255;
/// What the partial file's name adds to the output's: `.` before, `.<8 hex>.part` after.
const PARTIAL_EXTRA: usize = 1 + 1 + 8 + 5;

fn fail(detail: impl Into<String>) -> Error {
    Error::Download {
        task_id: None,
        detail: detail.into(),
    }
}

/// The target path must name a new or regular file in an existing directory, with a name
/// short enough for the partial file beside it. Symlinks are not followed: a symlink at the
/// path is refused, never written through. Checked before submitting.
pub(crate) fn check_output_path(path: &Path) -> Result<()> {
    let allowed = "a file path in an existing directory";
    let text = path.as_os_str().to_string_lossy();
    // `v.mp4/` and `v.mp4/.` name a directory, though `file_name` says `v.mp4`.
    let name = match path.file_name() {
        Some(name)
            if !text.ends_with(std::path::is_separator)
                && path
                    .as_os_str()
                    .as_encoded_bytes()
                    .ends_with(name.as_encoded_bytes()) =>
        {
            name
        }
        _ => return Err(Error::invalid("output", path.display(), allowed)),
    };
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => {}
        Ok(meta) => {
            return Err(Error::invalid(
                "output",
                path.display(),
                format!(
                    "a regular file or a new name; this is a {} (symlinks are not followed)",
                    describe(meta.file_type())
                ),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::invalid(
                "output",
                path.display(),
                format!("{allowed}; it cannot be inspected: {e}"),
            ))
        }
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(Error::invalid(
            "output",
            path.display(),
            format!("{allowed}; {} does not exist", dir.display()),
        ));
    }
    if let Err(e) = probe_writable(&dir) {
        return Err(Error::invalid(
            "output",
            path.display(),
            unwritable(&dir, &e),
        ));
    }
    if name.len() + PARTIAL_EXTRA > NAME_MAX {
        return Err(Error::invalid(
            "output",
            path.display(),
            format!(
                "a file name of at most {} bytes (this one has {}): the download's partial \
                 file adds {PARTIAL_EXTRA} to it, and file systems take {NAME_MAX}",
                NAME_MAX - PARTIAL_EXTRA,
                name.len()
            ),
        ));
    }
    Ok(())
}

/// What to tell about a directory where a file could not be created.
fn unwritable(dir: &Path, e: &io::Error) -> String {
    let why = if e.kind() == io::ErrorKind::ReadOnlyFilesystem {
        format!("{} is on a read-only file system", dir.display())
    } else {
        format!("{} does not take new files ({e})", dir.display())
    };
    format!(
        "a file in a directory this process can write to; {why}: fix its permissions or \
         mount, or choose another output directory"
    )
}

/// Creates and removes an empty file in `dir`. Permission bits alone do not say whether a
/// file can be created (root ignores them; read-only mounts, ACLs and immutable directories
/// do not show in them): trying is the only check that agrees with the download's own.
/// The last directory found writable is not probed again for a second: a batch checks its
/// outputs in a loop, mostly in one directory (100,000 checks took 4.4 s here probing each
/// time, 0.9 s with a cache). One entry, not a map: nothing grows, and the memory it holds is
/// plainly reachable (a hash table's interior pointers read as "possibly lost" to valgrind in
/// a C program).
fn probe_writable(dir: &Path) -> io::Result<()> {
    const FRESH: Duration = Duration::from_secs(1);
    static LAST_WRITABLE: Mutex<Option<(PathBuf, Instant)>> = Mutex::new(None);
    let mut last = LAST_WRITABLE.lock().unwrap_or_else(|e| e.into_inner());
    if last
        .as_ref()
        .is_some_and(|(seen, at)| seen == dir && at.elapsed() < FRESH)
    {
        return Ok(());
    }
    create_and_remove_a_file(dir)?;
    *last = Some((dir.to_owned(), Instant::now()));
    Ok(())
}

fn create_and_remove_a_file(dir: &Path) -> io::Result<()> {
    static PROBES: AtomicU32 = AtomicU32::new(0);
    for _ in 0..4 {
        let n = PROBES.fetch_add(1, Ordering::Relaxed);
        let probe = dir.join(format!(".vidu-probe.{}.{n}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&probe) {
            Ok(file) => {
                drop(file);
                return fs::remove_file(&probe);
            }
            // Someone else's file of that name: try another name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(()) // only names that exist already: the download will tell
}

/// Refuses two jobs that name the same output: the second video would replace the first, one
/// paid task lost. Outputs are compared as the download writes them: the directory resolved
/// (symlinks, `.`, `..`, relative to the current directory) and the file name as given. Two
/// hard links, or a symlink and its target, are different outputs: the download renames its
/// file over the name, replacing the link, never writing through it. Hashed: O(n), and one
/// `canonicalize` per distinct directory spelling. (A batch uses [`DistinctOutputs`] itself.)
#[cfg(test)]
fn check_distinct_outputs<'a>(
    outputs: impl IntoIterator<Item = (&'a str, &'a Path)>,
) -> Result<()> {
    let outputs: Vec<(&str, &Path)> = outputs.into_iter().collect();
    let mut distinct = DistinctOutputs::new();
    for (i, (label, path)) in outputs.iter().enumerate() {
        if let Some((first, resolved)) = distinct.add(i, path, |j| Ok(outputs[j].1.to_owned()))? {
            return Err(duplicate_output(path, outputs[first].0, label, &resolved));
        }
    }
    Ok(())
}

/// The error for two jobs writing one file.
pub(crate) fn duplicate_output(path: &Path, first: &str, second: &str, resolved: &Path) -> Error {
    Error::invalid(
        "output",
        path.display(),
        format!(
            "a different output for each job: {first} and {second} both write {}",
            resolved.display()
        ),
    )
}

/// The outputs of a batch seen so far, each held as a hash of its resolved path (16 bytes a
/// job, whatever the path's length), for [`check_distinct_outputs`] and batches whose jobs are
/// read on demand.
pub(crate) struct DistinctOutputs {
    cwd: Option<PathBuf>,
    dirs: HashMap<PathBuf, PathBuf>,
    /// The first job writing each resolved output, by its hash.
    seen: HashMap<u64, usize>,
    /// Outputs whose hash another output has too (almost never), by their resolved path.
    exact: HashMap<PathBuf, usize>,
    hash: fn(&Path) -> u64,
}

impl DistinctOutputs {
    pub(crate) fn new() -> Self {
        DistinctOutputs {
            cwd: std::env::current_dir().ok(),
            dirs: HashMap::new(),
            seen: HashMap::new(),
            exact: HashMap::new(),
            hash: |path| {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                path.hash(&mut h);
                h.finish()
            },
        }
    }

    /// The output as the download writes it.
    fn resolve(&mut self, path: &Path) -> PathBuf {
        match path.file_name() {
            Some(name) => {
                let raw = path.parent().unwrap_or(Path::new(""));
                if let Some(dir) = self.dirs.get(raw) {
                    return dir.join(name);
                }
                let dir = resolve_dir(raw, self.cwd.as_deref());
                let joined = dir.join(name);
                self.dirs.insert(raw.to_owned(), dir);
                joined
            }
            None => lexical_absolute(path, self.cwd.as_deref()),
        }
    }

    /// Adds job `job`'s output; the earlier job writing the same file and that file, if one
    /// does. `output_of` gives an earlier job's output again, when hashes match.
    pub(crate) fn add(
        &mut self,
        job: usize,
        output: &Path,
        output_of: impl Fn(usize) -> Result<PathBuf>,
    ) -> Result<Option<(usize, PathBuf)>> {
        let resolved = self.resolve(output);
        let first = match self.seen.entry((self.hash)(&resolved)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(job);
                return Ok(None);
            }
            std::collections::hash_map::Entry::Occupied(o) => *o.get(),
        };
        if let Some(&earlier) = self.exact.get(&resolved) {
            return Ok(Some((earlier, resolved)));
        }
        let first_resolved = self.resolve(&output_of(first)?);
        if first_resolved == resolved {
            return Ok(Some((first, resolved)));
        }
        // Two outputs, one hash: both kept by path from now on.
        self.exact.entry(first_resolved).or_insert(first);
        self.exact.insert(resolved, job);
        Ok(None)
    }
}

/// The directory as the file system resolves it, or spelled out lexically when it does not
/// exist (then `check_output_path` refuses the job anyway).
fn resolve_dir(raw: &Path, cwd: Option<&Path>) -> PathBuf {
    let dir = if raw.as_os_str().is_empty() {
        Path::new(".")
    } else {
        raw
    };
    fs::canonicalize(dir).unwrap_or_else(|_| lexical_absolute(dir, cwd))
}

/// `path` made absolute against `cwd`, with `.` dropped and `..` taking off a component.
fn lexical_absolute(path: &Path, cwd: Option<&Path>) -> PathBuf {
    use std::path::Component;
    let mut out = match cwd {
        Some(cwd) if path.is_relative() => cwd.to_owned(),
        _ => PathBuf::new(),
    };
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn describe(t: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
        if t.is_fifo() {
            return "FIFO";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    if t.is_symlink() {
        "symbolic link"
    } else if t.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// `.<name>.<8 hex digits of the task id's FNV-1a hash>.part`: the same in every process, so
/// a rerun finds what an interrupted one left, and different for another task's video.
fn partial_name(name: &OsStr, task_id: &str) -> OsString {
    let hash = task_id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let mut out = OsString::from(".");
    out.push(name);
    out.push(format!(".{hash:08x}.part"));
    out
}

/// Only `https`, or `http` to a loopback host (local testing), is followed.
pub(crate) fn check_video_url(url: &str) -> Result<()> {
    if transport::is_https_or_loopback(url) {
        return Ok(());
    }
    Err(fail(format!(
        "refusing to follow video URL {:?}: only https (or http to loopback) is allowed",
        crate::error::shorten(url, 120)
    )))
}

fn io_error<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> Error + 'p {
    move |source| Error::Io {
        action,
        path: path.to_owned(),
        source,
        task_id: None,
    }
}

/// What the first answer said about the video: kept beside the partial file (its sidecar,
/// `.<name>.<8 hex>.meta`), so that a resume, in this process or a later one, can tell
/// whether the URL still serves the bytes already kept.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Identity {
    etag: Option<String>,
    last_modified: Option<String>,
    /// The video's full size, when declared.
    total: Option<u64>,
}

/// Longer validators are not kept (a host sending kilobytes of ETag is not trusted to resume).
const MAX_VALIDATOR: usize = 512;
/// A sidecar is a few hundred bytes; anything longer is not one.
const MAX_SIDECAR: u64 = 4096;

impl Identity {
    fn of(response: &ureq::http::Response<ureq::Body>, total: Option<u64>) -> Identity {
        let validator = |name| header(response, name).filter(|v| v.len() <= MAX_VALIDATOR);
        Identity {
            etag: validator("etag"),
            last_modified: validator("last-modified"),
            total,
        }
    }

    /// `If-Range` takes a strong ETag or a date (RFC 9110 section 13.1.5); a weak ETag there
    /// would make every resume a full download.
    fn if_range(&self) -> Option<&str> {
        self.etag
            .as_deref()
            .filter(|e| !e.starts_with("W/"))
            .or(self.last_modified.as_deref())
    }

    /// Why `answer` (to a ranged request) is not the rest of the video first answered, if it
    /// is not. What either side does not say is not held against it.
    fn mismatch(&self, answer: &Identity) -> Option<String> {
        fn differ<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
            matches!((a, b), (Some(a), Some(b)) if a != b)
        }
        if differ(&self.total, &answer.total) {
            return Some(format!(
                "the video's size changed from {} to {} bytes",
                self.total.unwrap_or_default(),
                answer.total.unwrap_or_default()
            ));
        }
        if differ(&self.etag, &answer.etag) {
            return Some(format!(
                "the video's ETag changed from {:?} to {:?}",
                self.etag.as_deref().unwrap_or_default(),
                answer.etag.as_deref().unwrap_or_default()
            ));
        }
        if differ(&self.last_modified, &answer.last_modified) {
            return Some(format!(
                "the video's Last-Modified changed from {:?} to {:?}",
                self.last_modified.as_deref().unwrap_or_default(),
                answer.last_modified.as_deref().unwrap_or_default()
            ));
        }
        None
    }
}

/// The sidecar of a partial file: `.part` becomes `.meta` (same length, so the name limit
/// checked before the submit holds for both).
fn sidecar_path(partial: &Path) -> PathBuf {
    partial.with_extension("meta")
}

/// The identity a partial file's sidecar holds; `None` when it is missing, not a regular
/// file, or unreadable.
fn read_identity(sidecar: &Path) -> Option<Identity> {
    let meta = fs::symlink_metadata(sidecar).ok()?;
    if !meta.file_type().is_file() || meta.len() > MAX_SIDECAR {
        return None;
    }
    serde_json::from_slice(&fs::read(sidecar).ok()?).ok()
}

/// The partial file, open, locked, positioned at its end, with the identity of the video its
/// bytes come from (`None` while empty).
struct Partial {
    path: PathBuf,
    file: File,
    len: u64,
    identity: Option<Identity>,
    task_id: String,
}

impl Partial {
    /// Opens the partial file left by an earlier run, or creates it. Never follows a symlink:
    /// a new file is created with `create_new` (which refuses one), and an existing file must
    /// be the regular file the path names. Fails at once when another process holds it.
    fn open(path: PathBuf, task_id: &str) -> Result<Partial> {
        let existing = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_file() => Some(meta),
            Ok(meta) => {
                return Err(fail(format!(
                    "{} is a {}, not a partial download",
                    path.display(),
                    describe(meta.file_type())
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error("inspecting", &path)(e)),
        };
        let mut file = match existing {
            None => OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(io_error("creating", &path))?,
            Some(before) => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_error("opening", &path))?;
                let opened = file.metadata().map_err(io_error("inspecting", &path))?;
                if !same_file(&before, &opened) {
                    return Err(fail(format!(
                        "{} changed while it was opened",
                        path.display()
                    )));
                }
                file
            }
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(fail(format!(
                    "another download of task {task_id} to the same file is running (it holds {})",
                    path.display()
                )))
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_error("locking", &path)(e)),
        }
        // A winner may have renamed the file between our open and our lock: then the path
        // no longer names what we hold.
        let now = fs::symlink_metadata(&path).map_err(io_error("inspecting", &path))?;
        let held = file.metadata().map_err(io_error("inspecting", &path))?;
        if !same_file(&now, &held) {
            return Err(fail(format!(
                "another download of task {task_id} finished with {} while this one started",
                path.display()
            )));
        }
        let len = file
            .seek(SeekFrom::End(0))
            .map_err(io_error("opening", &path))?;
        let mut partial = Partial {
            // An empty file's sidecar (if any) is an older download's: the next answer is
            // the first.
            identity: (len > 0)
                .then(|| read_identity(&sidecar_path(&path)))
                .flatten(),
            path,
            file,
            len,
            task_id: task_id.to_owned(),
        };
        if partial.len > 0 && partial.identity.is_none() {
            // Bytes of an unknown video (the sidecar is missing or damaged): never resumed.
            partial.restart("no record of the video its bytes came from")?;
        }
        Ok(partial)
    }

    /// Truncates the file: the bytes kept are not (or not known to be) this video's.
    fn restart(&mut self, reason: &str) -> Result<()> {
        log::debug!(
            target: LOG,
            "task {}: restarting the download from byte 0 (had {}): {reason}",
            self.task_id,
            self.len
        );
        self.file
            .set_len(0)
            .map_err(io_error("truncating", &self.path))?;
        self.file
            .rewind()
            .map_err(io_error("truncating", &self.path))?;
        self.len = 0;
        self.identity = None;
        Ok(())
    }

    /// Records what the first answer said, before any of its bytes are written: a partial
    /// file with bytes always has its sidecar. The old sidecar is removed first, so the new
    /// one is created, never written through a link.
    fn begin(&mut self, identity: Identity) -> Result<()> {
        let sidecar = sidecar_path(&self.path);
        match fs::remove_file(&sidecar) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_error("replacing", &sidecar)(e))
            }
            _ => {}
        }
        let text = serde_json::to_vec(&identity).expect("strings and numbers serialize");
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&sidecar)
            .and_then(|mut f| f.write_all(&text))
            .map_err(io_error("writing", &sidecar))?;
        self.identity = Some(identity);
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .write_all(bytes)
            .map_err(io_error("writing", &self.path))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Why `answer` is not the rest of the bytes kept, if it is not.
    fn mismatch(&self, answer: &Identity) -> Option<String> {
        self.identity
            .as_ref()
            .and_then(|kept| kept.mismatch(answer))
    }

    /// Removes the file and its sidecar, then releases the lock (closing it).
    fn remove(self) {
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_file(sidecar_path(&self.path));
    }

    /// Syncs the file and renames it to `target` while still holding the lock.
    fn finish(self, target: &Path, stale: Stale<'_>) -> Result<u64> {
        let Partial {
            path,
            mut file,
            len,
            task_id,
            ..
        } = self;
        let sidecar = sidecar_path(&path);
        let synced = file.flush().and_then(|_| file.sync_all());
        if let Err(e) = synced {
            let _ = fs::remove_file(&path);
            let _ = fs::remove_file(&sidecar);
            return Err(io_error("syncing", &path)(e));
        }
        if let Err(e) = fs::rename(&path, target) {
            let _ = fs::remove_file(&path);
            let _ = fs::remove_file(&sidecar);
            return Err(io_error("renaming the download to", target)(e));
        }
        let _ = fs::remove_file(&sidecar);
        drop(file);
        // Debug: the caller (generate, resume, the batch) says "written" at info, with the job.
        log::debug!(
            target: LOG,
            "task {task_id}: video written to {} ({len} bytes)",
            target.display()
        );
        remove_stale_partials(target, stale);
        if let Ok(d) = File::open(parent_dir(target)) {
            let _ = d.sync_all(); // best effort: makes the rename durable on Linux
        }
        Ok(len)
    }
}

/// `file_name` is a partial file (`.part`) or sidecar (`.meta`) of the output named `name`:
/// exactly `.<name>.<8 lowercase hex>.part|meta`. Nothing looser: `.render.mp4.2.<hex>.part`
/// is the partial of `render.mp4.2`, not of `render.mp4`.
fn is_partial_of(file_name: &OsStr, name: &OsStr) -> bool {
    let (file_name, name) = (file_name.as_encoded_bytes(), name.as_encoded_bytes());
    let Some(rest) = file_name
        .strip_prefix(b".")
        .and_then(|r| r.strip_prefix(name))
        .and_then(|r| r.strip_prefix(b"."))
    else {
        return false;
    };
    let Some(hash) = rest
        .strip_suffix(b".part")
        .or_else(|| rest.strip_suffix(b".meta"))
    else {
        return false;
    };
    hash.len() == 8 && hash.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Where the partial files other tasks left for an output are looked for once it holds its
/// video.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stale<'a> {
    /// List the output's directory: one download.
    Scan,
    /// These files, found by [`stale_partials_in`] before a batch: a batch writing n videos
    /// into one directory lists it once, not n times (n² entries read).
    Known(&'a [PathBuf]),
}

/// Once `target` holds its video, the partial files other tasks (an earlier attempt of the
/// same job) left for it are of no use. Removes those that are regular files no other process
/// is writing (lockable), with their sidecars, and sidecars whose partial file is gone. Best
/// effort.
fn remove_stale_partials(target: &Path, stale: Stale<'_>) {
    let Some(name) = target.file_name() else {
        return;
    };
    match stale {
        Stale::Known(files) => files.iter().for_each(|f| remove_if_stale(f, name)),
        Stale::Scan => {
            if let Ok(entries) = fs::read_dir(parent_dir(target)) {
                entries
                    .flatten()
                    .for_each(|e| remove_if_stale(&e.path(), name));
            }
        }
    }
}

/// Removes `file` if it is a partial file or sidecar of the output named `name` that nothing
/// is writing.
fn remove_if_stale(file: &Path, name: &OsStr) {
    // The name first: a scan passes every entry of the directory here, and only a few of them
    // need a `stat`.
    if !file.file_name().is_some_and(|f| is_partial_of(f, name))
        || !fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_file())
    {
        return;
    }
    let partial = file.with_extension("part");
    match fs::symlink_metadata(&partial) {
        Ok(meta) if meta.file_type().is_file() => {
            // Removed while locked: no other download can take it up in between.
            if let Ok(file) = OpenOptions::new().write(true).open(&partial) {
                if file.try_lock().is_ok() {
                    let _ = fs::remove_file(&partial);
                    let _ = fs::remove_file(sidecar_path(&partial));
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let _ = fs::remove_file(sidecar_path(&partial));
        }
        _ => {}
    }
}

/// The partial files and sidecars in `dir`, by the name of the output they belong to: one
/// listing of the directory for a whole batch.
pub(crate) fn stale_partials_in(dir: &Path) -> HashMap<OsString, Vec<PathBuf>> {
    let mut found: HashMap<OsString, Vec<PathBuf>> = HashMap::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        // `.<name>.<8 hex>.part|meta`: the name is what lies between (a name that is not
        // UTF-8 is left alone: the cleanup is best effort).
        let Some(name) = file_name
            .to_str()
            .and_then(|t| t.strip_prefix('.'))
            .and_then(|r| r.get(..r.len().checked_sub(14)?))
        else {
            continue;
        };
        let name = OsStr::new(name);
        if !name.is_empty() && is_partial_of(&file_name, name) {
            found.entry(name.to_owned()).or_default().push(entry.path());
        }
    }
    found
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.is_file() && b.is_file()
}

/// `bytes START-END/TOTAL` → (START, TOTAL if known). Numbers that do not fit a u64 make the
/// header invalid.
pub(crate) fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let start = range.split_once('-')?.0.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start, total))
}

/// The full size of a video from a `206` answer: the `Content-Range` total, or the start plus
/// `Content-Length`, which must not overflow.
pub(crate) fn partial_total(
    start: u64,
    total: Option<u64>,
    declared_len: Option<u64>,
) -> Result<Option<u64>> {
    match (total, declared_len) {
        (Some(t), _) => Ok(Some(t)),
        (None, Some(len)) => len.checked_add(start).map(Some).ok_or_else(|| {
            fail(format!(
                "206 answer with an impossible Content-Length {len} from offset {start}"
            ))
        }),
        (None, None) => Ok(None),
    }
}

enum Outcome {
    Done,
    /// The connection ended early or failed transiently: resume (or restart) and try again.
    Retry(Option<std::time::Duration>),
    /// No data came for `timeouts.receive`, before or within the body: try again, up to
    /// `max_download_stalls` times in a row.
    Stalled,
    /// The signed URL expired.
    Expired,
    /// The cancel token was triggered.
    Cancelled,
}

/// How a download that did not finish leaves its partial file.
enum Stop {
    /// Kept for a later resume: the call was cancelled, or the host kept failing transiently.
    Keep(Error),
    /// Removed: the bytes are of no further use (too large, refused, an error answer).
    Remove(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Remove(e)
    }
}

/// Downloads the first video URL of `status` to `target`, resuming the partial file an
/// earlier call for the same task and target left. `refresh` fetches the task's status again,
/// for a fresh URL when the signed one expired. Every error carries the task id.
pub(crate) fn download(
    agent: &ureq::Agent,
    config: &Config,
    status: &TaskStatus,
    target: &Path,
    cancel: &CancelToken,
    refresh: &mut dyn FnMut() -> Result<TaskStatus>,
    stale: Stale<'_>,
) -> Result<u64> {
    let task_id = status.task_id.as_str();
    // A task exists by now: a bad output path is a download error that carries its id
    // (and never says "nothing was sent").
    let check_target = || {
        check_output_path(target).map_err(|e| match e {
            Error::InvalidInput { value, allowed, .. } => fail(format!(
                "cannot write the video to output {value:?}: {allowed}"
            )),
            e => e,
        })
    };
    let mut run = || {
        check_target()?;
        let url = status
            .video_urls
            .first()
            .cloned()
            .ok_or_else(|| fail(format!("task is {} and has no video URL", status.state)))?;
        let name = target.file_name().unwrap_or_default();
        let path = parent_dir(target).join(partial_name(name, task_id));
        let mut partial = Partial::open(path, task_id)?;
        match transfer(agent, config, task_id, url, &mut partial, cancel, refresh) {
            // Checked again just before the rename, which would replace whatever is there;
            // if that fails, the whole video stays in the partial file for a rerun.
            Ok(()) => check_target().and_then(|_| partial.finish(target, stale)),
            Err(Stop::Keep(e)) => Err(e), // closing the file releases the lock
            Err(Stop::Remove(e)) => {
                partial.remove();
                Err(e)
            }
        }
    };
    run().map_err(|e| e.with_task_id(task_id))
}

fn transfer(
    agent: &ureq::Agent,
    config: &Config,
    task_id: &str,
    mut url: String,
    partial: &mut Partial,
    cancel: &CancelToken,
    refresh: &mut dyn FnMut() -> Result<TaskStatus>,
) -> std::result::Result<(), Stop> {
    let mut refreshed = false;
    let mut stalls = 0u32;
    let mut backoff = Backoff::new(&config.retry, None).with_max_attempts(MAX_ATTEMPTS);
    loop {
        if cancel.is_cancelled() {
            return Err(Stop::Keep(Error::cancelled(task_id)));
        }
        let retry_after = match fetch(agent, config, &url, partial, cancel)? {
            Outcome::Done => return Ok(()),
            Outcome::Cancelled => return Err(Stop::Keep(Error::cancelled(task_id))),
            Outcome::Expired if !refreshed => {
                refreshed = true;
                log::warn!(
                    target: LOG,
                    "task {task_id}: the video URL expired (HTTP 403); fetching a fresh one"
                );
                // Same task, same video: the bytes so far stay and the fresh URL resumes them
                // (if the host says it is the same file).
                let fresh = refresh().map_err(Stop::Keep)?;
                url = fresh.video_urls.first().cloned().ok_or_else(|| {
                    fail("the video URL expired and the task no longer lists one")
                })?;
                continue;
            }
            Outcome::Expired => {
                return Err(Stop::Keep(fail(
                    "the video URL was refused (403) again after fetching a fresh one",
                )))
            }
            Outcome::Stalled => {
                stalls += 1;
                if stalls >= config.max_download_stalls {
                    return Err(Stop::Keep(fail(format!(
                        "the video host stalled {stalls} times in a row (no data for {:?} each \
                         time; Config::max_download_stalls, Config::timeouts.receive); {} bytes \
                         kept in {} for a later resume",
                        config.timeouts.receive,
                        partial.len,
                        partial.path.display()
                    ))));
                }
                None
            }
            Outcome::Retry(retry_after) => {
                stalls = 0;
                retry_after
            }
        };
        match backoff.after_failure(retry_after, cancel) {
            Next::Retry => {}
            Next::Cancelled => return Err(Stop::Keep(Error::cancelled(task_id))),
            Next::GiveUp => {
                return Err(Stop::Keep(fail(format!(
                    "gave up after {} attempts; {} bytes kept in {} for a later resume",
                    backoff.failures(),
                    partial.len,
                    partial.path.display()
                ))))
            }
        }
    }
}

fn is_stall(e: &ureq::Error) -> bool {
    use ureq::Timeout as T;
    matches!(
        e,
        ureq::Error::Timeout(T::PerRead | T::RecvResponse | T::RecvBody | T::PerCall | T::Global)
    )
}

/// ureq wraps its own errors, timeouts among them, in the `io::Error` of a body read.
fn is_stalled_read(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TimedOut
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .is_some_and(is_stall)
}

/// The video passes `Config::max_video_bytes`: declared so (`Some(size)`), or growing past it.
fn too_large(declared: Option<u64>, config: &Config) -> Error {
    let cap = config.max_video_bytes;
    fail(match declared {
        Some(size) => format!(
            "the video host declares {size} bytes, more than the {cap} allowed \
             (Config::max_video_bytes)"
        ),
        None => format!(
            "the video grew past the {cap} bytes allowed (Config::max_video_bytes); stopped"
        ),
    })
}

/// One GET of the video (following redirects by hand, so every hop is checked), appending to
/// the partial file from its end.
fn fetch(
    agent: &ureq::Agent,
    config: &Config,
    start_url: &str,
    partial: &mut Partial,
    cancel: &CancelToken,
) -> Result<Outcome> {
    let mut url = start_url.to_owned();
    let mut hops = 0;
    let response = loop {
        check_video_url(&url)?;
        // No Authorization header: the key never goes to the video host.
        let mut request = agent.get(&url).header("accept", "*/*");
        if partial.len > 0 {
            if hops == 0 {
                log::debug!(
                    target: LOG,
                    "task {}: resuming the download at byte {}",
                    partial.task_id,
                    partial.len
                );
            }
            request = request.header("range", format!("bytes={}-", partial.len));
            // The host sends the rest only if the video is still the one first answered;
            // otherwise the whole of the new one (200).
            if let Some(validator) = partial.identity.as_ref().and_then(Identity::if_range) {
                request = request.header("if-range", validator);
            }
        }
        let response = match request.call() {
            Ok(r) => r,
            Err(e) if is_stall(&e) => return Ok(Outcome::Stalled),
            Err(e) if transport::is_transient_error(&e) => return Ok(Outcome::Retry(None)),
            Err(e) => return Err(fail(format!("{e}"))),
        };
        let status = response.status().as_u16();
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(fail(format!("more than {MAX_REDIRECTS} redirects")));
            }
            let location = header(&response, "location")
                .ok_or_else(|| fail(format!("HTTP {status} redirect without a Location")))?;
            url = resolve(&url, &location).ok_or_else(|| {
                fail(format!(
                    "cannot resolve the redirect {:?} from {:?}",
                    crate::error::shorten(&location, 120),
                    crate::error::shorten(&url, 120)
                ))
            })?;
            continue;
        }
        break response;
    };
    let status = response.status().as_u16();
    let header = |name: &str| header(&response, name);
    let declared_len: Option<u64> = header("content-length").and_then(|v| v.trim().parse().ok());
    let total = match status {
        200 => {
            if partial.len > 0 {
                // Range ignored, or If-Range saw another video: this is all of it, from 0.
                partial.restart("the host sent the whole video (200), not the rest")?;
            }
            declared_len
        }
        206 => {
            let (start, total) = header("content-range")
                .as_deref()
                .and_then(parse_content_range)
                .ok_or_else(|| fail("206 answer without a valid Content-Range"))?;
            if start != partial.len {
                partial.restart(&format!(
                    "the host sent bytes from {start}, not from {}",
                    partial.len
                ))?;
                return Ok(Outcome::Retry(None));
            }
            let total = partial_total(start, total, declared_len)?;
            if let Some(reason) = partial.mismatch(&Identity::of(&response, total)) {
                partial.restart(&reason)?;
                return Ok(Outcome::Retry(None));
            }
            total
        }
        416 => {
            // The partial file is as long as the video, or longer (not this video's bytes).
            let total = header("content-range").as_deref().and_then(|v| {
                v.trim()
                    .strip_prefix("bytes */")?
                    .trim()
                    .parse::<u64>()
                    .ok()
            });
            let reason = match partial.mismatch(&Identity::of(&response, total)) {
                None if partial.len > 0 && total == Some(partial.len) => return Ok(Outcome::Done),
                None => match total {
                    Some(t) => format!("the video has {t} bytes and {} are kept", partial.len),
                    None => "the host refused the range (416) without the video's size".into(),
                },
                Some(reason) => reason,
            };
            partial.restart(&reason)?;
            return Ok(Outcome::Retry(None));
        }
        403 => return Ok(Outcome::Expired),
        s if transport::is_transient_status(s) => {
            return Ok(Outcome::Retry(transport::retry_after(&response)));
        }
        s => return Err(fail(format!("the video host answered HTTP {s}"))),
    };
    if let Some(t) = total.filter(|t| *t > config.max_video_bytes) {
        return Err(too_large(Some(t), config));
    }
    if partial.len == 0 {
        partial.begin(Identity::of(&response, total))?;
    }
    let mut body = response.into_body().into_reader();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if cancel.is_cancelled() {
            return Ok(Outcome::Cancelled);
        }
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Dropped or stalled mid-body: resume with Range.
            Err(e) if is_stalled_read(&e) => return Ok(Outcome::Stalled),
            Err(_) => return Ok(Outcome::Retry(None)),
        };
        if partial.len.saturating_add(n as u64) > config.max_video_bytes {
            return Err(too_large(None, config));
        }
        partial.write(&buf[..n])?;
    }
    match total {
        Some(t) if partial.len < t => Ok(Outcome::Retry(None)),
        Some(t) if partial.len > t => Err(fail(format!(
            "received {} bytes, more than the {t} declared",
            partial.len
        ))),
        _ => Ok(Outcome::Done),
    }
}

/// A URL split as RFC 3986 section 3 does, fragment dropped (it is never sent).
struct Parts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

fn split_url(url: &str) -> Parts<'_> {
    let url = url.split('#').next().unwrap_or("");
    // A scheme is letters, digits, `+-.` before the first `:`, and only when that `:` comes
    // before any `/?`: so `/b?from=https://x` is a path, not an absolute URL.
    let scheme_end = url.find([':', '/', '?']).filter(|&i| {
        url[i..].starts_with(':')
            && url[..i].starts_with(|c: char| c.is_ascii_alphabetic())
            && url[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => (Some(&url[..i]), &url[i + 1..]),
        None => (None, url),
    };
    let (authority, rest) = match rest.strip_prefix("//") {
        Some(r) => {
            let end = r.find(['/', '?']).unwrap_or(r.len());
            (Some(&r[..end]), &r[end..])
        }
        None => (None, rest),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    Parts {
        scheme,
        authority,
        path,
        query,
    }
}

/// RFC 3986 section 5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let absolute = path.starts_with('/');
    let segments: Vec<&str> = path.split('/').skip(usize::from(absolute)).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." | ".." => {
                if *seg == ".." {
                    out.pop();
                }
                if last {
                    out.push(""); // `a/b/..` ends as the directory `a/`
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Resolves a `Location` against the URL it came from (RFC 3986 section 5.2): absolute,
/// scheme-relative (`//host/x`), absolute-path (`/x?from=https://y`), relative (`../x`,
/// `x`) and query-only (`?x`) references. `None` when `base` is not an absolute URL.
pub(crate) fn resolve(base: &str, location: &str) -> Option<String> {
    let b = split_url(base.trim());
    let scheme = b.scheme?;
    let r = split_url(location.trim());
    let (scheme, authority, path, query) = if let Some(s) = r.scheme {
        (s, r.authority, remove_dot_segments(r.path), r.query)
    } else if r.authority.is_some() {
        (scheme, r.authority, remove_dot_segments(r.path), r.query)
    } else if r.path.is_empty() {
        (scheme, b.authority, b.path.to_owned(), r.query.or(b.query))
    } else if r.path.starts_with('/') {
        (scheme, b.authority, remove_dot_segments(r.path), r.query)
    } else {
        let merged = if b.authority.is_some() && b.path.is_empty() {
            format!("/{}", r.path)
        } else {
            let dir = b.path.rfind('/').map_or("", |i| &b.path[..=i]);
            format!("{dir}{}", r.path)
        };
        (scheme, b.authority, remove_dot_segments(&merged), r.query)
    };
    let mut out = format!("{scheme}:");
    if let Some(a) = authority {
        out.push_str("//");
        out.push_str(a);
    }
    out.push_str(&path);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://cdn.example.com/a.mp4",
            "http://127.0.0.1:8080/v.mp4",
            "http://localhost/v",
            "http://[::1]:9/v",
        ] {
            assert!(check_video_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://cdn.example.com/a.mp4",
            "ftp://x/y",
            "file:///etc/passwd",
            "http://127.0.0.1.evil.com/x",
            "http://user@evil.com/x",
        ] {
            assert!(check_video_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_range() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some((100, Some(1000)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 1-2/3"), None);
        // Numbers past u64 make the header invalid, never a wrapped or panicking number.
        assert_eq!(parse_content_range("bytes 99999999999999999999-1/*"), None);
        assert_eq!(parse_content_range("bytes 5-9/99999999999999999999"), None);
    }

    #[test]
    fn a_partial_answer_cannot_overflow_the_size() {
        assert_eq!(partial_total(5, None, Some(5)).unwrap(), Some(10));
        assert_eq!(
            partial_total(5, Some(10), Some(u64::MAX)).unwrap(),
            Some(10)
        );
        assert_eq!(partial_total(5, None, None).unwrap(), None);
        let err = partial_total(5, None, Some(u64::MAX)).unwrap_err();
        assert!(
            err.to_string().contains("impossible Content-Length"),
            "{err}"
        );
    }

    fn r(base: &str, location: &str) -> String {
        resolve(base, location).unwrap()
    }

    #[test]
    fn redirect_resolution() {
        let base = "http://a:1/x/y.mp4?sig=1";
        assert_eq!(r(base, "http://b:2/z"), "http://b:2/z");
        assert_eq!(r(base, "HTTPS://b/z#frag"), "HTTPS://b/z");
        assert_eq!(r(base, "/z.mp4"), "http://a:1/z.mp4");
        assert_eq!(r("https://a/x/y.mp4", "//b/z"), "https://b/z");
        assert_eq!(r(base, "z.mp4"), "http://a:1/x/z.mp4");
        assert_eq!(r(base, "../z.mp4"), "http://a:1/z.mp4");
        assert_eq!(r(base, "../../../z.mp4"), "http://a:1/z.mp4");
        assert_eq!(r(base, "./w/../z.mp4?q"), "http://a:1/x/z.mp4?q");
        assert_eq!(r(base, "?sig=2"), "http://a:1/x/y.mp4?sig=2");
        assert_eq!(r(base, ""), "http://a:1/x/y.mp4?sig=1");
        assert_eq!(r(base, ".."), "http://a:1/");
        assert_eq!(r("http://a", "z"), "http://a/z");
        // A `://` in the query does not make a relative reference absolute (issue 9.7).
        assert_eq!(
            r(base, "/b/v.mp4?from=https://cdn.example"),
            "http://a:1/b/v.mp4?from=https://cdn.example"
        );
        assert_eq!(
            r(base, "v.mp4?next=//evil/x"),
            "http://a:1/x/v.mp4?next=//evil/x"
        );
        // A colon after the first slash is part of a path, not a scheme.
        assert_eq!(r(base, "b/c:d"), "http://a:1/x/b/c:d");
        assert_eq!(resolve("/relative/base", "x"), None);
    }

    #[test]
    fn redirect_resolution_follows_rfc_3986_examples() {
        // RFC 3986 section 5.4.1 and 5.4.2.
        let base = "http://a/b/c/d;p?q";
        for (reference, expected) in [
            ("g:h", "g:h"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            (";x", "http://a/b/c/;x"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
        ] {
            assert_eq!(r(base, reference), expected, "{reference:?}");
        }
    }

    #[test]
    fn partial_names_are_stable_and_per_task() {
        let a = partial_name(OsStr::new("v.mp4"), "task-1");
        assert_eq!(a, partial_name(OsStr::new("v.mp4"), "task-1"));
        assert_ne!(a, partial_name(OsStr::new("v.mp4"), "task-2"));
        let a = a.to_str().unwrap();
        assert!(a.starts_with(".v.mp4.") && a.ends_with(".part"), "{a}");
        assert_eq!(a.len(), "v.mp4".len() + PARTIAL_EXTRA);
        // FNV-1a of the empty string is the offset basis.
        assert_eq!(partial_name(OsStr::new("v"), ""), ".v.811c9dc5.part");
    }

    /// A fresh directory of its own, removed (with what it holds) when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "vidu-download-unit-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn join(&self, rel: &str) -> PathBuf {
            self.0.join(rel)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// `check_output_path` refuses `path` naming `output`; the error's text.
    fn refused(path: &Path) -> String {
        let err = check_output_path(path).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{err:?}");
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "output",
                    task_id: None,
                    ..
                }
            ),
            "{err:?}"
        );
        err.to_string()
    }

    #[test]
    fn output_path_must_be_a_file_in_an_existing_dir() {
        let err = refused(Path::new("/no/such/dir/v.mp4"));
        assert!(err.contains("/no/such/dir does not exist"), "{err}");
        let err = refused(Path::new(""));
        assert!(
            err.contains("a file path in an existing directory"),
            "{err}"
        );
        let err = refused(&std::env::temp_dir());
        assert!(err.contains("this is a directory"), "{err}");
        for dir_like in ["v.mp4/", "v.mp4/.", "v.mp4/..", "/", "."] {
            let err = refused(Path::new(dir_like));
            assert!(
                err.contains(&format!(
                    "{dir_like:?}: a file path in an existing directory"
                )),
                "{err}"
            );
        }
        assert!(check_output_path(&std::env::temp_dir().join("v.mp4")).is_ok());
        assert!(check_output_path(Path::new("v.mp4")).is_ok());
        let longest = "x".repeat(NAME_MAX - PARTIAL_EXTRA);
        assert!(check_output_path(Path::new(&longest)).is_ok());
        let err = refused(Path::new(&format!("{longest}x")));
        assert!(
            err.contains("at most 240 bytes (this one has 241)"),
            "{err}"
        );
    }

    #[test]
    fn the_write_probe_leaves_nothing_behind() {
        let dir = Scratch::new();
        fs::write(dir.join("keep"), b"x").unwrap();
        for _ in 0..3 {
            check_output_path(&dir.join("v.mp4")).unwrap();
        }
        assert_eq!(names_in(&dir.0), ["keep"]);
    }

    /// /sys and /proc take no new files, whoever asks (root included; CI runs as root, where
    /// permission bits stop nothing): sysfs answers EACCES (EROFS where mounted read-only),
    /// procfs ENOENT.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_output_directory_that_takes_no_new_files_is_refused_even_for_root() {
        for dir in ["/sys", "/proc"] {
            let err = refused(&Path::new(dir).join("v.mp4"));
            assert!(
                err.contains(&format!("{dir} does not take new files"))
                    || err.contains(&format!("{dir} is on a read-only file system")),
                "{err}"
            );
            assert!(err.contains("choose another output directory"), "{err}");
            assert!(err.contains("nothing was sent"), "{err}");
        }
    }

    #[test]
    fn a_read_only_file_system_is_named_as_such() {
        let read_only = io::Error::from(io::ErrorKind::ReadOnlyFilesystem);
        assert_eq!(
            unwritable(Path::new("/media/cd"), &read_only),
            "a file in a directory this process can write to; /media/cd is on a read-only \
             file system: fix its permissions or mount, or choose another output directory"
        );
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let text = unwritable(Path::new("/srv"), &denied);
        assert!(
            text.contains("/srv does not take new files (permission denied)"),
            "{text}"
        );
    }

    /// Mode 0555: refused exactly when a file cannot be created there. As root (CI) writes
    /// succeed and so must the check: a check that read the permission bits would fail here.
    #[cfg(unix)]
    #[test]
    fn a_directory_without_write_permission_is_refused_exactly_when_writes_fail() {
        use std::os::unix::fs::PermissionsExt;
        let scratch = Scratch::new();
        let dir = scratch.join("read-only");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
        let writable = File::create_new(dir.join("try"))
            .map(|_| fs::remove_file(dir.join("try")).unwrap())
            .is_ok();
        let result = check_output_path(&dir.join("v.mp4"));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        match result {
            Ok(()) => assert!(writable, "a directory that refuses writes passed"),
            Err(err) => {
                assert!(!writable, "a writable directory was refused: {err}");
                let err = err.to_string();
                assert!(err.contains("does not take new files"), "{err}");
                assert!(err.contains("Permission denied"), "{err}");
            }
        }
        assert!(names_in(&dir).is_empty());
    }

    /// `check_distinct_outputs` over `(label, path)` pairs: the error's text, if any.
    fn duplicate(outputs: &[(&str, &Path)]) -> Option<String> {
        let err = check_distinct_outputs(outputs.iter().copied()).err()?;
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "output",
                    ..
                }
            ),
            "{err:?}"
        );
        Some(err.to_string())
    }

    #[test]
    fn two_spellings_of_one_output_are_refused_naming_both_jobs() {
        let scratch = Scratch::new();
        fs::create_dir(scratch.join("out")).unwrap();
        let cwd = std::env::current_dir().unwrap();
        let s = |rel: &str| scratch.join(rel);
        let pairs: Vec<(PathBuf, PathBuf)> = vec![
            ("a.mp4".into(), "a.mp4".into()),
            ("a.mp4".into(), "./a.mp4".into()),
            ("a.mp4".into(), cwd.join("a.mp4")),
            (s("out/a.mp4"), s("out/./a.mp4")),
            (s("out/a.mp4"), s("out/../out/a.mp4")),
            (s("out/a.mp4"), s("out//a.mp4")),
            (s("out/a.mp4"), s("./out/a.mp4")),
            // A directory that does not exist is compared as spelled, `..` taken lexically,
            // relative to the current directory.
            (s("none/a.mp4"), s("none/x/../a.mp4")),
            ("no-such-dir/a.mp4".into(), cwd.join("no-such-dir/a.mp4")),
        ];
        for (first, second) in &pairs {
            let third = Path::new("other.mp4");
            let err = duplicate(&[("line 1", first), ("line 2", third), ("line 3", second)])
                .unwrap_or_else(|| panic!("{first:?} and {second:?} passed"));
            assert!(err.contains("line 1 and line 3 both write"), "{err}");
            assert!(
                err.contains(&format!(
                    "invalid output {:?}",
                    second.display().to_string()
                )),
                "{err}"
            );
            assert!(err.ends_with("a.mp4; nothing was sent"), "{err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_reached_through_a_symlink_is_the_same_directory() {
        let scratch = Scratch::new();
        fs::create_dir(scratch.join("real")).unwrap();
        std::os::unix::fs::symlink(scratch.join("real"), scratch.join("link")).unwrap();
        let real = fs::canonicalize(scratch.join("real")).unwrap();
        let err = duplicate(&[
            ("jobs.jsonl line 7", &scratch.join("real/v.mp4")),
            ("jobs.jsonl line 9", &scratch.join("link/v.mp4")),
        ])
        .unwrap();
        assert!(
            err.contains(&format!(
                "jobs.jsonl line 7 and jobs.jsonl line 9 both write {}",
                real.join("v.mp4").display()
            )),
            "{err}"
        );
    }

    #[test]
    fn different_outputs_pass() {
        let scratch = Scratch::new();
        fs::create_dir(scratch.join("out")).unwrap();
        fs::write(scratch.join("out/a.mp4"), b"x").unwrap();
        // A hard link is a name of its own: the download renames over the name, so each
        // name gets its own video.
        fs::hard_link(scratch.join("out/a.mp4"), scratch.join("out/b.mp4")).unwrap();
        let paths = [
            PathBuf::from("a.mp4"),
            PathBuf::from("b.mp4"),
            PathBuf::from("out/a.mp4"), // relative to the current directory, not the scratch
            scratch.join("out/a.mp4"),
            scratch.join("out/b.mp4"),
            scratch.join("out/A.mp4"),
            scratch.join("out/a.mp4.part"),
            scratch.join("a.mp4"),
            // Directories that do not exist are told apart as spelled.
            scratch.join("none/a.mp4"),
            scratch.join("none-either/a.mp4"),
            PathBuf::from("no-such-dir/a.mp4"),
        ];
        let labels: Vec<String> = (1..=paths.len()).map(|n| format!("line {n}")).collect();
        let outputs: Vec<(&str, &Path)> = labels
            .iter()
            .map(String::as_str)
            .zip(paths.iter().map(PathBuf::as_path))
            .collect();
        assert_eq!(duplicate(&outputs), None);
        assert_eq!(duplicate(&[]), None);
    }

    /// Outputs whose hashes collide are told apart by their paths (every hash made equal here).
    #[test]
    fn outputs_with_one_hash_are_compared_by_path() {
        let outputs = ["/v/a.mp4", "/v/b.mp4", "/v/c.mp4", "/v/b.mp4"].map(PathBuf::from);
        let mut distinct = DistinctOutputs::new();
        distinct.hash = |_| 7;
        let output_of = |j: usize| Ok(outputs[j].clone());
        for (i, path) in outputs.iter().enumerate().take(3) {
            assert_eq!(distinct.add(i, path, output_of).unwrap(), None, "{path:?}");
        }
        assert_eq!(
            distinct.add(3, &outputs[3], output_of).unwrap(),
            Some((1, PathBuf::from("/v/b.mp4")))
        );
        assert_eq!(
            distinct.add(4, Path::new("/v/a.mp4"), output_of).unwrap(),
            Some((0, PathBuf::from("/v/a.mp4")))
        );
    }

    #[test]
    fn a_hundred_thousand_outputs_with_one_duplicate_at_the_end() {
        let scratch = Scratch::new();
        let paths: Vec<PathBuf> = (0..100_000)
            .map(|n| scratch.join(&format!("v{n}.mp4")))
            .chain([scratch.join("./v5.mp4")])
            .collect();
        let labels: Vec<String> = (1..=paths.len()).map(|n| format!("line {n}")).collect();
        let outputs = labels
            .iter()
            .map(String::as_str)
            .zip(paths.iter().map(PathBuf::as_path));
        let err = check_distinct_outputs(outputs.clone().take(100_000));
        assert!(err.is_ok(), "{err:?}");
        let err = check_distinct_outputs(outputs).unwrap_err().to_string();
        assert!(err.contains("line 6 and line 100001 both write"), "{err}");
    }

    #[test]
    fn only_this_outputs_partials_are_its_partials() {
        let is = |file: &str, name: &str| is_partial_of(OsStr::new(file), OsStr::new(name));
        assert!(is(".render.mp4.0123abcd.part", "render.mp4"));
        assert!(is(".render.mp4.0123abcd.meta", "render.mp4"));
        assert!(is(".render.mp4.2.0123abcd.part", "render.mp4.2"));
        for other in [
            ".render.mp4.2.0123abcd.part", // render.mp4.2's
            ".render.mp4.4242.0badf00d.part",
            ".render.mp4.0123ABCD.part",
            ".render.mp4.0123abc.part",
            ".render.mp4.0123abcde.part",
            ".render.mp4.0123abcg.part",
            ".render.mp4.0123abcd.part.meta",
            ".render.mp4.0123abcd.tmp",
            ".render.mp4..part",
            "render.mp4.0123abcd.part",
            "..render.mp4.0123abcd.part",
            ".render.mp40123abcd.part",
            ".xrender.mp4.0123abcd.part",
            "render.mp4",
        ] {
            assert!(!is(other, "render.mp4"), "{other}");
        }
        // What partial_name makes, it recognises.
        let name = OsStr::new("v.mp4");
        assert!(is_partial_of(&partial_name(name, "task-1"), name));
        let sidecar = sidecar_path(Path::new(&partial_name(name, "task-1")));
        assert!(is_partial_of(sidecar.as_os_str(), name));
    }

    #[test]
    fn stale_partials_of_this_output_go_and_those_of_similar_names_stay() {
        // Found by listing the directory after the download, or by one listing before a batch.
        for listed_before in [false, true] {
            stale_partials_go(listed_before);
        }
    }

    fn stale_partials_go(listed_before: bool) {
        let scratch = Scratch::new();
        let target = scratch.join("render.mp4");
        fs::write(&target, b"video").unwrap();
        let stale = [
            ".render.mp4.0123abcd.part",
            ".render.mp4.0123abcd.meta",
            ".render.mp4.99999999.meta", // a sidecar whose partial is gone
        ];
        let others = [
            ".render.mp4.2.0123abcd.part",
            ".render.mp4.2.0123abcd.meta",
            ".render.mp4.4242.0badf00d.part",
            ".render.mp4.held0000.part",
            ".other.mp4.0123abcd.part",
            ".render.mp4.aaaaaaaa.part", // held by another download below
            ".render.mp4.aaaaaaaa.meta",
            "render.mp4",
        ];
        for name in stale.iter().chain(&others) {
            if *name != "render.mp4" {
                fs::write(scratch.join(name), b"x").unwrap();
            }
        }
        let held = OpenOptions::new()
            .write(true)
            .open(scratch.join(".render.mp4.aaaaaaaa.part"))
            .unwrap();
        held.try_lock().unwrap();
        let known = stale_partials_in(&scratch.0);
        let mut names: Vec<&OsString> = known.keys().collect();
        names.sort();
        assert_eq!(
            names,
            ["other.mp4", "render.mp4", "render.mp4.2", "render.mp4.4242"]
                .map(OsString::from)
                .iter()
                .collect::<Vec<_>>()
        );
        // Only partial files and sidecars are listed (not `.render.mp4.held0000.part`).
        let mut listed: Vec<String> = known[OsStr::new("render.mp4")]
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        listed.sort();
        let mut partials_of_render: Vec<&str> = stale
            .iter()
            .chain(&[".render.mp4.aaaaaaaa.part", ".render.mp4.aaaaaaaa.meta"])
            .copied()
            .collect();
        partials_of_render.sort();
        assert_eq!(listed, partials_of_render);
        if listed_before {
            remove_stale_partials(&target, Stale::Known(&known[OsStr::new("render.mp4")]));
        } else {
            remove_stale_partials(&target, Stale::Scan);
        }
        let mut expected: Vec<&str> = others.to_vec();
        expected.sort();
        assert_eq!(names_in(&scratch.0), expected);
        drop(held);
    }

    #[cfg(unix)]
    #[test]
    fn a_stale_sidecar_beside_a_symlink_does_not_reach_through_it() {
        let scratch = Scratch::new();
        let target = scratch.join("v.mp4");
        fs::write(&target, b"video").unwrap();
        fs::write(scratch.join("precious"), b"keep").unwrap();
        std::os::unix::fs::symlink(
            scratch.join("precious"),
            scratch.join(".v.mp4.0123abcd.part"),
        )
        .unwrap();
        fs::write(scratch.join(".v.mp4.0123abcd.meta"), b"{}").unwrap();
        remove_stale_partials(&target, Stale::Scan);
        assert_eq!(
            names_in(&scratch.0),
            [
                ".v.mp4.0123abcd.meta",
                ".v.mp4.0123abcd.part",
                "precious",
                "v.mp4"
            ]
        );
        assert_eq!(fs::read(scratch.join("precious")).unwrap(), b"keep");
    }

    fn identity(etag: Option<&str>, last_modified: Option<&str>, total: Option<u64>) -> Identity {
        Identity {
            etag: etag.map(str::to_owned),
            last_modified: last_modified.map(str::to_owned),
            total,
        }
    }

    #[test]
    fn if_range_takes_a_strong_etag_or_else_the_date() {
        let date = "Wed, 01 Jan 2025 00:00:00 GMT";
        assert_eq!(
            identity(Some("\"a\""), Some(date), None).if_range(),
            Some("\"a\"")
        );
        assert_eq!(
            identity(Some("W/\"a\""), Some(date), None).if_range(),
            Some(date)
        );
        assert_eq!(identity(None, Some(date), Some(5)).if_range(), Some(date));
        assert_eq!(identity(Some("W/\"a\""), None, None).if_range(), None);
        assert_eq!(identity(None, None, Some(5)).if_range(), None);
    }

    #[test]
    fn a_changed_size_or_validator_is_a_mismatch_and_silence_is_not() {
        let date = "Wed, 01 Jan 2025 00:00:00 GMT";
        let kept = identity(Some("\"a\""), Some(date), Some(100));
        assert_eq!(kept.mismatch(&kept), None);
        assert_eq!(kept.mismatch(&Identity::default()), None);
        assert_eq!(Identity::default().mismatch(&kept), None);
        let size = kept.mismatch(&identity(Some("\"a\""), Some(date), Some(101)));
        assert_eq!(
            size.as_deref(),
            Some("the video's size changed from 100 to 101 bytes")
        );
        let etag = kept.mismatch(&identity(Some("\"b\""), None, None));
        assert_eq!(
            etag.as_deref(),
            Some("the video's ETag changed from \"\\\"a\\\"\" to \"\\\"b\\\"\"")
        );
        let date2 = "Thu, 02 Jan 2025 00:00:00 GMT";
        let modified = kept.mismatch(&identity(None, Some(date2), Some(100)));
        assert_eq!(
            modified.as_deref(),
            Some(
                "the video's Last-Modified changed from \"Wed, 01 Jan 2025 00:00:00 GMT\" to \
                 \"Thu, 02 Jan 2025 00:00:00 GMT\""
            )
        );
    }

    #[test]
    fn a_sidecar_is_read_back_and_a_damaged_one_is_none() {
        let scratch = Scratch::new();
        let path = scratch.join(".v.mp4.0123abcd.meta");
        assert_eq!(read_identity(&path), None);
        let kept = identity(Some("\"a\""), None, Some(7));
        fs::write(&path, serde_json::to_vec(&kept).unwrap()).unwrap();
        assert_eq!(read_identity(&path), Some(kept));
        fs::write(&path, b"{\"etag\":").unwrap();
        assert_eq!(read_identity(&path), None);
        // Valid, but longer than a sidecar is: not read.
        let mut padded = serde_json::to_vec(&identity(None, None, Some(7))).unwrap();
        padded.resize(MAX_SIDECAR as usize + 1, b' ');
        fs::write(&path, &padded).unwrap();
        assert_eq!(read_identity(&path), None);
        padded.truncate(MAX_SIDECAR as usize);
        fs::write(&path, &padded).unwrap();
        assert_eq!(read_identity(&path), Some(identity(None, None, Some(7))));
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        assert_eq!(read_identity(&path), None);
    }
}
