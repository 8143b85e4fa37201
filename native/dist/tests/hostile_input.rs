//! No bytes from a peer make the decoding layers panic: every layer answers
//! arbitrary input with a value or a typed error.

use bytes::Bytes;
use dist::epmd::{Alive2Resp, EpmdRequest, NamesResp, Port2Resp};
use dist::framing::{Frame, Reassembler};
use dist::handshake::{Challenge, ChallengeAck, ChallengeReply, Complement, SendName, Status};
use dist::message::decode;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn framing_and_message_decoding_never_panic(packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..8)) {
        let mut r = Reassembler::new(1 << 16, 4);
        for p in packets {
            if let Ok(frame) = Frame::decode(Bytes::from(p)) {
                if let Ok(Some(m)) = r.push(frame) {
                    let _ = decode(&m);
                }
            }
        }
    }

    #[test]
    fn dist_packets_with_a_valid_prefix_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200), tag in 68u8..=70) {
        let mut p = vec![131, tag];
        p.extend(body);
        let mut r = Reassembler::new(1 << 16, 4);
        if let Ok(frame) = Frame::decode(Bytes::from(p)) {
            if let Ok(Some(m)) = r.push(frame) {
                let _ = decode(&m);
            }
        }
    }

    #[test]
    fn handshake_and_epmd_decoding_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = SendName::decode(&b);
        let _ = Status::decode(&b);
        let _ = Challenge::decode(&b);
        let _ = Complement::decode(&b);
        let _ = ChallengeReply::decode(&b);
        let _ = ChallengeAck::decode(&b);
        let _ = EpmdRequest::decode(&b);
        let _ = Alive2Resp::decode(&b);
        let _ = Port2Resp::decode(&b);
        let _ = NamesResp::decode(&b);
    }
}
