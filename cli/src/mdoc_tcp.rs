//! `MdocTransport` over TCP for the desktop shell (`citizen documents present --listen`,
//! `citizen verify --connect`): the same frames a BLE link carries (ISO 18013-5 framing, leading
//! `0x01`/`0x00`, at most [`FRAME`] bytes), each sent on the stream behind a 2-byte big-endian
//! length, since TCP has no message boundaries. The holder listens (it shows the QR code first);
//! the verifier connects.

use std::sync::Arc;

use citizen_core::platform::{MdocTransport, MdocTransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

/// Frame size: a typical BLE ATT MTU (185) minus 3, so the TCP link cuts messages as BLE does.
pub const FRAME: i32 = 182;

fn io(e: std::io::Error) -> MdocTransportError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
            MdocTransportError::Disconnected { reason: e.to_string() }
        }
        std::io::ErrorKind::TimedOut => MdocTransportError::Timeout { reason: e.to_string() },
        _ => MdocTransportError::Other { reason: e.to_string() },
    }
}

/// One TCP link carrying framed session messages.
pub struct TcpMdocTransport {
    /// The holder's side before the verifier connected (taken by the first use).
    listener: Mutex<Option<TcpListener>>,
    reader: Mutex<Option<OwnedReadHalf>>,
    writer: Mutex<Option<OwnedWriteHalf>>,
}

impl TcpMdocTransport {
    fn new(listener: Option<TcpListener>, stream: Option<TcpStream>) -> Self {
        let (r, w) = match stream {
            Some(s) => {
                let _ = s.set_nodelay(true);
                let (r, w) = s.into_split();
                (Some(r), Some(w))
            }
            None => (None, None),
        };
        TcpMdocTransport { listener: Mutex::new(listener), reader: Mutex::new(r), writer: Mutex::new(w) }
    }

    /// The holder's side: listen on `addr` (accepts one connection on first use).
    pub async fn listen(addr: &str) -> std::io::Result<(Arc<Self>, std::net::SocketAddr)> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok((Arc::new(Self::new(Some(listener), None)), local))
    }

    /// The verifier's side: connect to the holder at `addr`.
    pub async fn connect(addr: &str) -> std::io::Result<Arc<Self>> {
        Ok(Arc::new(Self::new(None, Some(TcpStream::connect(addr).await?))))
    }

    /// Accept the peer if still listening.
    async fn accept(&self) -> Result<(), MdocTransportError> {
        let mut listener = self.listener.lock().await;
        if let Some(l) = listener.take() {
            let (stream, _) = l.accept().await.map_err(io)?;
            let _ = stream.set_nodelay(true);
            let (r, w) = stream.into_split();
            *self.reader.lock().await = Some(r);
            *self.writer.lock().await = Some(w);
        }
        Ok(())
    }
}

fn closed() -> MdocTransportError {
    MdocTransportError::Disconnected { reason: "closed".into() }
}

#[async_trait::async_trait]
impl MdocTransport for TcpMdocTransport {
    fn max_frame_size(&self) -> i32 {
        FRAME
    }

    async fn send_frame(&self, frame: Vec<u8>) -> Result<(), MdocTransportError> {
        let len =
            u16::try_from(frame.len()).map_err(|_| MdocTransportError::Other { reason: "frame too large".into() })?;
        self.accept().await?;
        let mut w = self.writer.lock().await;
        let w = w.as_mut().ok_or_else(closed)?;
        w.write_all(&len.to_be_bytes()).await.map_err(io)?;
        w.write_all(&frame).await.map_err(io)?;
        w.flush().await.map_err(io)
    }

    async fn receive_frame(&self) -> Result<Vec<u8>, MdocTransportError> {
        self.accept().await?;
        let mut r = self.reader.lock().await;
        let r = r.as_mut().ok_or_else(closed)?;
        let mut len = [0u8; 2];
        r.read_exact(&mut len).await.map_err(io)?;
        let len = usize::from(u16::from_be_bytes(len));
        if len > usize::try_from(FRAME).unwrap_or(0) {
            return Err(MdocTransportError::Other { reason: "frame larger than the link's".into() });
        }
        let mut frame = vec![0u8; len];
        r.read_exact(&mut frame).await.map_err(io)?;
        Ok(frame)
    }

    async fn disconnect(&self) {
        self.listener.lock().await.take();
        if let Some(mut w) = self.writer.lock().await.take() {
            let _ = w.shutdown().await;
        }
    }
}
