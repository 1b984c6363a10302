package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// ChainError names the first record where the chain does not hold.
type ChainError struct {
	Seq     int64
	Problem string
}

func (e *ChainError) Error() string { return fmt.Sprintf("record %d: %s", e.Seq, e.Problem) }

// VerifyResult summarizes an intact chain.
type VerifyResult struct {
	Records  int64
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

// Verify recomputes the whole chain: seq continuity from 1, each prev_hash
// linking to the previous record's hash, each hash matching the record's
// contents, and the head row matching the last record. It returns a
// *ChainError naming the first record that fails (an edited, deleted,
// reordered or truncated log), or another error when the store fails.
// progress, when not nil, is called after each page.
func Verify(ctx context.Context, s Store, progress func(checked int64)) (VerifyResult, error) {
	headSeq, headHash, err := s.AuditHead(ctx)
	if err != nil {
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
			r := &recs[i]
			want := last + 1
			switch {
			case r.Seq != want:
				return VerifyResult{}, &ChainError{Seq: want, Problem: fmt.Sprintf("missing: the next record is %d (deleted?)", r.Seq)}
			case !bytes.Equal(r.PrevHash, prevHash):
				return VerifyResult{}, &ChainError{Seq: r.Seq, Problem: fmt.Sprintf("prev_hash does not link to record %d (reordered or replaced?)", r.Seq-1)}
			case !bytes.Equal(r.Hash, ChainHash(prevHash, Canonical(r.Seq, &r.Event))):
				return VerifyResult{}, &ChainError{Seq: r.Seq, Problem: "hash does not match its contents (edited?)"}
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
	switch {
	case headSeq > last:
		return VerifyResult{}, &ChainError{Seq: last + 1, Problem: fmt.Sprintf("missing: the head says the log has %d records, it ends at %d (truncated?)", headSeq, last)}
	case headSeq < last:
		return VerifyResult{}, &ChainError{Seq: headSeq + 1, Problem: fmt.Sprintf("not covered by the head, which stops at %d (appended outside Rampart?)", headSeq)}
	case last > 0 && !bytes.Equal(headHash, prevHash):
		return VerifyResult{}, &ChainError{Seq: last, Problem: "the head hash does not match the last record (replaced?)"}
	}
	return VerifyResult{Records: last, HeadHash: prevHash}, nil
}

// Tail returns the last n records, oldest first.
func Tail(ctx context.Context, s Store, n int) ([]Record, error) {
	return s.LastAudit(ctx, n)
}

// Format writes one record as one line: human-readable text or, with
// jsonOut, a JSON object. Fields were validated to hold no control
// characters, so a record cannot forge extra lines.
func Format(w io.Writer, r Record, jsonOut bool) error {
	if jsonOut {
		return json.NewEncoder(w).Encode(struct {
			Seq        int64             `json:"seq"`
			Time       time.Time         `json:"time"`
			Actor      string            `json:"actor"`
			Action     string            `json:"action"`
			Target     string            `json:"target,omitempty"`
			Outcome    string            `json:"outcome"`
			Reason     string            `json:"reason,omitempty"`
			ClientAddr string            `json:"client_addr,omitempty"`
			RequestID  string            `json:"request_id,omitempty"`
			Details    map[string]string `json:"details,omitempty"`
			Hash       string            `json:"hash"`
		}{r.Seq, r.Time.UTC(), r.Actor, r.Action, r.Target, r.Outcome, r.Reason, r.ClientAddr, r.RequestID, r.Details, hex.EncodeToString(r.Hash)})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s #%d %s %s actor=%s", r.Time.UTC().Format(time.RFC3339Nano), r.Seq, r.Outcome, r.Action, quote(r.Actor))
	for _, kv := range [][2]string{{"target", r.Target}, {"reason", r.Reason}, {"addr", r.ClientAddr}, {"request_id", r.RequestID}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], quote(kv[1]))
		}
	}
	keys := make([]string, 0, len(r.Details))
	for k := range r.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", quote(k), quote(r.Details[k]))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
