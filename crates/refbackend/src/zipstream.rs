//! A minimal streaming ZIP writer (APPNOTE 6.3.10) whose memory does not
//! depend on the number or size of the entries.
//!
//! NOTE: written instead of using `zip::ZipWriter` because that keeps every
//! entry's metadata in memory until the end (a few hundred bytes each: about
//! 3 MB for Globex's 10,000 attachment files, 1.4x Acme's whole peak) and
//! builds a fresh compressor per entry. Here the central directory is spilled
//! to an unlinked scratch file as entries are written and copied to the end
//! of the archive at [`ZipStream::finish`], and one deflate state (level 6,
//! zlib-rs) is reset between entries.
//!
//! Entries use data descriptors (general purpose bit 3), so the output only
//! needs `Write` (no seeking). Entries started with `zip64 = true` carry
//! ZIP64 sizes from the start (section 4.5.3), so they may exceed 4 GiB;
//! the ZIP64 end records are written when the archive needs them.

use crc32fast::Hasher;
use flate2::{Compress, Compression, FlushCompress, Status};
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

const LOCAL_SIG: u32 = 0x0403_4b50;
const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const LOCATOR64_SIG: u32 = 0x0706_4b50;
const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_UTF8: u16 = 1 << 11;
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATE: u16 = 8;
const MADE_BY_UNIX: u16 = (3 << 8) | 45;
const U32_MAX: u64 = 0xFFFF_FFFF;

/// The deflate level of every file entry (the same as `zip -6`).
pub const DEFLATE_LEVEL: u32 = 6;

struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(b)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct Open {
    name: String,
    offset: u64,
    zip64: bool,
    crc: Hasher,
    size: u64,
    compressed: u64,
}

/// The writer. Call [`ZipStream::start_file`], [`Write::write_all`] …,
/// then the next `start_file`, and finally [`ZipStream::finish`].
pub struct ZipStream<W: Write> {
    out: Counting<W>,
    central: BufWriter<File>,
    central_len: u64,
    entries: u64,
    deflate: Compress,
    buf: Vec<u8>,
    open: Option<Open>,
    dos_time: u16,
    dos_date: u16,
}

fn le16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn le32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn le64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// An anonymous scratch file in `dir` (unlinked right away on Unix).
fn scratch(dir: &Path) -> io::Result<File> {
    let path = dir.join(format!(".zip-central-{}", uuid::Uuid::new_v4()));
    let f = super::private::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    // NOTE: on Unix the open handle keeps the data; elsewhere the file stays
    // until the process cleans its temp dir. Either way nothing leaks into
    // the archive's directory listing.
    let _ = std::fs::remove_file(&path);
    Ok(f)
}

impl<W: Write> ZipStream<W> {
    /// A writer into `out`, keeping its central directory in a scratch file
    /// under `scratch_dir`; every entry is stamped with `unix_time` (UTC).
    pub fn new(out: W, scratch_dir: &Path, unix_time: i64) -> io::Result<Self> {
        let (dos_time, dos_date) = dos_datetime(unix_time);
        Ok(ZipStream {
            out: Counting { inner: out, n: 0 },
            central: BufWriter::with_capacity(64 * 1024, scratch(scratch_dir)?),
            central_len: 0,
            entries: 0,
            deflate: Compress::new(Compression::new(DEFLATE_LEVEL), false),
            buf: vec![0u8; 256 * 1024],
            open: None,
            dos_time,
            dos_date,
        })
    }

    /// Starts a deflated file entry. `zip64`: the entry may exceed 4 GiB.
    pub fn start_file(&mut self, name: &str, zip64: bool) -> io::Result<()> {
        self.finish_file()?;
        let offset = self.out.n;
        let mut h = Vec::with_capacity(64 + name.len());
        le32(&mut h, LOCAL_SIG);
        le16(&mut h, if zip64 { 45 } else { 20 });
        le16(&mut h, FLAG_DESCRIPTOR | FLAG_UTF8);
        le16(&mut h, METHOD_DEFLATE);
        le16(&mut h, self.dos_time);
        le16(&mut h, self.dos_date);
        le32(&mut h, 0); // crc: in the data descriptor
        if zip64 {
            le32(&mut h, U32_MAX as u32);
            le32(&mut h, U32_MAX as u32);
        } else {
            le32(&mut h, 0);
            le32(&mut h, 0);
        }
        le16(&mut h, name.len() as u16);
        le16(&mut h, if zip64 { 20 } else { 0 });
        h.extend_from_slice(name.as_bytes());
        if zip64 {
            le16(&mut h, 0x0001);
            le16(&mut h, 16);
            le64(&mut h, 0);
            le64(&mut h, 0);
        }
        self.out.write_all(&h)?;
        self.deflate.reset();
        self.open = Some(Open {
            name: name.to_string(),
            offset,
            zip64,
            crc: Hasher::new(),
            size: 0,
            compressed: 0,
        });
        Ok(())
    }

