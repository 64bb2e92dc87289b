//! AF_PACKET capture with a ring per worker, the sockets joined in one
//! `PACKET_FANOUT` group: Suricata's "workers" run mode. The kernel spreads
//! packets over the sockets by a hash of the flow that is the same for both
//! directions (with `PACKET_FANOUT_FLAG_DEFRAG`, fragments are reassembled
//! first so they follow their flow), and each worker reads its own ring: no
//! capture thread, no copy into a batch.
//!
//! Two ring layouts (`capture.tpacket`). TPACKET_V3: the kernel packs
//! packets into blocks and hands a block over when it is full or its timer
//! runs out; the worker is woken once per block. Fewest wakeups, but a
//! packet waits for its block. TPACKET_V2: fixed-size frames, each with its
//! own status word, handed over (and the reader woken) one by one as they
//! arrive; a worker takes what is ready, a few dozen frames at most, and
//! its EVE lines go out at once.
//!
//! The only unsafe code of the capture path is here: the socket calls, the
//! ring's mapping, and the status words (of a V3 block, of a V2 frame) the
//! kernel and the worker pass between them. What the kernel handed over is
//! parsed by safe, bounds-checked code over that block or frame alone.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{Ordering, fence};
use std::time::Duration;

use fumidai_wire::{LinkType, Timestamp};

/// What a ring is asked for.
#[derive(Clone, Debug)]
pub struct RingOptions {
    pub interface: String,
    pub promiscuous: bool,
    pub layout: Layout,
    /// The most bytes of a packet kept. A V2 frame too small for a packet
    /// gets its head; the whole packet, up to this, is fetched from the
    /// socket's queue, where the kernel puts a copy.
    pub snaplen: u32,
    /// The fanout group to join (`None`: no fanout, one socket).
    pub fanout_group: Option<u16>,
    /// A compiled BPF filter, applied in the kernel.
    pub bpf: Option<Vec<libc::sock_filter>>,
}

/// The ring's layout and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// TPACKET_V3: packets packed into blocks of `block_size` bytes (a
    /// power of two, at least a page, holding the largest frame); a block
    /// that is not full is handed over after `timeout_ms`.
    V3 {
        block_size: u32,
        block_count: u32,
        timeout_ms: u32,
    },
    /// TPACKET_V2: frames of `frame_size` bytes (ring headers included),
    /// as many as fit in each block of `block_size` bytes.
    V2 {
        frame_size: u32,
        block_size: u32,
        block_count: u32,
    },
}

/// What a V2 frame needs besides the packet: `tpacket2_hdr` and
/// `sockaddr_ll` (52 bytes), rounded up so that the network header of a
/// packet with up to 44 bytes of link headers is 16-byte aligned, as the
/// kernel places it.
const V2_OVERHEAD: u32 = 96;

impl Layout {
    /// A V2 ring of about `bytes` whose frames hold packets of up to
    /// `capacity` bytes (link header included): at least 16 frames per
    /// block, so little of a block is left over, and at least 4 blocks.
    pub fn v2(capacity: u32, bytes: u64) -> Layout {
        let frame = capacity
            .saturating_add(V2_OVERHEAD)
            .next_multiple_of(TPACKET_ALIGNMENT);
        let block = frame
            .saturating_mul(16)
            .checked_next_power_of_two()
            .unwrap_or(1 << 31)
            .max(128 << 10);
        let block_count = u32::try_from(bytes / u64::from(block))
            .unwrap_or(u32::MAX)
            .max(4);
        Layout::V2 {
            frame_size: frame,
            block_size: block,
            block_count,
        }
    }

    /// Bytes of the whole ring.
    pub fn bytes(&self) -> u64 {
        let (Layout::V3 {
            block_size,
            block_count,
            ..
        }
        | Layout::V2 {
            block_size,
            block_count,
            ..
        }) = *self;
        u64::from(block_size) * u64::from(block_count)
    }
}

const TPACKET_ALIGNMENT: u32 = 16;

/// Where the worker is in the ring (the kernel fills it in order).
enum Cursor {
    /// The V3 block to look at next.
    V3 {
        block_size: usize,
        block_count: usize,
    },
    /// The V2 frame to look at next, numbered across blocks.
    V2 {
        frame_size: usize,
        frames_per_block: usize,
        block_size: usize,
        frame_count: usize,
    },
}

