//! The staging pipeline: how an incoming byte stream is hashed and stored at the same time.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use bulwark_oci::DigestHasher;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use object_store::{MultipartUpload, PutPayloadMut};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, spawn_blocking};

use crate::local::{AlignedBuf, PartFile};
use crate::{BlobStoreError, Result};

/// Incoming bytes are copied into buffers of this size, each handed whole to the stages.
/// Smaller batches cost more CPU per byte (512 KiB took a fifth more than 2 MiB); larger
/// ones hold more memory.
pub(crate) const BATCH: usize = 2 * 1024 * 1024;
/// Buffers one upload holds: one being filled while one is queued and one is in each stage's
/// run, so that neither stage waits for reception nor reception for a short stall of one.
const BATCHES: usize = 4;
/// Parts are written to the object store in pieces of this size, at most
/// [`WRITE_CONCURRENCY`] of them in flight while the next one is gathered.
const WRITE_CHUNK: usize = 8 * 1024 * 1024;
const WRITE_CONCURRENCY: usize = 2;

/// Hashes and stores a stream of chunks. Chunks are copied into a few [`BATCH`]-sized
/// buffers that the upload keeps for its whole life; each full buffer goes to two [`Stage`]s
/// on the blocking pool, one hashing and (for local parts) one writing, which run side by
/// side and alongside the reception of the next batches.
///
/// Copying, rather than keeping the request's own chunks, is what keeps memory flat and
/// cheap: the HTTP server reuses its read buffer as soon as a chunk is copied out instead of
/// allocating a new one for every few hundred KiB, and the allocator, not asked to hand out
/// and take back gigabytes, neither keeps freed memory resident nor faults it back in. The
/// buffers are aligned, so a local part is written from them with direct I/O, without the
/// copy the part writer would otherwise make.
pub(crate) struct Pipeline {
    hashing: Stage<DigestHasher>,
    pool: BufferPool,
    /// The buffer being filled, if any.
    filling: Option<AlignedBuf>,
    sink: Sink,
}

impl Pipeline {
    /// Feeds `hasher` (fresh, or going on from an earlier chunk) and `sink`.
    pub(crate) fn new(hasher: DigestHasher, sink: Sink) -> Self {
        Pipeline {
            hashing: Stage::new(hasher, |hasher, bytes| {
                hasher.update(bytes);
                Ok(())
            }),
            pool: BufferPool::new(BATCHES),
            filling: None,
            sink,
        }
    }

    pub(crate) async fn push(&mut self, chunk: Bytes) -> Result<()> {
        let mut bytes = &chunk[..];
        while !bytes.is_empty() {
            let mut buffer = match self.filling.take() {
                Some(buffer) => buffer,
                None => self.take_buffer().await?,
            };
            let (now, later) = bytes.split_at(buffer.room().min(bytes.len()));
            buffer.extend(now)?;
            bytes = later;
            if buffer.room() == 0 {
                self.send(buffer).await?;
            } else {
                self.filling = Some(buffer);
            }
        }
        Ok(())
    }

    /// A free buffer: one the stages are done with, a new one while the upload holds fewer
    /// than its share, or else the next one the stages give back.
    async fn take_buffer(&mut self) -> Result<AlignedBuf> {
        loop {
            if let Some(buffer) = self.pool.take() {
                return Ok(buffer);
            }
            // Every buffer is queued or in a stage's run: make sure each stage is working
            // through its queue, then wait for a buffer to come back.
            self.hashing.run_queued().await?;
            self.sink.run_queued().await?;
            if let Some(buffer) = self.pool.take() {
                return Ok(buffer);
            }
            // `notify_one` keeps a permit when nobody waits yet, so a buffer given back
            // between the check above and this wait is not missed.
            self.pool.returned.notify.notified().await;
        }
    }

    async fn send(&mut self, buffer: AlignedBuf) -> Result<()> {
        let batch = Arc::new(Batch {
            buffer: Some(buffer),
            home: self.pool.returned.clone(),
        });
        self.hashing.feed(batch.clone()).await?;
        self.sink.write(batch).await
    }

    /// Ends the pipeline after its input: on success stores everything and returns the
    /// hasher, fed with the whole stream; on `fed`'s failure lets the stages settle and
    /// passes the error on. Either way the caller discards the part if this fails.
    pub(crate) async fn conclude(self, fed: Result<()>) -> Result<DigestHasher> {
        match fed {
            Ok(()) => self.finish().await,
            Err(e) => {
                self.abort().await;
                Err(e)
            }
        }
    }

