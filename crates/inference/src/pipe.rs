//! Frames over a worker's pipes with a deadline, from the calling thread.
//!
//! Both pipe ends are non-blocking and every wait is a `poll` bounded by the deadline, so a
//! worker that stops reading or never answers cannot block the parent, and a request costs
//! no hand-over to another thread (which on a single-row request is most of the overhead).

use crate::protocol::{self, FrameError, Kind, MAX_FRAME};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum PipeError {
    #[error("no answer before the deadline")]
    Timeout,
    #[error("the worker closed the pipe")]
    Closed,
    #[error("frame of {0} bytes is over the limit of {MAX_FRAME}")]
    TooLarge(usize),
    #[error("unknown frame kind {0}")]
    Kind(u8),
    #[error("pipe: {0}")]
    Io(#[from] io::Error),
}

/// The parent's ends of a worker's stdin and stdout.
pub struct Pipe {
    to: OwnedFd,
    from: OwnedFd,
    buf: Vec<u8>,
}

impl From<FrameError> for PipeError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::TooLarge(n) => PipeError::TooLarge(n),
            FrameError::Kind(k) => PipeError::Kind(k),
            FrameError::Io(e) => PipeError::Io(e),
            FrameError::Closed | FrameError::Payload(_) => PipeError::Closed,
        }
    }
}

fn nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits until `fd` is ready for `events` or the deadline passes.
fn wait(fd: &OwnedFd, events: libc::c_short, deadline: Instant) -> Result<(), PipeError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(PipeError::Timeout);
        }
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        if n > 0 {
            return Ok(());
        }
    }
}

impl Pipe {
    pub fn new(to: impl Into<OwnedFd>, from: impl Into<OwnedFd>) -> io::Result<Pipe> {
        let (to, from) = (to.into(), from.into());
        nonblocking(&to)?;
        nonblocking(&from)?;
        Ok(Pipe {
            to,
            from,
            buf: Vec::with_capacity(64 << 10),
        })
    }

    /// Writes a whole encoded frame.
    pub fn send(&mut self, mut bytes: &[u8], deadline: Instant) -> Result<(), PipeError> {
        while !bytes.is_empty() {
            // SAFETY: writing from a valid slice to a descriptor we own.
            let n = unsafe { libc::write(self.to.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
            if n >= 0 {
                bytes = &bytes[n as usize..];
                continue;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => wait(&self.to, libc::POLLOUT, deadline)?,
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::BrokenPipe => return Err(PipeError::Closed),
                _ => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Reads the next frame.
    pub fn receive(&mut self, deadline: Instant) -> Result<(Kind, Vec<u8>), PipeError> {
        loop {
            if let Some(prefix) = self.buf.first_chunk::<4>() {
                protocol::payload_len(*prefix).map_err(PipeError::from)?;
            }
            if let Some(header) = self.buf.first_chunk::<5>() {
                let (kind, len) = protocol::parse_header(*header).map_err(PipeError::from)?;
                if self.buf.len() >= 5 + len {
                    let payload = self.buf[5..5 + len].to_vec();
                    self.buf.drain(..5 + len);
                    return Ok((kind, payload));
                }
                self.buf.reserve(5 + len - self.buf.len());
            }
            if self.buf.capacity() - self.buf.len() < 16 << 10 {
                self.buf.reserve(64 << 10);
            }
            let spare = self.buf.capacity() - self.buf.len();
            // SAFETY: reading into the vector's spare capacity, then extending its length by
            // exactly the bytes read.
            let n = unsafe {
                libc::read(
                    self.from.as_raw_fd(),
                    self.buf.as_mut_ptr().add(self.buf.len()).cast(),
                    spare,
                )
            };
            if n > 0 {
                unsafe { self.buf.set_len(self.buf.len() + n as usize) };
                continue;
            }
            if n == 0 {
                return Err(PipeError::Closed);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => wait(&self.from, libc::POLLIN, deadline)?,
                io::ErrorKind::Interrupted => {}
                _ => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::write_frame;
    use std::time::Duration;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two descriptors that we then own.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        use std::os::fd::FromRawFd;
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    #[test]
    fn frames_cross_in_pieces_and_silence_times_out() {
        // One pipe looped back: what we send, we receive.
        let (r, w) = pipe();
        let mut p = Pipe::new(w, r).unwrap();
        let mut frame = Vec::new();
        write_frame(&mut frame, Kind::Scored, &vec![7u8; 200_000]).unwrap();
        write_frame(&mut frame, Kind::Failed, b"x").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        // 200 kB does not fit a pipe buffer: send pieces that do, and after each let the
        // receiver drain what arrived (it keeps partial frames and reports the timeout).
        let mut reader = Vec::new();
        for chunk in frame.chunks(50_000) {
            p.send(chunk, deadline).unwrap();
            loop {
                match p.receive(Instant::now() + Duration::from_millis(20)) {
                    Ok(f) => reader.push(f),
                    Err(PipeError::Timeout) => break,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        assert_eq!(reader.len(), 2);
        assert_eq!(reader[0], (Kind::Scored, vec![7u8; 200_000]));
        assert_eq!(reader[1], (Kind::Failed, b"x".to_vec()));
        let t = Instant::now();
        assert!(matches!(
            p.receive(Instant::now() + Duration::from_millis(100)),
            Err(PipeError::Timeout)
        ));
        assert!(t.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn a_closed_pipe_and_a_bad_length_are_errors() {
        let (r, w) = pipe();
        let (_r2, w2) = pipe();
        let mut p = Pipe::new(w2, r).unwrap();
        // SAFETY: writing a bad length prefix to our own pipe.
        let bad = ((MAX_FRAME + 1) as u32).to_le_bytes();
        assert_eq!(
            unsafe { libc::write(w.as_raw_fd(), [bad[0], bad[1], bad[2], bad[3], 5].as_ptr().cast(), 5) },
            5
        );
        let deadline = Instant::now() + Duration::from_secs(1);
        assert!(matches!(p.receive(deadline), Err(PipeError::TooLarge(_))));
        let (r, w) = pipe();
        drop(w);
        let (_r3, w3) = pipe();
        let mut p = Pipe::new(w3, r).unwrap();
        assert!(matches!(p.receive(deadline), Err(PipeError::Closed)));
    }
}