/// One receive ring, TPACKET_V3 or TPACKET_V2.
pub struct Ring {
    fd: OwnedFd,
    map: NonNull<u8>,
    map_len: usize,
    cursor: Cursor,
    /// The block (V3) or frame (V2) to look at next.
    next: usize,
    link: LinkType,
    /// Loopback shows every packet twice, going out and coming in: the
    /// outgoing copy is skipped, as libpcap does.
    loopback: bool,
    /// Kernel counters read so far (reading them resets the kernel's).
    pub received: u64,
    pub dropped: u64,
    /// Frames the kernel cut short (`tp_snaplen < tp_len`): a V2 frame, or
    /// a V3 block, smaller than what the interface delivered (a GRO/LRO
    /// super-frame, say).
    pub truncated: u64,
    /// V2: where a packet too large for its frame is received whole.
    copy: Vec<u8>,
}

// SAFETY: the ring is a mapping and a descriptor owned by this value alone;
// moving it to the worker thread that reads it moves that ownership.
unsafe impl Send for Ring {}

fn last_error(what: &str, iface: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{iface}: {what}: {e}"))
}

/// `setsockopt` with a plain-data option value.
fn set_opt<T>(fd: &OwnedFd, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of the size passed, which the
    // kernel only reads during the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The link type AF_PACKET delivers on `iface` (from its ARPHRD type).
pub fn link_of(iface: &str) -> io::Result<LinkType> {
    let t = std::fs::read_to_string(format!("/sys/class/net/{iface}/type"))
        .map_err(|e| io::Error::new(e.kind(), format!("{iface}: no such interface ({e})")))?;
    match t.trim() {
        // Ethernet, and loopback (which AF_PACKET frames as Ethernet).
        "1" | "772" => Ok(LinkType::Ethernet),
        // Interfaces without a link layer (tun, wireguard): IP packets.
        "65534" => Ok(LinkType::Raw),
        other => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{iface}: af-packet capture of ARPHRD type {other} is not supported (use capture.method: pcap)"
            ),
        )),
    }
}

