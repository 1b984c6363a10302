package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

// auditInsertChunk is how many records one INSERT carries (12 parameters
// each: far below SQLite's 32766 and PostgreSQL's 65535 limits).
const auditInsertChunk = 100

const auditColumns = "seq, ts, actor, action, target, outcome, reason, client_addr, request_id, details, prev_hash, hash"

// auditInsertSQL[n] is the '?' INSERT statement for n rows, built once from
// constants only (never from input).
var auditInsertSQL = func() []string {
	out := make([]string, auditInsertChunk+1)
	row := "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	for n := 1; n <= auditInsertChunk; n++ {
		out[n] = "INSERT INTO audit_log (" + auditColumns + ") VALUES " + strings.Repeat(row+", ", n-1) + row
	}
	return out
}()

// AppendAudit appends records in one transaction holding the chain head
// (SELECT ... FOR UPDATE on PostgreSQL; SQLite's immediate transaction
// already holds the database write lock), so concurrent appenders, in this
// process or others, form one chain.
func (s *AuditStore) AppendAudit(ctx context.Context, seal func(prevSeq int64, prevHash []byte) ([]audit.Record, error)) error {
	lock := "SELECT seq, hash FROM audit_head WHERE id = 1"
	if s.d.dialect == Postgres {
		lock += " FOR UPDATE"
	}
	// The full-chunk insert is prepared once (outside the transaction: it
	// needs a connection of its own); SQLite spends longer preparing this
	// statement than running it.
	s.d.prepare(ctx, s.d.Q(auditInsertSQL[auditInsertChunk]))
	return s.d.Tx(ctx, func(tx *sql.Tx) error {
		var (
			seq  int64
			hash []byte
		)
		if err := tx.QueryRowContext(ctx, lock).Scan(&seq, &hash); err != nil {
			return fmt.Errorf("sqlstore: read audit head: %w", err)
		}
		recs, err := seal(seq, hash)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		if err := checkLinked(seq, hash, recs); err != nil {
			return err
		}
		for start := 0; start < len(recs); start += auditInsertChunk {
			chunk := recs[start:min(start+auditInsertChunk, len(recs))]
			args := make([]any, 0, 12*len(chunk))
			for i := range chunk {
				r := &chunk[i]
				details, err := encodeDetails(r.Details)
				if err != nil {
					return err
				}
				args = append(args, r.Seq, r.Time.UnixNano(), r.Actor, r.Action, r.Target, r.Outcome,
					r.Reason, r.ClientAddr, r.RequestID, details, r.PrevHash, r.Hash)
			}
			if err := s.d.execTx(ctx, tx, s.d.Q(auditInsertSQL[len(chunk)]), args...); err != nil {
				return fmt.Errorf("sqlstore: insert audit records: %w", err)
			}
		}
		last := recs[len(recs)-1]
		if _, err := tx.ExecContext(ctx, s.d.Q("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"), last.Seq, last.Hash); err != nil {
			return fmt.Errorf("sqlstore: move audit head: %w", err)
		}
		return nil
	})
}

// checkLinked refuses records that do not continue the head: a bug in seal
// must not write a forked chain that only the next verification notices.
func checkLinked(seq int64, hash []byte, recs []audit.Record) error {
	for i := range recs {
		if recs[i].Seq != seq+1 || !bytes.Equal(recs[i].PrevHash, hash) {
			return fmt.Errorf("sqlstore: audit record %d does not continue the chain head (seq %d)", recs[i].Seq, seq)
		}
		seq, hash = recs[i].Seq, recs[i].Hash
	}
	return nil
}

// ScanAudit returns up to limit records with seq > afterSeq, in order.
func (s *AuditStore) ScanAudit(ctx context.Context, afterSeq int64, limit int) ([]audit.Record, error) {
	if limit < 1 {
		return nil, fmt.Errorf("sqlstore: scan audit: limit %d, want at least 1", limit)
	}
	return s.queryAudit(ctx, s.d.Q("SELECT "+auditColumns+" FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"), afterSeq, limit)
}

