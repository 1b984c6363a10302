package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
)

// ChainError names the first record where the chain does not hold. Seq 0
// means the head row itself is wrong.
type ChainError struct {
	Seq     int64
	Problem string
}

func (e *ChainError) Error() string { return fmt.Sprintf("record %d: %s", e.Seq, e.Problem) }

// VerifyResult summarizes an intact chain.
type VerifyResult struct {
	// Records is the number of records verified (the seq of the last one).
	Records int64
	// HeadHash is the hash of the last record verified (GenesisHash when
	// the log is empty). Keeping it outside the database lets a later
	// verification detect a rewritten chain.
	HeadHash []byte
}

func (r VerifyResult) String() string {
	if r.Records == 0 {
		return "0 records (empty log)"
	}
	return fmt.Sprintf("%d records, head sha256:%s", r.Records, hex.EncodeToString(r.HeadHash))
}

// verifyPage is how many records Verify reads per query.
const verifyPage = 2000

// Verify recomputes the whole chain and checks, in order of seq:
//
//   - seqs run from 1 without gaps (a deleted record);
//   - every record was read back exactly as written (Record.Malformed);
//   - every prev_hash is the previous record's hash (genesis for record 1)
//     (a reordered or replaced record);
//   - every hash is SHA-256(prev_hash || Canonical(record)) (an edited one);
//   - the head row (seq, hash) names a record that exists and whose hash it
//     holds (a truncated tail), and no record lies beyond the head (rows
//     appended by hand).
//
// It returns a *ChainError naming the first record that fails, or another
// error when the store fails. Verify may run while Rampart appends: it reads
// the head first, so records appended during the scan are verified too and
// are covered by a second read of the head, never reported as tampering.
// progress, when not nil, is called after each page with the last seq
// checked.
//
// Known limit: whoever can write the database can rewrite every record from
// some point on and the head consistently, or cut the tail and rewind the
// head; only a head hash kept elsewhere (signed checkpoints) detects that.
func Verify(ctx context.Context, s Store, progress func(checked int64)) (VerifyResult, error) {
	headSeq, headHash, err := s.AuditHead(ctx)
	if err != nil {
		return VerifyResult{}, err
	}
	if err := checkHead(headSeq, headHash); err != nil {
		return VerifyResult{}, err
	}
	prevHash := GenesisHash()
	var last int64
	for {
		recs, err := s.ScanAudit(ctx, last, verifyPage)
		if err != nil {
			return VerifyResult{}, err
		}
		for i := range recs {
			if err := verifyOne(&recs[i], last, prevHash); err != nil {
				return VerifyResult{}, err
			}
			r := &recs[i]
			if r.Seq == headSeq && !bytes.Equal(r.Hash, headHash) {
				return VerifyResult{}, &ChainError{Seq: r.Seq, Problem: "the head row names this record with another hash (record or head replaced?)"}
			}
			prevHash, last = r.Hash, r.Seq
		}
		if progress != nil && len(recs) > 0 {
			progress(last)
		}
		if len(recs) < verifyPage {
			break
		}
	}
	if last < headSeq {
		// Records up to headSeq were committed before the head was read,
		// and Rampart never deletes one.
		return VerifyResult{}, &ChainError{Seq: last + 1, Problem: fmt.Sprintf("missing: the head says the log has %d records, it ends at %d (truncated?)", headSeq, last)}
	}
	if last > headSeq {
		// Every append moves the head in the transaction that inserts its
		// records, so a head read now covers every record scanned.
		seq2, hash2, err := s.AuditHead(ctx)
		if err != nil {
			return VerifyResult{}, err
		}
		if err := checkHead(seq2, hash2); err != nil {
			return VerifyResult{}, err
		}
		switch {
		case seq2 < last:
			return VerifyResult{}, &ChainError{Seq: seq2 + 1, Problem: fmt.Sprintf("not covered by the head, which stops at %d (appended outside Rampart, or head rewound?)", seq2)}
		case seq2 == last && !bytes.Equal(hash2, prevHash):
			return VerifyResult{}, &ChainError{Seq: last, Problem: "the head row names this record with another hash (record or head replaced?)"}
		}
	}
	return VerifyResult{Records: last, HeadHash: prevHash}, nil
}

// checkHead checks the head row's shape; an empty log's head must be the
// genesis (seq 0, 32 zero bytes).
func checkHead(seq int64, hash []byte) error {
	switch {
	case seq < 0 || len(hash) != HashSize:
		return &ChainError{Seq: 0, Problem: fmt.Sprintf("the head row is malformed (seq %d, %d-byte hash)", seq, len(hash))}
	case seq == 0 && !bytes.Equal(hash, GenesisHash()):
		return &ChainError{Seq: 0, Problem: "the head row says the log is empty but holds a hash other than the genesis (log emptied?)"}
	}
	return nil
}

// verifyOne checks record r, which must follow record last whose hash is
// prevHash.
func verifyOne(r *Record, last int64, prevHash []byte) error {
	want := last + 1
	switch {
	case r.Seq != want:
		return &ChainError{Seq: want, Problem: fmt.Sprintf("missing: expected seq %d, found %d (deleted?)", want, r.Seq)}
	case r.Malformed != "":
		return &ChainError{Seq: r.Seq, Problem: r.Malformed + " (edited?)"}
	case !bytes.Equal(r.PrevHash, prevHash):
		if last == 0 {
			return &ChainError{Seq: r.Seq, Problem: "prev_hash is not the genesis hash (replaced?)"}
		}
		return &ChainError{Seq: r.Seq, Problem: fmt.Sprintf("prev_hash does not link to record %d (record %d replaced and rehashed, or records reordered?)", last, last)}
	case !bytes.Equal(r.Hash, ChainHash(prevHash, Canonical(r.Seq, &r.Event))):
		return &ChainError{Seq: r.Seq, Problem: "hash does not match its contents (edited?)"}
	}
	return nil
}

// MaxTail is the most records Tail returns.
const MaxTail = 100000

// Tail returns the last n records (1 ≤ n ≤ MaxTail), oldest first. It does
// not verify them; run Verify for that.
func Tail(ctx context.Context, s Store, n int) ([]Record, error) {
	if n < 1 || n > MaxTail {
		return nil, fmt.Errorf("audit: tail: n must be between 1 and %d", MaxTail)
	}
	return s.LastAudit(ctx, n)
}
