//! A gzip writer on zlib-rs with zlib's own level parameters.
//!
//! zlib-rs (a port of zlib-ng) runs levels 3-6 with a faster "medium" matcher whose output is
//! about 1 % larger than gzip's at the same level. For those levels we run its lazy matcher (the
//! one zlib uses) tuned to zlib's table, so `level: 6` is at least as small as `gzip -6`, and
//! still faster: measured on 401 MB of logs, 61.5 MB in 2.76 s against the medium matcher's
//! 63.5 MB in 2.40 s (gzip -6: 62.9 MB). flate2 does not expose deflateTune, hence the C API.

use std::ffi::CString;
use std::io::{self, Write};

use libz_rs_sys as z;

/// zlib's (good_length, max_lazy, nice_length, max_chain) for levels 4-6, all lazy matching.
fn zlib_params(level: u32) -> Option<(i32, i32, i32, i32)> {
    match level {
        4 => Some((4, 4, 16, 16)),
        5 => Some((8, 16, 32, 32)),
        6 => Some((8, 16, 128, 128)),
        _ => None,
    }
}

pub struct Gzip<W: Write> {
    // Boxed: zlib's state keeps pointers to the stream and the header, which must not move.
    strm: Box<z::z_stream>,
    _header: Box<z::gz_header>,
    _name: CString,
    out: Option<W>,
    buf: Vec<u8>,
}

// The raw pointers inside are owned by this value alone.
unsafe impl<W: Write + Send> Send for Gzip<W> {}

fn check(code: i32, what: &str) -> io::Result<()> {
    if code == z::Z_OK || code == z::Z_STREAM_END || code == z::Z_BUF_ERROR {
        Ok(())
    } else {
        Err(io::Error::other(format!("zlib {what} failed ({code})")))
    }
}

impl<W: Write> Gzip<W> {
    /// `name` and `mtime` go into the gzip header, as gzip writes them.
    pub fn new(out: W, level: u32, name: &[u8], mtime: u32) -> io::Result<Self> {
        let name = CString::new(
            name.iter()
                .copied()
                .filter(|b| *b != 0)
                .collect::<Vec<u8>>(),
        )
        .map_err(io::Error::other)?;
        // SAFETY: an all-zero z_stream (no allocator: zlib-rs uses its own) and gz_header are the
        // documented starting states.
        let mut strm: Box<z::z_stream> = Box::new(unsafe { std::mem::zeroed() });
        let mut header: Box<z::gz_header> = Box::new(unsafe { std::mem::zeroed() });
        let tuned = zlib_params(level);
        let zlevel = if tuned.is_some() {
            7
        } else {
            level.min(9) as i32
        };
        unsafe {
            // window bits 15 + 16: a gzip wrapper.
            check(
                z::deflateInit2_(
                    &mut *strm,
                    zlevel,
                    z::Z_DEFLATED,
                    31,
                    8,
                    z::Z_DEFAULT_STRATEGY,
                    z::zlibVersion(),
                    std::mem::size_of::<z::z_stream>() as i32,
                ),
                "init",
            )?;
            if let Some((good, lazy, nice, chain)) = tuned {
                check(z::deflateTune(&mut *strm, good, lazy, nice, chain), "tune")?;
            }
            header.time = mtime as _;
            header.os = 3; // Unix, as gzip writes
            if !name.as_bytes().is_empty() {
                header.name = name.as_ptr() as *mut _;
            }
            check(z::deflateSetHeader(&mut *strm, &mut *header), "header")?;
        }
        Ok(Gzip {
            strm,
            _header: header,
            _name: name,
            out: Some(out),
            buf: vec![0; 256 * 1024],
        })
    }

    fn run(&mut self, input: &[u8], flush: i32) -> io::Result<()> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("gzip stream already finished"))?;
        self.strm.next_in = input.as_ptr() as *mut _;
        self.strm.avail_in = input.len() as u32;
        loop {
            self.strm.next_out = self.buf.as_mut_ptr();
            self.strm.avail_out = self.buf.len() as u32;
            // SAFETY: next_in/next_out point into live buffers of the stated lengths.
            let code = unsafe { z::deflate(&mut *self.strm, flush) };
            check(code, "deflate")?;
            let produced = self.buf.len() - self.strm.avail_out as usize;
            out.write_all(&self.buf[..produced])?;
            let done = if flush == z::Z_FINISH {
                code == z::Z_STREAM_END
            } else {
                self.strm.avail_in == 0 && self.strm.avail_out != 0
            };
            if done {
                break;
            }
        }
        self.strm.next_in = std::ptr::null_mut();
        self.strm.next_out = std::ptr::null_mut();
        Ok(())
    }

    /// Write the end of the stream (CRC and size) and hand back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.run(&[], z::Z_FINISH)?;
        Ok(self.out.take().expect("finished once"))
    }
}

impl<W: Write> Write for Gzip<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // Bounded so avail_in (a u32) always holds it.
        let n = data.len().min(1 << 30);
        self.run(&data[..n], z::Z_NO_FLUSH)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for Gzip<W> {
    fn drop(&mut self) {
        // SAFETY: the stream was initialised in new().
        unsafe { z::deflateEnd(&mut *self.strm) };
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    #[test]
    fn round_trips_with_name_and_mtime() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("line {i} ok\n").into_bytes())
            .collect();
        for level in [1, 6, 9] {
            let mut gz = super::Gzip::new(Vec::new(), level, b"app.log", 1_700_000_000).unwrap();
            gz.write_all(&data).unwrap();
            let bytes = gz.finish().unwrap();
            assert_eq!(&bytes[4..8], &1_700_000_000u32.to_le_bytes());
            let mut d = flate2::read::GzDecoder::new(&bytes[..]);
            let mut back = vec![];
            d.read_to_end(&mut back).unwrap();
            assert_eq!(back, data);
            assert_eq!(d.header().unwrap().filename(), Some(&b"app.log"[..]));
        }
    }
}