    /// Like [`Pipeline::conclude`], but the sink keeps what it received only if `accept`
    /// passes the hasher fed with the whole stream; otherwise its write is aborted (an
    /// object-store upload is never completed) and `accept`'s error returned.
    pub(crate) async fn conclude_if(
        mut self,
        fed: Result<()>,
        accept: impl FnOnce(DigestHasher) -> Result<()>,
    ) -> Result<()> {
        if let Err(e) = fed {
            self.abort().await;
            return Err(e);
        }
        if let Some(buffer) = self.filling.take()
            && !buffer.is_empty()
            && let Err(e) = self.send(buffer).await
        {
            self.abort().await;
            return Err(e);
        }
        let checked = match self.hashing.finish().await {
            Ok(hasher) => accept(hasher),
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            self.sink.abort().await;
            return Err(e);
        }
        self.sink.finish().await
    }

    /// Stores everything and returns the hasher, fed with the whole stream.
    async fn finish(mut self) -> Result<DigestHasher> {
        if let Some(buffer) = self.filling.take()
            && !buffer.is_empty()
        {
            self.send(buffer).await?;
        }
        let hasher = match self.hashing.finish().await {
            Ok(hasher) => hasher,
            Err(e) => {
                self.sink.abort().await;
                return Err(e);
            }
        };
        self.sink.finish().await?;
        Ok(hasher)
    }

    async fn abort(self) {
        self.hashing.abort().await;
        self.sink.abort().await;
    }
}

/// The buffers of one upload: made on demand up to a fixed number, then reused.
struct BufferPool {
    returned: Arc<Returned>,
    made: usize,
    most: usize,
    capacity: usize,
}

/// Where batches put their buffer back when the last stage drops them.
#[derive(Default)]
struct Returned {
    free: Mutex<Vec<AlignedBuf>>,
    notify: Notify,
}

impl BufferPool {
    fn new(most: usize) -> Self {
        Self::of(most, BATCH)
    }

    fn of(most: usize, capacity: usize) -> Self {
        BufferPool {
            returned: Arc::default(),
            made: 0,
            most,
            capacity,
        }
    }

    fn take(&mut self) -> Option<AlignedBuf> {
        let free = self
            .returned
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        free.or_else(|| {
            (self.made < self.most).then(|| {
                self.made += 1;
                AlignedBuf::new(self.capacity)
            })
        })
    }
}

/// A full buffer shared by the stages; its buffer goes back to the upload's pool when the
/// last of them is done with it.
pub(crate) struct Batch {
    buffer: Option<AlignedBuf>,
    home: Arc<Returned>,
}

impl AsRef<[u8]> for Batch {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref().map_or(&[], AlignedBuf::filled)
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if let Some(mut buffer) = self.buffer.take() {
            buffer.clear();
            self.home
                .free
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(buffer);
            self.home.notify.notify_one();
        }
    }
}

/// A sequential step over a stream of batches (hashing, writing a file) run on the blocking
/// pool. Each run takes every batch queued since the last one started, so the step never
/// waits for the caller; the caller waits for it only when the upload's buffers are all
/// taken. No thread is held while no bytes arrive.
pub(crate) struct Stage<S> {
    /// Present while no run is in progress.
    idle: Option<S>,
    running: Option<JoinHandle<std::io::Result<S>>>,
    queued: Vec<Arc<Batch>>,
    work: fn(&mut S, &[u8]) -> std::io::Result<()>,
}

impl<S: Send + 'static> Stage<S> {
    fn new(state: S, work: fn(&mut S, &[u8]) -> std::io::Result<()>) -> Self {
        Stage {
            idle: Some(state),
            running: None,
            queued: Vec::new(),
            work,
        }
    }

    async fn feed(&mut self, batch: Arc<Batch>) -> Result<()> {
        self.queued.push(batch);
        let busy = self
            .running
            .as_ref()
            .is_some_and(|running| !running.is_finished());
        if busy {
            return Ok(());
        }
        self.start().await
    }

    /// Starts a run over what is queued, after the run in progress.
    /// The state, when no run has started (a stage just made).
    fn into_idle(self) -> Option<S> {
        self.idle
    }

    async fn run_queued(&mut self) -> Result<()> {
        if self.queued.is_empty() {
            return Ok(());
        }
        self.start().await
    }

    /// Waits for the run in progress, if any, and starts one over everything queued.
    async fn start(&mut self) -> Result<()> {
        let mut state = self.settle().await?;
        let batches = std::mem::take(&mut self.queued);
        let work = self.work;
        self.running = Some(spawn_blocking(move || {
            for batch in batches {
                work(&mut state, batch.as_ref().as_ref())?;
            }
            Ok(state)
        }));
        Ok(())
    }

    async fn settle(&mut self) -> Result<S> {
        match (self.running.take(), self.idle.take()) {
            (Some(running), _) => Ok(running.await??),
            (None, Some(state)) => Ok(state),
            (None, None) => unreachable!("a stage's state is idle or in its run"),
        }
    }

    /// Runs over what is still queued and returns the state.
    async fn finish(mut self) -> Result<S> {
        self.run_queued().await?;
        self.settle().await
    }

    async fn abort(self) {
        if let Some(running) = self.running {
            running.await.ok();
        }
    }
}