    /// Adds a directory entry (`name` ends with '/').
    pub fn add_directory(&mut self, name: &str) -> io::Result<()> {
        self.finish_file()?;
        let offset = self.out.n;
        let mut h = Vec::with_capacity(32 + name.len());
        le32(&mut h, LOCAL_SIG);
        le16(&mut h, 20);
        le16(&mut h, FLAG_UTF8);
        le16(&mut h, METHOD_STORED);
        le16(&mut h, self.dos_time);
        le16(&mut h, self.dos_date);
        le32(&mut h, 0);
        le32(&mut h, 0);
        le32(&mut h, 0);
        le16(&mut h, name.len() as u16);
        le16(&mut h, 0);
        h.extend_from_slice(name.as_bytes());
        self.out.write_all(&h)?;
        self.central_entry(name, FLAG_UTF8, METHOD_STORED, 0, 0, 0, offset, false, true)
    }

    fn deflate_into_out(&mut self, mut input: &[u8], flush: FlushCompress) -> io::Result<()> {
        loop {
            let (in0, out0) = (self.deflate.total_in(), self.deflate.total_out());
            let status = self
                .deflate
                .compress(input, &mut self.buf, flush)
                .map_err(io::Error::other)?;
            let used = (self.deflate.total_in() - in0) as usize;
            let produced = (self.deflate.total_out() - out0) as usize;
            input = &input[used..];
            if produced > 0 {
                self.out.write_all(&self.buf[..produced])?;
                if let Some(o) = self.open.as_mut() {
                    o.compressed += produced as u64;
                }
            }
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                _ => input.is_empty() && produced < self.buf.len(),
            };
            if done {
                return Ok(());
            }
        }
    }

    fn finish_file(&mut self) -> io::Result<()> {
        if self.open.is_none() {
            return Ok(());
        }
        self.deflate_into_out(&[], FlushCompress::Finish)?;
        let o = self.open.take().expect("checked");
        let crc = o.crc.finalize();
        let mut d = Vec::with_capacity(24);
        le32(&mut d, DESCRIPTOR_SIG);
        le32(&mut d, crc);
        if o.zip64 {
            le64(&mut d, o.compressed);
            le64(&mut d, o.size);
        } else {
            if o.compressed > U32_MAX || o.size > U32_MAX {
                return Err(io::Error::other(format!(
                    "{} exceeds 4 GiB but was not started as a ZIP64 entry",
                    o.name
                )));
            }
            le32(&mut d, o.compressed as u32);
            le32(&mut d, o.size as u32);
        }
        self.out.write_all(&d)?;
        self.central_entry(
            &o.name,
            FLAG_DESCRIPTOR | FLAG_UTF8,
            METHOD_DEFLATE,
            crc,
            o.compressed,
            o.size,
            o.offset,
            o.zip64,
            false,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn central_entry(
        &mut self,
        name: &str,
        flags: u16,
        method: u16,
        crc: u32,
        compressed: u64,
        size: u64,
        offset: u64,
        zip64_sizes: bool,
        dir: bool,
    ) -> io::Result<()> {
        let big_sizes = zip64_sizes || compressed > U32_MAX || size > U32_MAX;
        let big_offset = offset >= U32_MAX;
        let mut extra = Vec::new();
        if big_sizes || big_offset {
            let mut body = Vec::new();
            if big_sizes {
                le64(&mut body, size);
                le64(&mut body, compressed);
            }
            if big_offset {
                le64(&mut body, offset);
            }
            le16(&mut extra, 0x0001);
            le16(&mut extra, body.len() as u16);
            extra.extend_from_slice(&body);
        }
        let needs64 = big_sizes || big_offset;
        let mut c = Vec::with_capacity(46 + name.len() + extra.len());
        le32(&mut c, CENTRAL_SIG);
        le16(&mut c, MADE_BY_UNIX);
        le16(&mut c, if needs64 { 45 } else { 20 });
        le16(&mut c, flags);
        le16(&mut c, method);
        le16(&mut c, self.dos_time);
        le16(&mut c, self.dos_date);
        le32(&mut c, crc);
        le32(
            &mut c,
            if big_sizes {
                U32_MAX as u32
            } else {
                compressed as u32
            },
        );
        le32(
            &mut c,
            if big_sizes {
                U32_MAX as u32
            } else {
                size as u32
            },
        );
        le16(&mut c, name.len() as u16);
        le16(&mut c, extra.len() as u16);
        le16(&mut c, 0); // comment
        le16(&mut c, 0); // disk
        le16(&mut c, 0); // internal attributes
        let mode: u32 = if dir { 0o040_755 } else { 0o100_644 };
        le32(&mut c, (mode << 16) | if dir { 0x10 } else { 0 });
        le32(
            &mut c,
            if big_offset {
                U32_MAX as u32
            } else {
                offset as u32
            },
        );
        c.extend_from_slice(name.as_bytes());
        c.extend_from_slice(&extra);
        self.central.write_all(&c)?;
        self.central_len += c.len() as u64;
        self.entries += 1;
        Ok(())
    }

    /// Ends the last entry, appends the central directory and the end
    /// records, and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.finish_file()?;
        let cd_offset = self.out.n;
        let mut f = self.central.into_inner().map_err(|e| e.into_error())?;
        f.seek(SeekFrom::Start(0))?;
        let copied = io::copy(&mut f, &mut self.out)?;
        debug_assert_eq!(copied, self.central_len);
        let cd_len = self.central_len;
        let needs64 = self.entries >= 0xFFFF || cd_offset >= U32_MAX || cd_len >= U32_MAX;
        let mut e = Vec::with_capacity(98);
        if needs64 {
            let eocd64_offset = self.out.n;
            le32(&mut e, EOCD64_SIG);
            le64(&mut e, 44);
            le16(&mut e, MADE_BY_UNIX);
            le16(&mut e, 45);
            le32(&mut e, 0);
            le32(&mut e, 0);
            le64(&mut e, self.entries);
            le64(&mut e, self.entries);
            le64(&mut e, cd_len);
            le64(&mut e, cd_offset);
            le32(&mut e, LOCATOR64_SIG);
            le32(&mut e, 0);
            le64(&mut e, eocd64_offset);
            le32(&mut e, 1);
        }
        le32(&mut e, EOCD_SIG);
        le16(&mut e, 0);
        le16(&mut e, 0);
        let n16 = self.entries.min(0xFFFF) as u16;
        le16(&mut e, n16);
        le16(&mut e, n16);
        le32(&mut e, cd_len.min(U32_MAX) as u32);
        le32(&mut e, cd_offset.min(U32_MAX) as u32);
        le16(&mut e, 0);
        self.out.write_all(&e)?;
        self.out.flush()?;
        Ok(self.out.inner)
    }
}

