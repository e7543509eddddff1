//! The staging pipeline: how an incoming byte stream is hashed and stored at the same time.

use std::path::PathBuf;

use bulwark_oci::{Digest, DigestAlgorithm, DigestHasher};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use object_store::{MultipartUpload, PutPayloadMut, UploadPart};
use tokio::task::{JoinHandle, spawn_blocking};

use crate::Result;
use crate::local::PartFile;

/// Incoming bytes are handed to the stages in batches of this size. Smaller batches cost
/// more CPU per byte (512 KiB took a fifth more than 2 MiB); larger ones hold more memory.
/// An upload holds at most eight batches: the one being received, up to [`MAX_QUEUED`]
/// queued and as much again in a stage's run (the two stages share the same bytes).
pub(crate) const BATCH: usize = 2 * 1024 * 1024;
/// Chunks smaller than this are copied together before they join a batch, so that a client
/// sending tiny chunks cannot make a batch hold millions of handles: a batch holds a few
/// dozen at most.
const SMALL_CHUNK: usize = 64 * 1024;
/// Parts are written to the object store in pieces of this size; it bounds the memory one
/// upload holds (times [`WRITE_CONCURRENCY`]) whatever the blob size.
const WRITE_CHUNK: usize = 8 * 1024 * 1024;
const WRITE_CONCURRENCY: usize = 2;

/// Hashes and stores a stream of chunks. Chunks are gathered into batches of [`BATCH`] bytes;
/// each batch goes to two [`Stage`]s on the blocking pool, one hashing and (for local parts)
/// one writing, which run side by side and alongside the reception of the next batches.
pub(crate) struct Pipeline {
    hashing: Stage<DigestHasher>,
    /// Small chunks gathered by copying (see [`SMALL_CHUNK`]).
    small: BytesMut,
    batch: Vec<Bytes>,
    batch_len: usize,
    sink: Sink,
}

impl Pipeline {
    pub(crate) fn new(algorithm: DigestAlgorithm, sink: Sink) -> Self {
        Pipeline {
            hashing: Stage::new(DigestHasher::new(algorithm), |hasher, bytes| {
                hasher.update(bytes);
                Ok(())
            }),
            small: BytesMut::new(),
            batch: Vec::new(),
            batch_len: 0,
            sink,
        }
    }

    pub(crate) async fn push(&mut self, chunk: Bytes) -> Result<()> {
        if chunk.len() < SMALL_CHUNK {
            self.small.extend_from_slice(&chunk);
            if self.small.len() >= SMALL_CHUNK {
                self.flush_small().await?;
            }
            return Ok(());
        }
        self.flush_small().await?;
        self.add(chunk).await
    }

    async fn flush_small(&mut self) -> Result<()> {
        if self.small.is_empty() {
            return Ok(());
        }
        let gathered = self.small.split().freeze();
        self.add(gathered).await
    }

    async fn add(&mut self, mut chunk: Bytes) -> Result<()> {
        while !chunk.is_empty() {
            let room = BATCH - self.batch_len;
            let piece = if chunk.len() > room {
                chunk.split_to(room)
            } else {
                std::mem::take(&mut chunk)
            };
            self.batch_len += piece.len();
            self.batch.push(piece);
            if self.batch_len == BATCH {
                self.send_batch().await?;
            }
        }
        Ok(())
    }

    async fn send_batch(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.batch);
        self.batch_len = 0;
        self.hashing.feed(batch.clone()).await?;
        self.sink.write(batch).await
    }

    /// Stores everything and returns the digest of the whole stream.
    pub(crate) async fn finish(mut self) -> Result<Digest> {
        self.flush_small().await?;
        self.send_batch().await?;
        let hasher = self.hashing.finish().await?;
        self.sink.finish().await?;
        Ok(hasher.finish())
    }

    pub(crate) async fn abort(self) {
        self.hashing.abort().await;
        self.sink.abort().await;
    }
}