/// Where a pipeline's bytes go.
pub(crate) enum Sink {
    /// A session's file of our own.
    Local(Stage<PartFile>),
    Store(PartWriter),
    /// Sealed segments into another sink ([`crate::sealed`]).
    Sealed(Box<Sealing>),
    /// Sealed segments into a session's file, sealed on the blocking pool beside the
    /// hashing; the unfinished last segment goes to the tail writer.
    SealedLocal(Stage<SealedPart>, crate::sealed::TailWriter),
}

/// A local part that seals what it is given: whole segments straight from the batch into
/// an aligned buffer written with direct I/O, the rest gathered first.
pub(crate) struct SealedPart {
    part: PartFile,
    key: Arc<crate::sealed::DataKey>,
    index: u64,
    partial: Vec<u8>,
    out: AlignedBuf,
}

impl SealedPart {
    fn append(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        let segment = crate::sealed::SEGMENT as usize;
        while !bytes.is_empty() {
            if self.partial.is_empty() && bytes.len() >= segment {
                let (now, later) = bytes.split_at(segment);
                self.key
                    .seal_into(self.index, crate::sealed::Role::Whole, now, &mut self.out)
                    .map_err(std::io::Error::other)?;
                self.index += 1;
                bytes = later;
            } else {
                let take = (segment - self.partial.len()).min(bytes.len());
                self.partial.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if self.partial.len() == segment {
                    self.key
                        .seal_into(
                            self.index,
                            crate::sealed::Role::Whole,
                            &self.partial,
                            &mut self.out,
                        )
                        .map_err(std::io::Error::other)?;
                    self.index += 1;
                    self.partial.clear();
                }
            }
            if self.out.room() < crate::sealed::SEALED_SEGMENT as usize {
                // Whole blocks, so that the direct writes stay aligned.
                let whole = self.out.len() - self.out.len() % crate::local::ALIGN;
                self.part.append(&self.out.filled()[..whole])?;
                self.out.keep_from(whole);
            }
        }
        Ok(())
    }

    /// Writes everything and finishes the file; the end of the plaintext it holds and its
    /// unfinished last segment, sealed. Blocking.
    fn finish(mut self) -> Result<(u64, Option<Bytes>)> {
        self.part.append(self.out.filled())?;
        self.part.finish()?;
        let end = self.index * crate::sealed::SEGMENT + self.partial.len() as u64;
        if self.partial.is_empty() {
            return Ok((end, None));
        }
        let mut sealed = Vec::with_capacity(self.partial.len() + crate::sealed::OVERHEAD as usize);
        self.key.seal(
            self.index,
            crate::sealed::Role::Tail,
            &self.partial,
            &mut sealed,
        )?;
        Ok((end, Some(Bytes::from(sealed))))
    }
}

/// Seals the plaintext it is given into whole segments for the object-store part beneath,
/// and keeps the unfinished last one for the chunk after (see [`crate::sealed`]).
pub(crate) struct Sealing {
    inner: Sink,
    key: Arc<crate::sealed::DataKey>,
    /// The segment being filled.
    index: u64,
    /// Its plaintext so far, shorter than a segment.
    partial: Vec<u8>,
    /// Sealed bytes not yet handed to `inner`.
    out: Vec<u8>,
    tails: crate::sealed::TailWriter,
}

impl Sealing {
    fn absorb(&mut self, mut bytes: &[u8]) -> Result<()> {
        let segment = crate::sealed::SEGMENT as usize;
        while !bytes.is_empty() {
            let (now, later) = bytes.split_at((segment - self.partial.len()).min(bytes.len()));
            self.partial.extend_from_slice(now);
            bytes = later;
            if self.partial.len() == segment {
                self.key.seal(
                    self.index,
                    crate::sealed::Role::Whole,
                    &self.partial,
                    &mut self.out,
                )?;
                self.index += 1;
                self.partial.clear();
            }
        }
        Ok(())
    }

