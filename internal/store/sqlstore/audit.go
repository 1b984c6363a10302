package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

var _ audit.Store = (*Store)(nil)

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
func (s *Store) AppendAudit(ctx context.Context, seal func(prevSeq int64, prevHash []byte) ([]audit.Record, error)) error {
	lock := "SELECT seq, hash FROM audit_head WHERE id = 1"
	if s.dialect == Postgres {
		lock += " FOR UPDATE"
	}
	return s.Tx(ctx, func(tx *sql.Tx) error {
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
			if _, err := tx.ExecContext(ctx, s.Q(auditInsertSQL[len(chunk)]), args...); err != nil {
				return fmt.Errorf("sqlstore: insert audit records: %w", err)
			}
		}
		last := recs[len(recs)-1]
		if _, err := tx.ExecContext(ctx, s.Q("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"), last.Seq, last.Hash); err != nil {
			return fmt.Errorf("sqlstore: move audit head: %w", err)
		}
		return nil
	})
}

// ScanAudit returns up to limit records with seq > afterSeq, in order.
func (s *Store) ScanAudit(ctx context.Context, afterSeq int64, limit int) ([]audit.Record, error) {
	return s.queryAudit(ctx, s.Q("SELECT "+auditColumns+" FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"), afterSeq, limit)
}

// LastAudit returns the last n records, oldest first.
func (s *Store) LastAudit(ctx context.Context, n int) ([]audit.Record, error) {
	recs, err := s.queryAudit(ctx, s.Q("SELECT "+auditColumns+" FROM audit_log ORDER BY seq DESC LIMIT ?"), n)
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs, err
}

// AuditHead returns the chain head (seq 0 and the genesis hash when empty).
func (s *Store) AuditHead(ctx context.Context) (int64, []byte, error) {
	var (
		seq  int64
		hash []byte
	)
	err := s.db.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, errors.New("sqlstore: the audit head row is missing (deleted?)")
	}
	if err != nil {
		return 0, nil, fmt.Errorf("sqlstore: read audit head: %w", err)
	}
	return seq, hash, nil
}

func (s *Store) queryAudit(ctx context.Context, query string, args ...any) ([]audit.Record, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read audit log: %w", err)
	}
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		var (
			r       audit.Record
			ts      int64
			details string
		)
		if err := rows.Scan(&r.Seq, &ts, &r.Actor, &r.Action, &r.Target, &r.Outcome, &r.Reason,
			&r.ClientAddr, &r.RequestID, &details, &r.PrevHash, &r.Hash); err != nil {
			return nil, fmt.Errorf("sqlstore: read audit record: %w", err)
		}
		r.Time = time.Unix(0, ts).UTC()
		if details != "" && details != "{}" {
			// A row whose details do not decode is reported by Verify as
			// not matching its hash (the decoded map stays empty).
			_ = json.Unmarshal([]byte(details), &r.Details)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: read audit log: %w", err)
	}
	return out, nil
}

func encodeDetails(d map[string]string) (string, error) {
	if len(d) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(d) // map keys are sorted by encoding/json
	if err != nil {
		return "", fmt.Errorf("sqlstore: encode audit details: %w", err)
	}
	return string(b), nil
}