/// Bytes a [`Stage`] lets wait before the caller has to wait for it: a short stall of the
/// disk or of the hashing thread is absorbed without holding up reception, while the memory
/// of one upload stays bounded (the two stages share the same bytes).
const MAX_QUEUED: usize = 3 * BATCH;

/// A sequential step over a stream of bytes (hashing, writing a file) run on the blocking
/// pool. Each run takes everything queued since the last one started, so the step never
/// waits for the caller, and the caller only waits for it when [`MAX_QUEUED`] bytes are
/// waiting. No thread is held while no bytes arrive.
pub(crate) struct Stage<S> {
    /// Present while no run is in progress.
    idle: Option<S>,
    running: Option<JoinHandle<std::io::Result<S>>>,
    queued: Vec<Bytes>,
    queued_len: usize,
    work: fn(&mut S, &[u8]) -> std::io::Result<()>,
}

impl<S: Send + 'static> Stage<S> {
    fn new(state: S, work: fn(&mut S, &[u8]) -> std::io::Result<()>) -> Self {
        Stage {
            idle: Some(state),
            running: None,
            queued: Vec::new(),
            queued_len: 0,
            work,
        }
    }

    async fn feed(&mut self, batch: Vec<Bytes>) -> Result<()> {
        self.queued_len += batch.iter().map(Bytes::len).sum::<usize>();
        self.queued.extend(batch);
        let busy = self
            .running
            .as_ref()
            .is_some_and(|running| !running.is_finished());
        if busy && self.queued_len < MAX_QUEUED {
            return Ok(());
        }
        self.start().await
    }

    /// Waits for the run in progress, if any, and starts one over everything queued.
    async fn start(&mut self) -> Result<()> {
        let mut state = self.settle().await?;
        let chunks = std::mem::take(&mut self.queued);
        self.queued_len = 0;
        let work = self.work;
        self.running = Some(spawn_blocking(move || {
            for chunk in &chunks {
                work(&mut state, chunk)?;
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
        if !self.queued.is_empty() {
            self.start().await?;
        }
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
    /// A part file of our own.
    Local(Stage<PartFile>),
    Store(PartWriter),
}

impl Sink {
    pub(crate) async fn local(path: PathBuf, direct_io: bool) -> Result<Self> {
        let part = spawn_blocking(move || PartFile::create(&path, direct_io, BATCH)).await??;
        Ok(Sink::Local(Stage::new(part, PartFile::append)))
    }

    async fn write(&mut self, batch: Vec<Bytes>) -> Result<()> {
        match self {
            Sink::Local(stage) => stage.feed(batch).await,
            Sink::Store(writer) => {
                for chunk in batch {
                    writer.write(chunk).await?;
                }
                Ok(())
            }
        }
    }

    async fn finish(self) -> Result<()> {
        match self {
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
            // The caller removes the file.
            Sink::Local(stage) => stage.abort().await,
            Sink::Store(writer) => {
                if let Err(e) = writer.abort().await {
                    tracing::warn!(error = %e, "aborting a failed part left data behind");
                }
            }
        }
    }
}

/// Streams chunks into a multipart upload without copying them: chunks are gathered (by
/// reference) into parts of [`WRITE_CHUNK`] bytes, at most [`WRITE_CONCURRENCY`] parts in
/// flight while the caller keeps reading and hashing the next ones.
pub(crate) struct PartWriter {
    upload: Box<dyn MultipartUpload>,
    pending: PutPayloadMut,
    in_flight: FuturesUnordered<UploadPart>,
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
                done?;
            }
        }
        let payload = std::mem::take(&mut self.pending).freeze();
        self.in_flight.push(self.upload.put_part(payload));
        self.parts_started += 1;
        Ok(())
    }

    async fn finish(mut self) -> Result<()> {
        // An upload needs at least one part, even an empty one.
        if self.pending.content_length() > 0 || self.parts_started == 0 {
            self.send_pending().await?;
        }
        while let Some(done) = self.in_flight.next().await {
            done?;
        }
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