impl Ring {
    /// Opens the socket, maps its ring, binds it to the interface and joins
    /// the fanout group. Needs CAP_NET_RAW.
    pub fn open(o: &RingOptions) -> io::Result<Ring> {
        let iface = o.interface.as_str();
        let link = link_of(iface)?;
        let loopback = std::fs::read_to_string(format!("/sys/class/net/{iface}/type"))
            .is_ok_and(|t| t.trim() == "772");
        let name = CString::new(iface).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "interface name with a NUL")
        })?;
        // SAFETY: a NUL-terminated name, read during the call only.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(last_error("no such interface", iface));
        }
        // Protocol 0: nothing is queued until the ring exists and the socket
        // is bound (with ETH_P_ALL) below.
        // SAFETY: plain system call; the descriptor is owned right after.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(last_error("cannot open an AF_PACKET socket", iface));
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let (version, name) = match o.layout {
            Layout::V3 { .. } => (libc::tpacket_versions::TPACKET_V3, "TPACKET_V3"),
            Layout::V2 { .. } => (libc::tpacket_versions::TPACKET_V2, "TPACKET_V2"),
        };
        set_opt(
            &fd,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &(version as libc::c_int),
        )
        .map_err(|e| io::Error::new(e.kind(), format!("{iface}: {name}: {e}")))?;
        let ring_error = |e: io::Error| {
            let (what, n, size) = match o.layout {
                Layout::V3 {
                    block_size,
                    block_count,
                    ..
                } => ("blocks", block_count, block_size),
                Layout::V2 {
                    frame_size,
                    block_size,
                    block_count,
                } => (
                    "frames",
                    (block_size / frame_size.max(1)) * block_count,
                    frame_size,
                ),
            };
            io::Error::new(
                e.kind(),
                format!("{iface}: cannot set up a {name} ring of {n} {what} of {size} bytes: {e}"),
            )
        };
        let cursor = match o.layout {
            Layout::V3 {
                block_size,
                block_count,
                timeout_ms,
            } => {
                // The frame size only matters to the kernel's sanity checks
                // in V3.
                let frame = 2048u32;
                let req = libc::tpacket_req3 {
                    tp_block_size: block_size,
                    tp_block_nr: block_count,
                    tp_frame_size: frame,
                    tp_frame_nr: (block_size / frame) * block_count,
                    tp_retire_blk_tov: timeout_ms.max(1),
                    tp_sizeof_priv: 0,
                    tp_feature_req_word: 0,
                };
                set_opt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req).map_err(ring_error)?;
                Cursor::V3 {
                    block_size: block_size as usize,
                    block_count: block_count as usize,
                }
            }
            Layout::V2 {
                frame_size,
                block_size,
                block_count,
            } => {
                let per_block = block_size / frame_size.max(1);
                let req = libc::tpacket_req {
                    tp_block_size: block_size,
                    tp_block_nr: block_count,
                    tp_frame_size: frame_size,
                    tp_frame_nr: per_block * block_count,
                };
                set_opt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req).map_err(ring_error)?;
                // The kernel accepted the request: frames are 16-byte
                // aligned, at least one per block, none across blocks.
                Cursor::V2 {
                    frame_size: frame_size as usize,
                    frames_per_block: per_block as usize,
                    block_size: block_size as usize,
                    frame_count: per_block as usize * block_count as usize,
                }
            }
        };
        let map_len = usize::try_from(o.layout.bytes())
            .map_err(|_| ring_error(io::Error::from(io::ErrorKind::OutOfMemory)))?;
        // SAFETY: maps the ring the kernel just allocated for this socket,
        // shared with the kernel, for as long as this `Ring` lives (unmapped
        // in `drop`); no other mapping of it exists.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(last_error("cannot map the ring", iface));
        }
        let Some(map) = NonNull::new(map.cast::<u8>()) else {
            return Err(last_error("cannot map the ring", iface));
        };
        let mut ring = Ring {
            fd,
            map,
            map_len,
            cursor,
            next: 0,
            link,
            loopback,
            received: 0,
            dropped: 0,
            truncated: 0,
            copy: Vec::new(),
        };
        // SAFETY: all-zero is a valid `sockaddr_ll`.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a valid sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                ring.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(last_error("cannot bind", iface));
        }
        if o.promiscuous {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex as i32,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            set_opt(
                &ring.fd,
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
            )
            .map_err(|e| io::Error::new(e.kind(), format!("{iface}: promiscuous mode: {e}")))?;
        }
        if let Layout::V2 { .. } = o.layout {
            ring.copy_large_packets(o)?;
        }
        if let Some(prog) = &o.bpf {
            let fprog = libc::sock_fprog {
                len: u16::try_from(prog.len()).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long")
                })?,
                filter: prog.as_ptr().cast_mut(),
            };
            set_opt(&ring.fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
                .map_err(|e| io::Error::new(e.kind(), format!("{iface}: BPF filter: {e}")))?;
        }
        if let Some(group) = o.fanout_group {
            let arg: u32 = u32::from(group)
                | ((libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG) << 16);
            set_opt(&ring.fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &arg).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{iface}: cannot join fanout group {group} ({e}); another program may \
                         use that group id with other settings or on another interface: choose \
                         another capture.fanout_group"
                    ),
                )
            })?;
        }
        Ok(ring)
    }

    /// V2: a packet larger than its frame gets a frame with its head
    /// (TP_STATUS_COPY set) and a whole copy in the socket's receive queue,
    /// in the order of the frames, as long as the queue has room: it gets
    /// room for a good part of the ring. Without the copy the packet is
    /// cut (and counted as truncated).
    fn copy_large_packets(&mut self, o: &RingOptions) -> io::Result<()> {
        let iface = o.interface.as_str();
        set_opt(&self.fd, libc::SOL_PACKET, libc::PACKET_COPY_THRESH, &1i32)
            .map_err(|e| io::Error::new(e.kind(), format!("{iface}: PACKET_COPY_THRESH: {e}")))?;
        let queue =
            i32::try_from((o.layout.bytes() / 4).clamp(1 << 20, 64 << 20)).unwrap_or(1 << 20);
        // Past net.core.rmem_max only with CAP_NET_ADMIN; else what
        // SO_RCVBUF allows.
        if set_opt(&self.fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &queue).is_err() {
            let _ = set_opt(&self.fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &queue);
        }
        self.copy = vec![0; o.snaplen.max(64) as usize];
        Ok(())
    }

    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Where the `i`th block (V3) or frame (V2) starts in the map, and its
    /// length; its status word is at `start + status_offset`.
    fn slot(&self, i: usize) -> (usize, usize, usize) {
        match self.cursor {
            // `hdr.bh1.block_status` of the block descriptor.
            Cursor::V3 { block_size, .. } => (i * block_size, block_size, 8),
            // `tp_status`, the frame's first word.
            Cursor::V2 {
                frame_size,
                frames_per_block,
                block_size,
                ..
            } => (
                (i / frames_per_block) * block_size + (i % frames_per_block) * frame_size,
                frame_size,
                0,
            ),
        }
    }

    fn slot_count(&self) -> usize {
        match self.cursor {
            Cursor::V3 { block_count, .. } => block_count,
            Cursor::V2 { frame_count, .. } => frame_count,
        }
    }

    /// The status word of block or frame `i`.
    fn status(&self, i: usize) -> *mut u32 {
        let (start, _, at) = self.slot(i);
        // SAFETY: `i < slot_count()`: the block or frame, and so its status
        // word, lie inside the map (the kernel accepted this geometry for
        // a mapping of `map_len` bytes). Blocks are page-aligned and frames
        // 16-byte aligned, so the word is aligned.
        unsafe { self.map.as_ptr().add(start + at).cast::<u32>() }
    }

    /// Whether the kernel has handed block or frame `i` over.
    fn ready(&self, i: usize) -> bool {
        // SAFETY: an aligned word inside the map; volatile because the
        // kernel writes it.
        let status = unsafe { std::ptr::read_volatile(self.status(i)) };
        if status & TP_STATUS_USER == 0 {
            return false;
        }
        // The slot's contents were written before its status said so.
        fence(Ordering::Acquire);
        true
    }

    /// The bytes of block or frame `i`.
    ///
    /// # Safety
    /// `ready(i)` said yes, and the view is dropped before the slot is
    /// handed back (`release`).
    unsafe fn view(&self, i: usize) -> &[u8] {
        let (start, len, _) = self.slot(i);
        // SAFETY: the slot lies inside the map and is the user's until its
        // status is set back to TP_STATUS_KERNEL: the kernel does not write
        // it meanwhile, so a shared view of its bytes is sound until then,
        // which the caller promises.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(start), len) }
    }

    /// Hands slot `i` back to the kernel.
    fn release(&self, i: usize) {
        // Everything read from the slot is read before the kernel may write
        // it again.
        fence(Ordering::Release);
        // SAFETY: the slot's status word, inside the map; volatile because
        // the kernel reads it.
        unsafe { std::ptr::write_volatile(self.status(i), TP_STATUS_KERNEL) };
    }

    /// The next V3 block the kernel has handed over, if any.
    fn next_block(&mut self) -> Option<Block<'_>> {
        let i = self.next;
        if !self.ready(i) {
            return None;
        }
        self.next = (i + 1) % self.slot_count();
        // SAFETY: the block is ready; the view lives in the `Block`, which
        // releases the block on drop and borrows the ring mutably meanwhile
        // (one block at a time, nothing else releases it).
        let data = unsafe { self.view(i) };
        Some(Block {
            status: self.status(i),
            data,
            skip_outgoing: self.loopback,
        })
    }

    /// Gives what the kernel has handed over to `f`, packet by packet in
    /// order, and hands the room back: with V3 one block, with V2 up to
    /// `max_frames` frames, each released as soon as `f` is done with it.
    /// Returns how many blocks or frames were taken: 0 when none was ready.
    pub fn drain(&mut self, max_frames: usize, mut f: impl FnMut(RingPacket<'_>)) -> usize {
        let mut truncated = 0;
        let taken = match self.cursor {
            Cursor::V3 { .. } => {
                let Some(block) = self.next_block() else {
                    return 0;
                };
                for p in block.packets() {
                    truncated += u64::from(p.is_truncated());
                    f(p);
                }
                1
            }
            Cursor::V2 { .. } => {
                let mut copy = std::mem::take(&mut self.copy);
                let mut taken = 0;
                while taken < max_frames.max(1) {
                    let i = self.next;
                    if !self.ready(i) {
                        break;
                    }
                    {
                        // SAFETY: the frame is ready; the view ends with
                        // this block, before `release(i)`, and `f` cannot
                        // keep the packet (its lifetime is one call's).
                        let frame = unsafe { self.view(i) };
                        // A copy is queued for this frame: it is taken even
                        // for a frame that is skipped, to stay in step.
                        let queued = u32_at(frame, 0).unwrap_or(0) & TP_STATUS_COPY != 0;
                        let whole = if queued {
                            recv_queued(&self.fd, &mut copy)
                        } else {
                            None
                        };
                        if let Some(mut p) = frame_packet(frame, self.loopback) {
                            if let Some(data) = whole.and_then(|n| whole_packet(&copy, n, &p)) {
                                p.data = data;
                            }
                            truncated += u64::from(p.is_truncated());
                            f(p);
                        }
                    }
                    self.release(i);
                    self.next = (i + 1) % self.slot_count();
                    taken += 1;
                }
                self.copy = copy;
                taken
            }
        };
        self.truncated += truncated;
        taken
    }

    /// Whether the ring hands over single frames (V2) rather than blocks.
    pub fn per_frame(&self) -> bool {
        matches!(self.cursor, Cursor::V2 { .. })
    }

    /// Waits until a block or frame may be ready, at most `timeout`.
    pub fn wait(&self, timeout: Duration) {
        let mut fd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(100).max(1);
        // SAFETY: one valid pollfd for the duration of the call.
        unsafe {
            libc::poll(&mut fd, 1, ms);
        }
    }

    /// Adds the kernel's counters since the last call (reading resets them).
    /// For V2 the kernel writes only the first two fields (`tpacket_stats`)
    /// and says so in `len`.
    pub fn read_stats(&mut self) {
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: `st` and `len` are valid for the kernel to write.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            // tp_packets counts what was dropped too, as libpcap's ps_recv.
            self.received += u64::from(st.tp_packets);
            self.dropped += u64::from(st.tp_drops);
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `open`, of that length; no block view
        // outlives the ring (they borrow it).
        unsafe {
            libc::munmap(self.map.as_ptr().cast(), self.map_len);
        }
    }
}