impl<W: Write> Write for ZipStream<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let Some(o) = self.open.as_mut() else {
            return Err(io::Error::other("no ZIP entry is open"));
        };
        o.crc.update(data);
        o.size += data.len() as u64;
        self.deflate_into_out(data, FlushCompress::None)?;
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// MS-DOS date and time (UTC; 2-second resolution; clamped to 1980..=2107).
fn dos_datetime(unix: i64) -> (u16, u16) {
    use chrono::{Datelike, Timelike};
    let dt = chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default();
    let year = dt.year().clamp(1980, 2107) as u16;
    let time = ((dt.hour() as u16) << 11) | ((dt.minute() as u16) << 5) | (dt.second() as u16 / 2);
    let date = ((year - 1980) << 9) | ((dt.month() as u16) << 5) | dt.day() as u16;
    (time, date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Read};

    #[test]
    fn readable_by_the_zip_crate() {
        let dir = tempfile::tempdir().unwrap();
        let mut z = ZipStream::new(Vec::new(), dir.path(), 1_778_077_921).unwrap();
        z.start_file("a.json", true).unwrap();
        let big: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        z.write_all(&big).unwrap();
        z.write_all(b"tail").unwrap();
        z.add_directory("attachments/").unwrap();
        z.start_file("attachments/x/y.txt", false).unwrap();
        z.write_all(b"hello").unwrap();
        z.start_file("empty.json", true).unwrap();
        let bytes = z.finish().unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "scratch left behind"
        );

        let mut a = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(a.len(), 4);
        let mut s = Vec::new();
        a.by_name("a.json").unwrap().read_to_end(&mut s).unwrap();
        assert_eq!(s.len(), big.len() + 4);
        assert_eq!(&s[..big.len()], &big[..]);
        let mut t = String::new();
        a.by_name("attachments/x/y.txt")
            .unwrap()
            .read_to_string(&mut t)
            .unwrap();
        assert_eq!(t, "hello");
        assert!(a.by_name("attachments/").unwrap().is_dir());
        let f = a.by_name("a.json").unwrap();
        let m = f.last_modified().unwrap();
        assert_eq!(
            (m.year(), m.month(), m.day(), m.hour(), m.minute()),
            (2026, 5, 6, 14, 32)
        );
    }

    #[test]
    fn many_entries_use_zip64_end_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut z = ZipStream::new(Vec::new(), dir.path(), 0).unwrap();
        for i in 0..70_000u32 {
            z.start_file(&format!("f{i}"), false).unwrap();
            z.write_all(&i.to_le_bytes()).unwrap();
        }
        let bytes = z.finish().unwrap();
        let mut a = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(a.len(), 70_000);
        let mut b = Vec::new();
        a.by_name("f69999").unwrap().read_to_end(&mut b).unwrap();
        assert_eq!(b, 69_999u32.to_le_bytes());
    }
}
