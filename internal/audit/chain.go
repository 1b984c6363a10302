package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"time"
)

// Record is an Event as stored: its position in the chain and its hashes.
type Record struct {
	Seq int64
	Event
	PrevHash []byte
	Hash     []byte
	// Malformed is set by a Store when the stored row cannot be read back
	// exactly as Rampart wrote it (a NULL, a column of another type, details
	// that are not in their canonical JSON form). It is not hashed; Verify
	// reports such a record as tampered, and Format shows it.
	Malformed string
}

// HashSize is the size of every chain hash (SHA-256).
const HashSize = sha256.Size

// canonicalVersion is the first byte of the canonical encoding; a future
// format gets a new version and old records keep verifying.
const canonicalVersion = 1

// GenesisHash is the prev_hash of record 1: 32 zero bytes.
func GenesisHash() []byte { return make([]byte, HashSize) }

// Canonical returns the canonical encoding of a record's fields, the input
// of its hash. It is the whole format an auditor needs to re-implement
// verification. Version 1 (all integers big-endian, strings as their UTF-8
// bytes exactly as stored):
//
//	version  1 byte (= 1)
//	seq      8 bytes (int64, two's complement)
//	time     8 bytes (int64 Unix nanoseconds, UTC)
//	actor, action, target, outcome, reason, client_addr, request_id:
//	         in this order, each a 4-byte length followed by that many bytes
//	details  4-byte count, then per entry in ascending byte order of keys:
//	         4-byte key length, key, 4-byte value length, value
//
// A record's hash is SHA-256(prev_hash || Canonical(seq, event)) (see
// ChainHash); record 1's prev_hash is 32 zero bytes (GenesisHash) and every
// later record's prev_hash is the previous record's hash. A valid log has
// seqs 1..n without gaps, every prev_hash linking, every hash matching, and
// a head row equal to (n, hash of record n). See Verify.
//
// Every field is length-prefixed, so no two different records share an
// encoding (moving bytes between fields changes it), and the seq is hashed,
// so reordering or deleting records breaks the chain. An empty and a missing
// details map encode the same (count 0).
func Canonical(seq int64, e *Event) []byte {
	strs := [...]string{e.Actor, e.Action, e.Target, e.Outcome, e.Reason, e.ClientAddr, e.RequestID}
	n := 1 + 8 + 8 + 4*len(strs) + 4
	for _, s := range strs {
		n += len(s)
	}
	keys := make([]string, 0, len(e.Details))
	for k, v := range e.Details {
		keys = append(keys, k)
		n += 8 + len(k) + len(v)
	}
	sort.Strings(keys)
	b := make([]byte, 0, n)
	b = append(b, canonicalVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))               // #nosec G115 -- bit-for-bit encoding of a signed value.
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano())) // #nosec G115 -- bit-for-bit encoding of a signed value.
	for _, s := range strs {
		b = appendString(b, s)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys))) // #nosec G115 -- validate caps details at maxDetails.
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, e.Details[k])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s))) // #nosec G115 -- validate caps every field far below 4 GiB.
	return append(b, s...)
}

// ChainHash returns SHA-256(prevHash || canonical).
func ChainHash(prevHash, canonical []byte) []byte {
	h := sha256.New()
	h.Write(prevHash)
	h.Write(canonical)
	return h.Sum(nil)
}

// seal turns events into records following (prevSeq, prevHash).
func seal(prevSeq int64, prevHash []byte, events []Event) []Record {
	out := make([]Record, len(events))
	for i := range events {
		seq := prevSeq + int64(i) + 1
		hash := ChainHash(prevHash, Canonical(seq, &events[i]))
		out[i] = Record{Seq: seq, Event: events[i], PrevHash: prevHash, Hash: hash}
		prevHash = hash
	}
	return out
}

// normalizeTime keeps what the store keeps: UTC nanoseconds.
func normalizeTime(t time.Time) time.Time { return time.Unix(0, t.UnixNano()).UTC() }