const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_COPY: u32 = 1 << 1;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// A block of packets the kernel has handed over; handed back on drop.
pub struct Block<'a> {
    status: *mut u32,
    data: &'a [u8],
    skip_outgoing: bool,
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        // Everything read from the block is read before the kernel may
        // write it again.
        fence(Ordering::Release);
        // SAFETY: the block's status word, inside the map the borrowed ring
        // keeps alive; volatile because the kernel reads it.
        unsafe { std::ptr::write_volatile(self.status, TP_STATUS_KERNEL) };
    }
}

impl RingPacket<'_> {
    /// The kernel delivered fewer bytes than the packet had: its frame (V2)
    /// or block (V3) was too small.
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.wire_len)
    }
}

/// One packet in a block.
#[derive(Clone, Copy, Debug)]
pub struct RingPacket<'a> {
    pub ts: Timestamp,
    /// Length on the wire (without a VLAN tag the kernel took off).
    pub wire_len: u32,
    pub data: &'a [u8],
    /// A VLAN tag the kernel (or the NIC) took off the frame: TPID, TCI.
    pub vlan: Option<(u16, u16)>,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

impl<'a> Block<'a> {
    /// The block's packets, each checked to lie inside the block.
    pub fn packets(&self) -> impl Iterator<Item = RingPacket<'a>> + 'a {
        packets(self.data, self.skip_outgoing)
    }
}