    /// Hands `inner` what is sealed.
    async fn flush(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let sealed = std::mem::take(&mut self.out);
        match &mut self.inner {
            Sink::Store(writer) => writer.write(Bytes::from(sealed)).await,
            // A local part seals on the blocking pool ([`Sink::SealedLocal`]).
            _ => Err(BlobStoreError::Inconsistent(
                "sealing into a sink other than an object-store part".into(),
            )),
        }
    }
}

impl Sink {
    /// The file at `path`, written from `offset` on, holding a share of the session's lock
    /// until its last write is done. The file must already hold the `offset` bytes its
    /// session recorded: a missing or shorter file (its data was committed, or lost) is
    /// refused, never filled up with zeros.
    pub(crate) async fn local(
        path: PathBuf,
        offset: u64,
        direct_io: bool,
        lock: Option<Arc<std::fs::File>>,
    ) -> Result<Self> {
        let part = spawn_blocking(move || {
            let held = match std::fs::metadata(&path) {
                Ok(meta) => meta.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(e.into()),
            };
            if held < offset {
                return Err(BlobStoreError::StagedShort {
                    recorded: offset,
                    held,
                });
            }
            Ok(PartFile::open_at(&path, offset, direct_io)?.holding(lock))
        })
        .await??;
        Ok(Sink::Local(Stage::new(part, PartFile::append)))
    }

    /// Seals what is written into it for `inner`, from segment `index` on, going on from
    /// `partial` (the plaintext of that segment staged before), after `header` when this
    /// is the session's first chunk; its unfinished last segment goes to `tails`.
    pub(crate) fn sealed(
        inner: Sink,
        key: Arc<crate::sealed::DataKey>,
        index: u64,
        partial: Vec<u8>,
        header: Option<[u8; crate::sealed::HEADER as usize]>,
        tails: crate::sealed::TailWriter,
    ) -> Result<Sink> {
        let capacity = BATCH + crate::sealed::SEALED_SEGMENT as usize;
        let inner = match inner {
            Sink::Local(stage) => match stage.into_idle() {
                Some(part) => {
                    let mut out = AlignedBuf::new(capacity + crate::local::ALIGN);
                    if let Some(header) = header {
                        // Fits: the buffer is empty.
                        out.extend(&header).ok();
                    }
                    let sealed = SealedPart {
                        part,
                        key,
                        index,
                        partial,
                        out,
                    };
                    return Ok(Sink::SealedLocal(
                        Stage::new(sealed, SealedPart::append),
                        tails,
                    ));
                }
                None => {
                    return Err(BlobStoreError::Inconsistent(
                        "a part's writer was running before it was given bytes".into(),
                    ));
                }
            },
            other => other,
        };
        let mut out = Vec::with_capacity(capacity);
        if let Some(header) = header {
            out.extend_from_slice(&header);
        }
        Ok(Sink::Sealed(Box::new(Sealing {
            inner,
            key,
            index,
            partial,
            out,
            tails,
        })))
    }

    /// Writes `bytes` and finishes: a part of a few bytes, such as a sealed last segment.
    pub(crate) async fn write_all(mut self, bytes: Bytes) -> Result<()> {
        let mut pool = BufferPool::of(1, bytes.len().max(1));
        let mut buffer = pool
            .take()
            .ok_or_else(|| BlobStoreError::Inconsistent("no buffer for a small part".into()))?;
        buffer.extend(&bytes)?;
        let batch = Arc::new(Batch {
            buffer: Some(buffer),
            home: pool.returned.clone(),
        });
        match self.write(batch).await {
            Ok(()) => self.finish().await,
            Err(e) => {
                self.abort().await;
                Err(e)
            }
        }
    }

    async fn write(&mut self, batch: Arc<Batch>) -> Result<()> {
        match self {
            Sink::Sealed(sealing) => {
                sealing.absorb((*batch).as_ref())?;
                drop(batch);
                if sealing.out.len() >= BATCH {
                    sealing.flush().await?;
                }
                Ok(())
            }
            Sink::Local(stage) => stage.feed(batch).await,
            Sink::SealedLocal(stage, _) => stage.feed(batch).await,
            // Copied: an object store may keep a part's bytes until the whole upload
            // completes (the in-memory one does), which would starve the pool.
            Sink::Store(writer) => {
                writer
                    .write(Bytes::copy_from_slice((*batch).as_ref()))
                    .await
            }
        }
    }

