package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/rampart-auth/rampart/internal/audit"
)

// QueryAudit returns the records matching q, in sequence order. The
// statement is assembled from constant fragments only; every value the
// caller gives is a bound parameter (no SQL injection through a filter).
func (s *AuditStore) QueryAudit(ctx context.Context, q audit.Query) ([]audit.Record, error) {
	if q.Limit < 1 || q.Limit > audit.MaxQueryLimit {
		return nil, fmt.Errorf("sqlstore: query audit: limit %d, want 1..%d", q.Limit, audit.MaxQueryLimit)
	}
	where := []string{"seq > ?"}
	args := []any{q.AfterSeq}
	for _, f := range []struct {
		col string
		val string
	}{{"action = ?", q.Action}, {"actor = ?", q.Actor}, {"target = ?", q.Target}, {"outcome = ?", q.Outcome}} {
		if f.val != "" {
			where = append(where, f.col)
			args = append(args, f.val)
		}
	}
	if !q.Since.IsZero() {
		where = append(where, "ts >= ?")
		args = append(args, nanos(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, "ts < ?")
		args = append(args, nanos(q.Until))
	}
	args = append(args, q.Limit)
	stmt := "SELECT " + auditColumns + " FROM audit_log WHERE " + strings.Join(where, " AND ") + " ORDER BY seq LIMIT ?" // #nosec G202 -- constant fragments only; values are parameters
	return s.queryAudit(ctx, s.d.Q(stmt), args...)
}