/// `sockaddr_ll.sll_pkttype` of a packet the host sent.
const PACKET_OUTGOING: u8 = 4;

/// Parses the packets of a TPACKET_V3 block (`tpacket_block_desc`, then
/// `tpacket3_hdr`s chained by `tp_next_offset`, each followed by its
/// `sockaddr_ll` at the aligned header size, 48).
fn packets(b: &[u8], skip_outgoing: bool) -> impl Iterator<Item = RingPacket<'_>> + '_ {
    let count = u32_at(b, 12).unwrap_or(0);
    let mut at = u32_at(b, 16).unwrap_or(0) as usize;
    let mut left = count;
    std::iter::from_fn(move || {
        while left > 0 {
            left -= 1;
            let here = at;
            let next = u32_at(b, here)? as usize;
            at = if next == 0 {
                // The last packet: nothing follows.
                left = 0;
                b.len()
            } else {
                here.checked_add(next)?
            };
            let sec = u32_at(b, here + 4)?;
            let nsec = u32_at(b, here + 8)?;
            let snaplen = u32_at(b, here + 12)? as usize;
            let len = u32_at(b, here + 16)?;
            let status = u32_at(b, here + 20)?;
            let mac = usize::from(u16_at(b, here + 24)?);
            if skip_outgoing && b.get(here + 48 + 10) == Some(&PACKET_OUTGOING) {
                continue;
            }
            let start = here.checked_add(mac)?;
            let Some(data) = b.get(start..start.checked_add(snaplen)?) else {
                continue;
            };
            let vlan = (status & TP_STATUS_VLAN_VALID != 0).then(|| {
                let tci = u32_at(b, here + 32).unwrap_or(0) as u16;
                let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 {
                    u16_at(b, here + 36).unwrap_or(0x8100)
                } else {
                    0x8100
                };
                (tpid, tci)
            });
            return Some(RingPacket {
                ts: Timestamp::from_sec_usec(u64::from(sec), u64::from(nsec / 1000)),
                wire_len: len,
                data,
                vlan,
            });
        }
        None
    })
}

/// `tpacket2_hdr` is 32 bytes; the frame's `sockaddr_ll` follows at the
/// aligned header size.
const V2_HDR: usize = 32;
const V2_SLL: usize = 32;

