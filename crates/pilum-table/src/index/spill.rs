//! Partition assignments spilled to local disk during a bounded-memory
//! index build: encoded entries are buffered per partition up to a byte
//! budget, then written as one run file (partition after partition) in a
//! private directory under the temporary directory (`TMPDIR`); a partition
//! is read back by gathering its slice of every run. Each run file is
//! unlinked as soon as it is created and used through its open handle, so
//! even a killed process leaves no data behind; the (then empty) directory
//! is removed when the spill is dropped.

use crate::error::{Result, TableError};
use pilum_index::{Partition, Payload};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Encoded entries of a build, by partition, in memory and in run files.
pub(crate) struct Spill {
    dir: PathBuf,
    /// Payload bytes per entry (codes, or f32 values as little-endian).
    width: usize,
    /// Whether payloads are f32 vectors (else codes).
    vectors: bool,
    budget: usize,
    buffered_bytes: usize,
    buffers: Vec<(Vec<u64>, Vec<u8>)>,
    /// Per run: its open (unlinked) file and each partition's (offset,
    /// entries) in it.
    runs: Vec<(File, Vec<(u64, u64)>)>,
}

impl Spill {
    /// A spill for `partitions` partitions of entries `width` payload bytes
    /// wide, flushing to disk whenever `budget` bytes are buffered.
    pub fn new(partitions: usize, width: usize, vectors: bool, budget: usize) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("pilum-index-build-{}", crate::paths::random_id()));
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        Ok(Self {
            dir,
            width,
            vectors,
            budget: budget.max(1),
            buffered_bytes: 0,
            buffers: vec![(Vec::new(), Vec::new()); partitions],
            runs: Vec::new(),
        })
    }

    /// Adds a batch of encoded entries: partition, id and payload of each.
    pub fn add(&mut self, assignment: &[u32], ids: &[u64], payload: &Payload) -> Result<()> {
        for (i, (&p, &id)) in assignment.iter().zip(ids).enumerate() {
            let buffer = self.buffers.get_mut(p as usize).ok_or_else(|| TableError::Internal {
                what: format!("partition {p} out of range in an index build"),
            })?;
            buffer.0.push(id);
            match payload {
                Payload::Codes(codes) => {
                    let code = codes.get(i * self.width..(i + 1) * self.width).ok_or_else(short)?;
                    buffer.1.extend_from_slice(code);
                }
                Payload::FastScan(_) | Payload::Graph(_) => {
                    return Err(TableError::Internal {
                        what: "a build spills row-major codes, not interleaved ones".into(),
                    });
                }
                Payload::Vectors(values) => {
                    let dim = self.width / 4;
                    let v = values.get(i * dim..(i + 1) * dim).ok_or_else(short)?;
                    buffer.1.extend(v.iter().flat_map(|x| x.to_le_bytes()));
                }
            }
            self.buffered_bytes += 8 + self.width;
        }
        if self.buffered_bytes >= self.budget {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered entries as a new run.
    fn flush(&mut self) -> Result<()> {
        let path = self.dir.join(format!("run-{}.bin", self.runs.len()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        // Unlinked at once: the open handle keeps it readable.
        std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        let mut out = BufWriter::new(file);
        let mut extents = Vec::with_capacity(self.buffers.len());
        let mut offset = 0u64;
        for (ids, payload) in &mut self.buffers {
            extents.push((offset, ids.len() as u64));
            for id in ids.iter() {
                out.write_all(&id.to_le_bytes()).map_err(|e| io_error(&path, e))?;
            }
            out.write_all(payload).map_err(|e| io_error(&path, e))?;
            offset += (ids.len() * (8 + self.width)) as u64;
            *ids = Vec::new();
            *payload = Vec::new();
        }
        let file = out.into_inner().map_err(|e| io_error(&path, e.into_error()))?;
        self.runs.push((file, extents));
        self.buffered_bytes = 0;
        Ok(())
    }

    /// Runs written so far.
    #[cfg(test)]
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Partition `p`'s entries from every run and the buffer, ids ascending
    /// (a row's entries keep their order).
    pub fn partition(&self, p: usize) -> Result<Partition> {
        let mut ids = Vec::new();
        let mut bytes = Vec::new();
        for (run, (file, extents)) in self.runs.iter().enumerate() {
            let Some(&(offset, count)) = extents.get(p) else {
                continue;
            };
            if count == 0 {
                continue;
            }
            let mut raw = vec![0u8; count as usize * (8 + self.width)];
            read_at(file, &mut raw, offset).map_err(|e| io_error(&self.dir.join(format!("run-{run}.bin")), e))?;
            let (id_bytes, payload) = raw.split_at(count as usize * 8);
            ids.extend(
                id_bytes
                    .chunks_exact(8)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))),
            );
            bytes.extend_from_slice(payload);
        }
        if let Some((buffered_ids, buffered)) = self.buffers.get(p) {
            ids.extend_from_slice(buffered_ids);
            bytes.extend_from_slice(buffered);
        }
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i]);
        let width = self.width;
        let mut sorted = Vec::with_capacity(bytes.len());
        for &i in &order {
            sorted.extend_from_slice(&bytes[i * width..(i + 1) * width]);
        }
        let payload = if self.vectors {
            Payload::Vectors(
                sorted
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            )
        } else {
            Payload::Codes(sorted)
        };
        Ok(Partition {
            ids: order.iter().map(|&i| ids[i]).collect(),
            payload,
        })
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads `buf.len()` bytes at `offset` without moving a shared cursor.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

/// Reads `buf.len()` bytes at `offset` through a cloned handle.
#[cfg(not(unix))]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut handle = file.try_clone()?;
    handle.seek(SeekFrom::Start(offset))?;
    handle.read_exact(buf)
}

fn short() -> TableError {
    TableError::Internal {
        what: "an encoded batch is shorter than its entries".into(),
    }
}

fn io_error(path: &std::path::Path, source: std::io::Error) -> TableError {
    TableError::LocalIo {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn partitions_read_back_in_id_order_across_runs() {
        let mut spill = Spill::new(3, 2, false, 40).unwrap();
        let dir = spill.dir.clone();
        // 10 bytes an entry: a run every 4 entries.
        spill
            .add(
                &[0, 2, 0, 1],
                &[9, 4, 3, 7],
                &Payload::Codes(vec![90, 91, 40, 41, 30, 31, 70, 71]),
            )
            .unwrap();
        spill
            .add(&[0, 0], &[5, 3], &Payload::Codes(vec![50, 51, 32, 33]))
            .unwrap();
        assert_eq!(spill.runs(), 1);
        let zero = spill.partition(0).unwrap();
        assert_eq!(zero.ids, vec![3, 3, 5, 9]);
        assert_eq!(zero.payload, Payload::Codes(vec![30, 31, 32, 33, 50, 51, 90, 91]));
        assert_eq!(spill.partition(2).unwrap().ids, vec![4]);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "run files are unlinked at once"
        );
        drop(spill);
        assert!(!dir.exists(), "the spill directory is removed");
        let mut floats = Spill::new(1, 8, true, 1).unwrap();
        floats
            .add(&[0, 0], &[2, 1], &Payload::Vectors(vec![1.5, -2.0, 0.25, 4.0]))
            .unwrap();
        let part = floats.partition(0).unwrap();
        assert_eq!(
            (part.ids, part.payload),
            (vec![1, 2], Payload::Vectors(vec![0.25, 4.0, 1.5, -2.0]))
        );
    }
}