    /// Lets the batches this sink holds go back to the pool.
    async fn run_queued(&mut self) -> Result<()> {
        match self {
            Sink::Local(stage) => stage.run_queued().await,
            Sink::SealedLocal(stage, _) => stage.run_queued().await,
            // Done with each batch as it is given one.
            Sink::Sealed(_) => Ok(()),
            // Holds copies, not the pool's buffers.
            Sink::Store(_) => Ok(()),
        }
    }

    async fn finish(self) -> Result<()> {
        match self {
            Sink::SealedLocal(stage, tails) => {
                let part = stage.finish().await?;
                let (end, tail) = spawn_blocking(move || part.finish()).await??;
                match tail {
                    Some(tail) => tails.store(end, tail).await,
                    None => Ok(()),
                }
            }
            Sink::Sealed(mut sealing) => {
                sealing.flush().await?;
                let end = sealing.index * crate::sealed::SEGMENT + sealing.partial.len() as u64;
                let tail = if sealing.partial.is_empty() {
                    None
                } else {
                    let mut sealed = Vec::with_capacity(
                        sealing.partial.len() + crate::sealed::OVERHEAD as usize,
                    );
                    sealing.key.seal(
                        sealing.index,
                        crate::sealed::Role::Tail,
                        &sealing.partial,
                        &mut sealed,
                    )?;
                    Some(Bytes::from(sealed))
                };
                let Sealing { inner, tails, .. } = *sealing;
                // The data first: a tail names an end the data must hold up to.
                Box::pin(inner.finish()).await?;
                match tail {
                    Some(tail) => tails.store(end, tail).await,
                    None => Ok(()),
                }
            }
            Sink::Local(stage) => {
                let part = stage.finish().await?;
                spawn_blocking(move || part.finish()).await??;
                Ok(())
            }
            Sink::Store(writer) => writer.finish().await,
        }
    }

    async fn abort(self) {
        match self {
            Sink::Sealed(sealing) => Box::pin(sealing.inner.abort()).await,
            Sink::SealedLocal(stage, _) => stage.abort().await,
            // The caller cuts the file back.
            Sink::Local(stage) => stage.abort().await,
            Sink::Store(writer) => {
                if let Err(e) = writer.abort().await {
                    tracing::warn!(error = %e, "aborting a failed part left data behind");
                }
            }
        }
    }
}

/// Streams batches into a multipart upload: batches are gathered (by reference) into parts
/// of [`WRITE_CHUNK`] bytes, each sent by a task of its own, at most [`WRITE_CONCURRENCY`]
/// in flight while the caller keeps reading and hashing the next ones.
pub(crate) struct PartWriter {
    upload: Box<dyn MultipartUpload>,
    pending: PutPayloadMut,
    in_flight: FuturesUnordered<JoinHandle<object_store::Result<()>>>,
    parts_started: usize,
}

impl PartWriter {
    pub(crate) fn new(upload: Box<dyn MultipartUpload>) -> Self {
        PartWriter {
            upload,
            pending: PutPayloadMut::new(),
            in_flight: FuturesUnordered::new(),
            parts_started: 0,
        }
    }

    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.pending.push(chunk);
        if self.pending.content_length() >= WRITE_CHUNK {
            self.send_pending().await?;
        }
        Ok(())
    }

    async fn send_pending(&mut self) -> Result<()> {
        while self.in_flight.len() >= WRITE_CONCURRENCY {
            if let Some(done) = self.in_flight.next().await {
                done??;
            }
        }
        let payload = std::mem::take(&mut self.pending).freeze();
        // Spawned: a part's future (S3's, for one) does nothing until polled, and this
        // writer is only polled when the caller hands it the next batch.
        self.in_flight
            .push(tokio::spawn(self.upload.put_part(payload)));
        self.parts_started += 1;
        Ok(())
    }

    async fn settle_in_flight(&mut self) -> Result<()> {
        while let Some(done) = self.in_flight.next().await {
            done??;
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<()> {
        let completed = self.complete().await;
        if completed.is_err()
            && let Err(e) = self.upload.abort().await
        {
            tracing::warn!(error = %e, "aborting a failed part left data behind");
        }
        completed
    }

    async fn complete(&mut self) -> Result<()> {
        // An upload needs at least one part, even an empty one.
        if self.pending.content_length() > 0 || self.parts_started == 0 {
            self.send_pending().await?;
        }
        self.settle_in_flight().await?;
        self.upload.complete().await?;
        Ok(())
    }

    async fn abort(mut self) -> Result<()> {
        // Let parts in flight settle so that abort removes everything they wrote.
        while self.in_flight.next().await.is_some() {}
        self.upload.abort().await?;
        Ok(())
    }
}