/// Parses a TPACKET_V2 frame (`tpacket2_hdr`: status, len, snaplen, mac,
/// net, sec, nsec, vlan_tci, vlan_tpid). `None` for a frame to skip: the
/// host's own outgoing copy on loopback, or a header that does not fit in
/// the frame (which the kernel does not write; it cannot be read past).
fn frame_packet(f: &[u8], skip_outgoing: bool) -> Option<RingPacket<'_>> {
    let status = u32_at(f, 0)?;
    let len = u32_at(f, 4)?;
    let snaplen = u32_at(f, 8)? as usize;
    let mac = usize::from(u16_at(f, 12)?);
    let sec = u32_at(f, 16)?;
    let nsec = u32_at(f, 20)?;
    if skip_outgoing && f.get(V2_SLL + 10) == Some(&PACKET_OUTGOING) {
        return None;
    }
    // The packet starts past the header, and ends inside the frame.
    if mac < V2_HDR {
        return None;
    }
    let data = f.get(mac..mac.checked_add(snaplen)?)?;
    let vlan = if status & TP_STATUS_VLAN_VALID != 0 {
        let tci = u16_at(f, 24)?;
        let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 {
            u16_at(f, 26)?
        } else {
            0x8100
        };
        Some((tpid, tci))
    } else {
        None
    };
    Some(RingPacket {
        ts: Timestamp::from_sec_usec(u64::from(sec), u64::from(nsec / 1000)),
        wire_len: len,
        data,
        vlan,
    })
}

/// Receives the packet queued on the socket into `buf` without waiting:
/// its whole length (more than `buf` holds if it was cut), or `None`.
fn recv_queued(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: `buf` is valid for writes of its length during the call.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
        )
    };
    usize::try_from(n).ok()
}

/// The whole packet received for `p` (`len` bytes long, `copy` holding up
/// to its snap length), if it is `p`'s: as long as the frame says, and
/// starting with what the frame holds. A copy that is not (the queue and
/// the ring out of step, which the kernel does not do) is not used.
fn whole_packet<'a>(copy: &'a [u8], len: usize, p: &RingPacket<'_>) -> Option<&'a [u8]> {
    let got = copy.get(..len.min(copy.len()))?;
    (len as u64 == u64::from(p.wire_len) && got.len() > p.data.len() && got.starts_with(p.data))
        .then_some(got)
}

/// The MTU of `iface`, if it says.
pub fn mtu_of(iface: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/mtu"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The frame as it was on the wire: with the VLAN tag the kernel took off
/// put back after the MAC addresses (into `scratch`).
pub fn with_vlan<'a>(p: &RingPacket<'a>, scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let Some((tpid, tci)) = p.vlan else {
        return p.data;
    };
    if p.data.len() < 12 {
        return p.data;
    }
    scratch.clear();
    scratch.extend_from_slice(&p.data[..12]);
    scratch.extend_from_slice(&tpid.to_be_bytes());
    scratch.extend_from_slice(&tci.to_be_bytes());
    scratch.extend_from_slice(&p.data[12..]);
    scratch
}

