//! AF_PACKET capture with a TPACKET_V3 ring per worker, the sockets joined
//! in one `PACKET_FANOUT` group: Suricata's "workers" run mode. The kernel
//! spreads packets over the sockets by a hash of the flow that is the same
//! for both directions (with `PACKET_FANOUT_FLAG_DEFRAG`, fragments are
//! reassembled first so they follow their flow), and each worker reads its
//! own ring: no capture thread, no copy into a batch. A worker sees a
//! block of packets in place and hands it back when it is done.
//!
//! The only unsafe code of the capture path is here: the socket calls, the
//! ring's mapping, and the block status word the kernel and the worker
//! pass between them. A block's packets are parsed by safe, bounds-checked
//! code over the block once the kernel has handed it over.

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
    /// Bytes of one block (a power of two, at least a page, holding the
    /// largest frame).
    pub block_size: u32,
    pub block_count: u32,
    /// A block that is not full is handed over after this long.
    pub block_timeout_ms: u32,
    /// The fanout group to join (`None`: no fanout, one socket).
    pub fanout_group: Option<u16>,
    /// A compiled BPF filter, applied in the kernel.
    pub bpf: Option<Vec<libc::sock_filter>>,
}

/// One TPACKET_V3 receive ring.
pub struct Ring {
    fd: OwnedFd,
    map: NonNull<u8>,
    map_len: usize,
    block_size: usize,
    block_count: usize,
    /// The block to look at next (the kernel fills them in order).
    next: usize,
    link: LinkType,
    /// Loopback shows every packet twice, going out and coming in: the
    /// outgoing copy is skipped, as libpcap does.
    loopback: bool,
    /// Kernel counters read so far (reading them resets the kernel's).
    pub received: u64,
    pub dropped: u64,
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
        let v3 = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        set_opt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &v3)
            .map_err(|e| io::Error::new(e.kind(), format!("{iface}: TPACKET_V3: {e}")))?;
        // The frame size only matters to the kernel's sanity checks in V3.
        let frame = 2048u32;
        let req = libc::tpacket_req3 {
            tp_block_size: o.block_size,
            tp_block_nr: o.block_count,
            tp_frame_size: frame,
            tp_frame_nr: (o.block_size / frame) * o.block_count,
            tp_retire_blk_tov: o.block_timeout_ms.max(1),
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        set_opt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "{iface}: cannot set up a ring of {} blocks of {} bytes: {e}",
                    o.block_count, o.block_size
                ),
            )
        })?;
        let map_len = o.block_size as usize * o.block_count as usize;
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
        let ring = Ring {
            fd,
            map,
            map_len,
            block_size: o.block_size as usize,
            block_count: o.block_count as usize,
            next: 0,
            link,
            loopback,
            received: 0,
            dropped: 0,
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

    pub fn link(&self) -> LinkType {
        self.link
    }

    /// The status word of block `i`.
    fn status(&self, i: usize) -> *mut u32 {
        // Offset 8 of the block descriptor: `hdr.bh1.block_status`.
        // SAFETY: `i < block_count`, so the pointer stays inside the map.
        unsafe { self.map.as_ptr().add(i * self.block_size + 8).cast::<u32>() }
    }

    /// The next block the kernel has handed over, if any.
    pub fn next_block(&mut self) -> Option<Block<'_>> {
        let i = self.next;
        // SAFETY: an aligned word inside the map; volatile because the kernel
        // writes it.
        let status = unsafe { std::ptr::read_volatile(self.status(i)) };
        if status & TP_STATUS_USER == 0 {
            return None;
        }
        // The block's contents were written before its status said so.
        fence(Ordering::Acquire);
        // SAFETY: the block is the user's until its status is set back to
        // TP_STATUS_KERNEL (in `Block::drop`): the kernel does not write it
        // meanwhile, so a shared view of its bytes is sound for the block's
        // life, which borrows the ring mutably (one block at a time).
        let data = unsafe {
            std::slice::from_raw_parts(self.map.as_ptr().add(i * self.block_size), self.block_size)
        };
        self.next = (i + 1) % self.block_count;
        Some(Block {
            status: self.status(i),
            data,
            skip_outgoing: self.loopback,
        })
    }

    /// Waits until a block may be ready, at most `timeout`.
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