// LastAudit returns the last n records, oldest first.
func (s *AuditStore) LastAudit(ctx context.Context, n int) ([]audit.Record, error) {
	if n < 1 {
		return nil, fmt.Errorf("sqlstore: last audit: n %d, want at least 1", n)
	}
	recs, err := s.queryAudit(ctx, s.d.Q("SELECT "+auditColumns+" FROM audit_log ORDER BY seq DESC LIMIT ?"), n)
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs, err
}

// AuditHead returns the chain head (seq 0 and the genesis hash when empty).
func (s *AuditStore) AuditHead(ctx context.Context) (int64, []byte, error) {
	var (
		seq  int64
		hash []byte
	)
	err := s.d.db.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, errors.New("sqlstore: the audit head row is missing (deleted?)")
	}
	if err != nil {
		return 0, nil, fmt.Errorf("sqlstore: read audit head: %w", err)
	}
	return seq, hash, nil
}

func (s *AuditStore) queryAudit(ctx context.Context, query string, args ...any) ([]audit.Record, error) {
	rows, err := s.d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read audit log: %w", err)
	}
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		// Columns are scanned untyped and checked one by one, so a row edited
		// to hold a NULL or a value of another type is still returned, marked
		// Malformed, and Verify names it instead of failing on a scan error.
		var (
			seq  int64
			cols [11]any
		)
		dest := []any{&seq}
		for i := range cols {
			dest = append(dest, &cols[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlstore: read audit record: %w", err)
		}
		out = append(out, decodeAuditRow(seq, &cols))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: read audit log: %w", err)
	}
	return out, nil
}

// auditColumnNames are the columns after seq, in auditColumns order.
var auditColumnNames = [11]string{"ts", "actor", "action", "target", "outcome", "reason", "client_addr", "request_id", "details", "prev_hash", "hash"}

// decodeAuditRow turns the columns after seq into a record, accepting only
// what AppendAudit writes: an integer ts, text columns as text, hashes as
// bytes and details in canonical JSON. The first deviation is recorded in
// Malformed.
func decodeAuditRow(seq int64, cols *[11]any) audit.Record {
	r := audit.Record{Seq: seq}
	malformed := func(format string, args ...any) {
		if r.Malformed == "" {
			r.Malformed = fmt.Sprintf(format, args...)
		}
	}
	if ts, ok := cols[0].(int64); ok {
		r.Time = time.Unix(0, ts).UTC()
	} else {
		malformed("column ts holds %s, not an integer", typeName(cols[0]))
	}
	texts := [...]*string{&r.Actor, &r.Action, &r.Target, &r.Outcome, &r.Reason, &r.ClientAddr, &r.RequestID}
	for i, dst := range texts {
		if v, ok := cols[1+i].(string); ok {
			*dst = v
		} else {
			malformed("column %s holds %s, not text", auditColumnNames[1+i], typeName(cols[1+i]))
		}
	}
	if v, ok := cols[8].(string); ok {
		d, canonical := decodeDetails(v)
		r.Details = d
		if !canonical {
			malformed("column details is not the canonical JSON of a string map")
		}
	} else {
		malformed("column details holds %s, not text", typeName(cols[8]))
	}
	for i, dst := range [...]*[]byte{&r.PrevHash, &r.Hash} {
		if v, ok := cols[9+i].([]byte); ok {
			*dst = v
		} else {
			malformed("column %s holds %s, not bytes", auditColumnNames[9+i], typeName(cols[9+i]))
		}
	}
	return r
}

func typeName(v any) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprintf("a %T", v)
}

// encodeDetails is the stored form of details: "{}" when empty, else
// encoding/json's encoding of the map (keys sorted, deterministic).
func encodeDetails(d map[string]string) (string, error) {
	if len(d) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("sqlstore: encode audit details: %w", err)
	}
	return string(b), nil
}

// decodeDetails decodes a stored details column and reports whether it is
// exactly what encodeDetails writes. The hash covers the decoded map, so
// without this check an edit that decodes to the same map (a duplicate key
// whose last value wins, added whitespace, another escape) would go
// unnoticed while showing different text to anyone reading the column.
func decodeDetails(s string) (map[string]string, bool) {
	var d map[string]string
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, false
	}
	again, err := encodeDetails(d)
	return d, err == nil && again == s
}
