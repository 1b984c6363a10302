package sqlstore

import (
	"context"
	"database/sql"
)

// queryCached runs the constant query q (already rebound) through the
// cached prepared statement (prepare), preparing it on first use: hot
// reads (a secret read, the access-token deny list) skip SQLite's
// parser, which otherwise costs more than the lookup itself.
func (s *DB) queryCached(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := s.cached(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.db.QueryContext(ctx, q, args...)
}

// queryRowCached is queryCached for one row.
func (s *DB) queryRowCached(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.cached(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.db.QueryRowContext(ctx, q, args...)
}

func (s *DB) cached(ctx context.Context, q string) *sql.Stmt {
	v, ok := s.stmts.Load(q)
	if !ok {
		s.prepare(ctx, q)
		if v, ok = s.stmts.Load(q); !ok {
			return nil
		}
	}
	return v.(*sql.Stmt)
}
