//! Distribution capability flags, exchanged in the handshake.
//!
//! > "Early in the distribution handshake the two participating nodes exchange
//! > capability flags. [...] The intersection of the capabilities presented by
//! > the two nodes defines the capabilities that will be used."
//! > — OTP `erl_dist_protocol`, *Distribution Flags*
//!
//! | Erlang (`dist.hrl`)              | Rust                               |
//! |----------------------------------|------------------------------------|
//! | `?DFLAG_DIST_HDR_ATOM_CACHE`     | `DistFlags::DIST_HDR_ATOM_CACHE`   |
//! | `Flags band ?DFLAG_FRAGMENTS =/= 0` | `flags.contains(DistFlags::FRAGMENTS)` |
//!
//! ```
//! use dist::flags::DistFlags;
//! let ours = DistFlags::ours(true);
//! assert!(ours.contains(DistFlags::HANDSHAKE_23));
//! assert!(!ours.contains(DistFlags::PUBLISHED)); // hidden
//! ```

use std::fmt;
use std::ops::{BitAnd, BitOr};

/// A set of distribution flags (`DFLAG_*`), 64 bits wide since handshake version 6.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DistFlags(pub u64);

macro_rules! flags {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        impl DistFlags {
            $($(#[$doc])* pub const $name: DistFlags = DistFlags($value);)*
        }
        const NAMES: &[(&str, u64)] = &[$((stringify!($name), $value)),*];
    };
}

flags! {
    /// `16#1`: "The node is to be published and part of the global namespace." Hidden nodes leave it unset.
    PUBLISHED = 0x1;
    /// `16#2`: "The node implements an atom cache (obsolete)."
    ATOM_CACHE = 0x2;
    /// `16#4`: "The node implements extended (3 × 32 bits) references." Mandatory.
    EXTENDED_REFERENCES = 0x4;
    /// `16#8`: "The node implements distributed process monitoring."
    DIST_MONITOR = 0x8;
    /// `16#10`: "The node uses separate tags for funs (lambdas) in the distribution protocol." Mandatory.
    FUN_TAGS = 0x10;
    /// `16#20`: "The node implements distributed named process monitoring."
    DIST_MONITOR_NAME = 0x20;
    /// `16#40`: "The (hidden) node implements atom cache (obsolete)."
    HIDDEN_ATOM_CACHE = 0x40;
    /// `16#80`: "The node understands the NEW_FUN_EXT tag." Mandatory.
    NEW_FUN_TAGS = 0x80;
    /// `16#100`: "The node can handle extended pids and ports." Mandatory.
    EXTENDED_PIDS_PORTS = 0x100;
    /// `16#200`: "The node understands the EXPORT_EXT tag." Mandatory.
    EXPORT_PTR_TAG = 0x200;
    /// `16#400`: "The node understands the BIT_BINARY_EXT tag." Mandatory.
    BIT_BINARIES = 0x400;
    /// `16#800`: "The node understands the NEW_FLOAT_EXT tag." Mandatory.
    NEW_FLOATS = 0x800;
    /// `16#1000`: Unicode I/O.
    UNICODE_IO = 0x1000;
    /// `16#2000`: "The node implements atom cache in distribution header."
    DIST_HDR_ATOM_CACHE = 0x2000;
    /// `16#4000`: "The node understands the SMALL_ATOM_EXT tag."
    SMALL_ATOM_TAGS = 0x4000;
    /// `16#10000`: "The node understands UTF-8 atoms." Mandatory.
    UTF8_ATOMS = 0x10000;
    /// `16#20000`: "The node understands the map tag MAP_EXT." Mandatory.
    MAP_TAG = 0x20000;
    /// `16#40000`: "The node understands big node creation tags NEW_PID_EXT, NEW_PORT_EXT and NEWER_REFERENCE_EXT." Mandatory.
    BIG_CREATION = 0x40000;
    /// `16#80000`: "Use the SEND_SENDER control message instead of the SEND control message."
    SEND_SENDER = 0x80000;
    /// `16#100000`: "The node understands any term as the seqtrace label."
    BIG_SEQTRACE_LABELS = 0x100000;
    /// `16#400000`: "Use the PAYLOAD_EXIT, PAYLOAD_EXIT_TT, PAYLOAD_EXIT2, PAYLOAD_EXIT2_TT and PAYLOAD_MONITOR_P_EXIT control messages."
    EXIT_PAYLOAD = 0x400000;
    /// `16#800000`: "Use fragmented distribution messages to send large messages."
    FRAGMENTS = 0x800000;
    /// `16#1000000`: "The node supports the new connection setup handshake (version 6) introduced in OTP 23." Mandatory from OTP 25.
    HANDSHAKE_23 = 0x1000000;
    /// `16#2000000`: "Use the new link protocol." Mandatory as of OTP 26.
    UNLINK_ID = 0x2000000;
    /// `1 bsl 32`: SPAWN_REQUEST / SPAWN_REPLY control messages are supported.
    SPAWN = 1 << 32;
    /// `1 bsl 33`: "Dynamic node name" — a request, not a capability.
    NAME_ME = 1 << 33;
    /// `1 bsl 34`: "The node accepts a larger amount of data in pids, ports and references (node container types version 4)."
    V4_NC = 1 << 34;
    /// `1 bsl 35`: "The node supports process alias and can by this handle the ALIAS_SEND and ALIAS_SEND_TT control messages."
    ALIAS = 1 << 35;
    /// `1 bsl 36`: "The node supports all capabilities that are mandatory in OTP 25."
    MANDATORY_25_DIGEST = 1 << 36;
}

impl DistFlags {
    /// No flags.
    pub const EMPTY: DistFlags = DistFlags(0);

    /// What OTP 25/26 refuse to connect without: a peer missing any of these is refused.
    pub const MANDATORY: DistFlags = DistFlags(
        Self::EXTENDED_REFERENCES.0
            | Self::FUN_TAGS.0
            | Self::EXTENDED_PIDS_PORTS.0
            | Self::UTF8_ATOMS.0
            | Self::NEW_FUN_TAGS.0
            | Self::BIG_CREATION.0
            | Self::NEW_FLOATS.0
            | Self::MAP_TAG.0
            | Self::EXPORT_PTR_TAG.0
            | Self::BIT_BINARIES.0
            | Self::HANDSHAKE_23.0,
    );

    /// The flags a ferrotp node advertises: the OTP 25/26 mandatory set plus
    /// monitors, fragments, spawn, aliases, the payload/sender control messages
    /// and the distribution-header atom cache. `PUBLISHED` unless `hidden`.
    pub fn ours(hidden: bool) -> DistFlags {
        let mut f = Self::MANDATORY
            | Self::V4_NC
            | Self::UNLINK_ID
            | Self::DIST_MONITOR
            | Self::DIST_MONITOR_NAME
            | Self::FRAGMENTS
            | Self::SPAWN
            | Self::ALIAS
            | Self::DIST_HDR_ATOM_CACHE
            | Self::SEND_SENDER
            | Self::EXIT_PAYLOAD
            | Self::BIG_SEQTRACE_LABELS
            | Self::SMALL_ATOM_TAGS
            | Self::UNICODE_IO;
        if !hidden {
            f = f | Self::PUBLISHED;
        }
        f
    }

    /// `true` when every flag of `other` is set here.
    pub fn contains(self, other: DistFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The mandatory flags missing from this set (empty when acceptable).
    pub fn missing_mandatory(self) -> DistFlags {
        DistFlags(Self::MANDATORY.0 & !self.0)
    }

    /// The low 32 bits (what version-5 messages carry).
    pub fn low(self) -> u32 {
        self.0 as u32
    }

    /// The high 32 bits (what the `'c'` complement message carries).
    pub fn high(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

impl BitOr for DistFlags {
    type Output = DistFlags;
    fn bitor(self, rhs: DistFlags) -> DistFlags {
        DistFlags(self.0 | rhs.0)
    }
}

impl BitAnd for DistFlags {
    type Output = DistFlags;
    fn bitand(self, rhs: DistFlags) -> DistFlags {
        DistFlags(self.0 & rhs.0)
    }
}

/// Lists the flag names: `DistFlags(EXTENDED_REFERENCES | FUN_TAGS | 0x8000)`.
impl fmt::Debug for DistFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DistFlags(")?;
        let mut rest = self.0;
        let mut first = true;
        for (name, value) in NAMES {
            if rest & value != 0 {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                rest &= !value;
                first = false;
            }
        }
        if rest != 0 {
            if !first {
                f.write_str(" | ")?;
            }
            write!(f, "{rest:#x}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_node_does_not_publish() {
        assert!(!DistFlags::ours(true).contains(DistFlags::PUBLISHED));
        assert!(DistFlags::ours(false).contains(DistFlags::PUBLISHED));
    }

    #[test]
    fn our_flags_satisfy_otp26_mandatory_set() {
        let ours = DistFlags::ours(true);
        assert_eq!(ours.missing_mandatory(), DistFlags::EMPTY);
        assert!(ours.contains(DistFlags::V4_NC | DistFlags::UNLINK_ID));
    }

    #[test]
    fn missing_mandatory_names_what_is_missing() {
        let f = DistFlags::MANDATORY.0 & !DistFlags::MAP_TAG.0;
        assert_eq!(DistFlags(f).missing_mandatory(), DistFlags::MAP_TAG);
        assert_eq!(format!("{:?}", DistFlags::MAP_TAG), "DistFlags(MAP_TAG)");
    }
}