/// Compiles a BPF expression for `link` with libpcap, as the kernel's
/// socket filter wants it.
pub fn compile_bpf(expr: &str, link: LinkType) -> anyhow::Result<Vec<libc::sock_filter>> {
    let dead =
        pcap::Capture::dead_with_precision(pcap::Linktype(link.dlt()), pcap::Precision::Micro)
            .map_err(|e| anyhow::anyhow!("BPF filter `{expr}`: {e}"))?;
    let prog = dead
        .compile(expr, true)
        .map_err(|e| anyhow::anyhow!("BPF filter `{expr}`: {e}"))?;
    let insns = prog.get_instructions();
    // SAFETY: pcap's `BpfInstruction` is `repr(transparent)` over libpcap's
    // `struct bpf_insn` {u16 code; u8 jt; u8 jf; u32 k}, which is the
    // layout of the kernel's `struct sock_filter`; the slice is copied out
    // while `prog` is alive.
    let filters = unsafe {
        std::slice::from_raw_parts(insns.as_ptr().cast::<libc::sock_filter>(), insns.len())
    };
    Ok(filters.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block as the kernel lays it out: descriptor, then packets.
    fn block(pkts: &[(&[u8], u32, Option<u16>)]) -> Vec<u8> {
        let mut b = vec![0u8; 48];
        b[12..16].copy_from_slice(&(pkts.len() as u32).to_ne_bytes());
        b[16..20].copy_from_slice(&48u32.to_ne_bytes());
        for (i, (data, sec, vlan)) in pkts.iter().enumerate() {
            let start = b.len();
            let mut h = vec![0u8; 64];
            let total = (64 + data.len()).div_ceil(16) * 16;
            let next = if i + 1 == pkts.len() { 0 } else { total as u32 };
            h[0..4].copy_from_slice(&next.to_ne_bytes());
            h[4..8].copy_from_slice(&sec.to_ne_bytes());
            h[8..12].copy_from_slice(&1_500_000u32.to_ne_bytes());
            h[12..16].copy_from_slice(&(data.len() as u32).to_ne_bytes());
            h[16..20].copy_from_slice(&(data.len() as u32 + 10).to_ne_bytes());
            if let Some(tci) = vlan {
                h[20..24].copy_from_slice(&TP_STATUS_VLAN_VALID.to_ne_bytes());
                h[32..36].copy_from_slice(&u32::from(*tci).to_ne_bytes());
            }
            h[24..26].copy_from_slice(&64u16.to_ne_bytes());
            b.extend(h);
            b.extend_from_slice(data);
            b.resize(start + total, 0);
        }
        b
    }

    #[test]
    fn a_block_yields_its_packets() {
        let frame: Vec<u8> = (0..40).collect();
        let b = block(&[(b"abcdef", 7, None), (&frame, 8, Some(42))]);
        let got: Vec<_> = packets(&b, false).collect();
        assert_eq!(got.len(), 2);
        // Loopback: what the host sent is skipped (seen again coming in).
        let mut out = b.clone();
        out[48 + 48 + 10] = PACKET_OUTGOING;
        assert_eq!(packets(&out, true).count(), 1);
        assert_eq!(packets(&out, false).count(), 2);
        assert_eq!(got[0].data, b"abcdef");
        assert_eq!(got[0].ts, Timestamp::from_sec_usec(7, 1500));
        assert_eq!(got[0].wire_len, 16);
        assert_eq!(got[1].vlan, Some((0x8100, 42)));
        let mut scratch = Vec::new();
        let tagged = with_vlan(&got[1], &mut scratch);
        assert_eq!(&tagged[..12], &frame[..12]);
        assert_eq!(&tagged[12..16], &[0x81, 0x00, 0, 42]);
        assert_eq!(&tagged[16..], &frame[12..]);
    }

    /// A V2 frame as the kernel lays it out: header, `sockaddr_ll`, the
    /// packet at `mac`, in a frame of `size` bytes.
    fn frame(data: &[u8], size: usize, vlan: Option<(u16, u16)>) -> Vec<u8> {
        let mac = 66usize;
        let mut f = vec![0u8; size];
        let mut status = TP_STATUS_USER;
        if let Some((tpid, tci)) = vlan {
            status |= TP_STATUS_VLAN_VALID;
            if tpid != 0x8100 {
                status |= TP_STATUS_VLAN_TPID_VALID;
            }
            f[24..26].copy_from_slice(&tci.to_ne_bytes());
            f[26..28].copy_from_slice(&tpid.to_ne_bytes());
        }
        let snap = data.len().min(size - mac);
        f[0..4].copy_from_slice(&status.to_ne_bytes());
        f[4..8].copy_from_slice(&(data.len() as u32).to_ne_bytes());
        f[8..12].copy_from_slice(&(snap as u32).to_ne_bytes());
        f[12..14].copy_from_slice(&(mac as u16).to_ne_bytes());
        f[14..16].copy_from_slice(&(mac as u16 + 14).to_ne_bytes());
        f[16..20].copy_from_slice(&9u32.to_ne_bytes());
        f[20..24].copy_from_slice(&2_500_000u32.to_ne_bytes());
        f[mac..mac + snap].copy_from_slice(&data[..snap]);
        f
    }

    #[test]
    fn a_frame_yields_its_packet() {
        let data: Vec<u8> = (0..60).collect();
        let f = frame(&data, 2048, None);
        let p = frame_packet(&f, false).unwrap();
        assert_eq!(p.data, &data[..]);
        assert_eq!(p.wire_len, 60);
        assert_eq!(p.ts, Timestamp::from_sec_usec(9, 2500));
        assert!(p.vlan.is_none() && !p.is_truncated());
        // A tag the kernel took off, with the default and with another TPID.
        let f = frame(&data, 2048, Some((0x8100, 7)));
        assert_eq!(frame_packet(&f, false).unwrap().vlan, Some((0x8100, 7)));
        let f = frame(&data, 2048, Some((0x88a8, 3)));
        let p = frame_packet(&f, false).unwrap();
        assert_eq!(p.vlan, Some((0x88a8, 3)));
        let mut scratch = Vec::new();
        let tagged = with_vlan(&p, &mut scratch);
        assert_eq!(&tagged[12..16], &[0x88, 0xa8, 0, 3]);
        assert_eq!(&tagged[16..], &data[12..]);
        // Loopback: what the host sent is skipped.
        let mut out = frame(&data, 2048, None);
        out[V2_SLL + 10] = PACKET_OUTGOING;
        assert!(frame_packet(&out, true).is_none());
        assert!(frame_packet(&out, false).is_some());
    }

    #[test]
    fn a_frame_too_small_for_its_packet_is_counted_as_truncated() {
        let data = vec![0x45u8; 3000];
        let f = frame(&data, 2048, None);
        let p = frame_packet(&f, false).unwrap();
        assert_eq!(p.data.len(), 2048 - 66);
        assert_eq!(p.wire_len, 3000);
        assert!(p.is_truncated());
    }

    #[test]
    fn a_large_packet_is_taken_whole_from_its_copy() {
        let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let f = frame(&data, 2048, None);
        let p = frame_packet(&f, false).unwrap();
        assert!(p.is_truncated());
        let mut copy = vec![0u8; 65535];
        copy[..3000].copy_from_slice(&data);
        assert_eq!(whole_packet(&copy, 3000, &p), Some(&data[..]));
        // Another packet's copy: not used.
        assert_eq!(whole_packet(&copy, 2999, &p), None);
        copy[5] ^= 1;
        assert_eq!(whole_packet(&copy, 3000, &p), None);
        // Longer than the snap length: as much as it allows, still cut.
        let small = &data[..2500];
        let got = whole_packet(small, 3000, &p).unwrap();
        assert_eq!(got.len(), 2500);
        let whole = RingPacket { data: got, ..p };
        assert!(whole.is_truncated());
    }

    #[test]
    fn a_damaged_frame_cannot_read_outside_itself() {
        let data: Vec<u8> = (0..100).collect();
        let good = frame(&data, 256, None);
        // A snap length past the end of the frame.
        let mut f = good.clone();
        f[8..12].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(frame_packet(&f, false).is_none());
        // The packet's offset past the end, or inside the header.
        for mac in [u16::MAX, 250, 0, 31] {
            let mut f = good.clone();
            f[12..14].copy_from_slice(&mac.to_ne_bytes());
            assert!(frame_packet(&f, false).is_none(), "mac {mac}");
        }
        // Ends exactly at the frame's end: fine.
        let mut f = good.clone();
        f[8..12].copy_from_slice(&(256u32 - 66).to_ne_bytes());
        assert_eq!(frame_packet(&f, false).unwrap().data.len(), 190);
        // Too short for its header, whatever it says.
        for n in 0..good.len().min(66) {
            assert!(frame_packet(&good[..n], false).is_none(), "{n}");
        }
        // Every cut of the frame: never a byte outside what is given.
        for n in 0..=good.len() {
            if let Some(p) = frame_packet(&good[..n], false) {
                assert!(p.data.len() <= n);
            }
        }
    }

    #[test]
    fn v2_geometry_fits_the_kernel() {
        for (cap, bytes) in [
            (1522, 32u64 << 20),
            (9022, 32 << 20),
            (65535, 32 << 20),
            (64, 0),
        ] {
            let Layout::V2 {
                frame_size,
                block_size,
                block_count,
            } = Layout::v2(cap, bytes)
            else {
                panic!()
            };
            // What packet_set_ring() checks.
            assert_eq!(frame_size % TPACKET_ALIGNMENT, 0);
            assert!(frame_size as usize >= libc::TPACKET2_HDRLEN);
            assert!(frame_size >= cap + V2_OVERHEAD);
            assert_eq!(block_size % 4096, 0);
            assert!(block_size / frame_size >= 16);
            assert!(block_count >= 4);
            assert!(
                u64::from(block_size) * u64::from(block_count)
                    <= bytes.max(4 * u64::from(block_size))
            );
        }
        // The usual Ethernet frame: 1632-byte frames, 80 per 128 KiB block.
        assert_eq!(
            Layout::v2(1522, 32 << 20),
            Layout::V2 {
                frame_size: 1632,
                block_size: 128 << 10,
                block_count: 256
            }
        );
    }

    #[test]
    fn a_damaged_block_cannot_read_outside_itself() {
        let mut b = block(&[(b"abcdef", 7, None), (b"ghi", 8, None)]);
        // A snap length past the end of the block.
        b[48 + 12..48 + 16].copy_from_slice(&100_000u32.to_ne_bytes());
        let got: Vec<_> = packets(&b, false).collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, b"ghi");
        // A count larger than what is there, and a loop to itself.
        b[12..16].copy_from_slice(&1_000u32.to_ne_bytes());
        b[48..52].copy_from_slice(&0u32.to_ne_bytes());
        assert!(packets(&b, false).count() <= 1);
        assert_eq!(packets(&[0u8; 10], false).count(), 0);
    }
}
