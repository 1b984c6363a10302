package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// OAuth queries: constants with placeholders only. forUpdate marks queries
// that lock a row on PostgreSQL (READ COMMITTED) so two transactions on the
// same family or token serialize; SQLite's immediate transactions already
// serialize every writer, so the suffix is dropped there.
const (
	forUpdate = " FOR UPDATE"

	clientCols         = `id, secret_hash, public, grant_types, redirect_uris, scopes, audience, skip_consent, resource_server, access_ttl, refresh_ttl, refresh_idle_ttl, source, created_at, updated_at, require_dpop, auth_method, jwks, jwks_uri, require_par, require_mfa, display_name, logo_uri, policy_uri, tos_uri, post_logout_redirect_uris, profile, disabled, cert_bound_tokens`
	qInsertClient      = `INSERT INTO oauth_clients (` + clientCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qSelectClient      = `SELECT ` + clientCols + ` FROM oauth_clients WHERE id = ?`
	qListClients       = `SELECT ` + clientCols + ` FROM oauth_clients ORDER BY id`
	qUpdateSecret      = `UPDATE oauth_clients SET secret_hash = ?, updated_at = ? WHERE id = ?` // #nosec G101 -- SQL text, not a credential
	qDeleteClient      = `DELETE FROM oauth_clients WHERE id = ?`
	qClientFamilies    = `SELECT id FROM oauth_families WHERE client_id = ? AND revoked_at = 0`
	qDeleteCodesOf     = `DELETE FROM oauth_codes WHERE client_id = ?`
	qDeleteConsOf      = `DELETE FROM oauth_consents WHERE client_id = ?`
	qDeletePAROf       = `DELETE FROM oauth_par_requests WHERE client_id = ?`
	qSetClientDisabled = `UPDATE oauth_clients SET disabled = ?, updated_at = ? WHERE id = ?`

	codeCols    = `hash, client_id, user_id, redirect_uri, code_challenge, scopes, audience, nonce, auth_time, created_at, expires_at, dpop_jkt, amr`
	qInsertCode = `INSERT INTO oauth_codes (` + codeCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUseCode    = `UPDATE oauth_codes SET used_at = ? WHERE hash = ? AND used_at = 0`
	qSelectCode = `SELECT ` + codeCols + ` FROM oauth_codes WHERE hash = ?`

	qInsertFamily     = `INSERT INTO oauth_families (id, client_id, user_id, code_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`
	qLockFamily       = `SELECT revoked_at FROM oauth_families WHERE id = ?`
	qFamilyByCode     = `SELECT id FROM oauth_families WHERE code_hash = ?`
	qRevokeFamily     = `UPDATE oauth_families SET revoked_at = ? WHERE id = ? AND revoked_at = 0`
	qRevokeFamTokens  = `UPDATE oauth_refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at = 0` // #nosec G101 -- SQL text, not a credential
	qFamilyAccess     = `SELECT jti, expires_at FROM oauth_family_access WHERE family_id = ? AND expires_at > ? ORDER BY jti`
	qUserClientFamily = `SELECT id FROM oauth_families WHERE user_id = ? AND client_id = ?`

	refreshCols    = `hash, family_id, client_id, user_id, scopes, audience, auth_time, created_at, expires_at, used_at, revoked_at, dpop_jkt, amr, x5t_s256`
	qInsertRefresh = `INSERT INTO oauth_refresh_tokens (` + refreshCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qSelectRefresh = `SELECT t.hash, t.family_id, t.client_id, t.user_id, t.scopes, t.audience, t.auth_time, t.created_at, t.expires_at, t.used_at,
       t.revoked_at, f.revoked_at, f.expires_at, t.dpop_jkt, t.amr, t.x5t_s256
  FROM oauth_refresh_tokens t JOIN oauth_families f ON f.id = t.family_id WHERE t.hash = ?`
	qLockRefresh  = `SELECT family_id FROM oauth_refresh_tokens WHERE hash = ?`
	qUseRefresh   = `UPDATE oauth_refresh_tokens SET used_at = ? WHERE hash = ? AND used_at = 0 AND revoked_at = 0`
	qInsertAccess = `INSERT INTO oauth_family_access (jti, family_id, expires_at) VALUES (?, ?, ?)`

	qDenyJTISQLite   = `INSERT INTO oauth_denied_jti (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)`
	qDenyJTIPostgres = `INSERT INTO oauth_denied_jti (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO UPDATE SET expires_at = GREATEST(oauth_denied_jti.expires_at, excluded.expires_at)`
	qIsDenied        = `SELECT 1 FROM oauth_denied_jti WHERE jti = ? AND expires_at > ?`

	qSelectConsent = `SELECT user_id, client_id, scopes, audience, granted_at FROM oauth_consents WHERE user_id = ? AND client_id = ?`
	qUpsertConsent = `INSERT INTO oauth_consents (user_id, client_id, scopes, audience, granted_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, audience = excluded.audience, granted_at = excluded.granted_at`
	qDeleteConsent = `DELETE FROM oauth_consents WHERE user_id = ? AND client_id = ?`
	qListConsents  = `SELECT user_id, client_id, scopes, audience, granted_at FROM oauth_consents WHERE user_id = ? ORDER BY client_id`

	qPurgeCodes    = `DELETE FROM oauth_codes WHERE expires_at < ?`
	qPurgeRefresh  = `DELETE FROM oauth_refresh_tokens WHERE expires_at < ? OR family_id IN (SELECT id FROM oauth_families WHERE expires_at < ?)`
	qPurgeAccess   = `DELETE FROM oauth_family_access WHERE expires_at < ? OR family_id IN (SELECT id FROM oauth_families WHERE expires_at < ?)`
	qPurgeFamilies = `DELETE FROM oauth_families WHERE expires_at < ?`
	qPurgeDenied   = `DELETE FROM oauth_denied_jti WHERE expires_at < ?`
)

// lockQ returns the query with FOR UPDATE on PostgreSQL.
func (s *OAuthStore) lockQ(q string) string {
	if s.d.dialect == Postgres {
		return s.d.Q(q + forUpdate)
	}
	return s.d.Q(q)
}

// isUnique reports a unique-constraint violation on either driver.
func isUnique(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func encodeList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// decodeList reads a JSON array of strings; empty reads back as nil.
func decodeList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("sqlstore: malformed list column: %w", err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// PurgeExpired deletes codes, tokens, families and deny-list entries that
// expired before the time.
func (s *OAuthStore) PurgeExpired(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	b := nanos(before)
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{qPurgeCodes, []any{b}}, {qPurgePrevSecret, []any{b}}, {qPurgeRefresh, []any{b, b}}, {qPurgeAccess, []any{b, b}}, {qPurgeFamilies, []any{b}}, {qPurgeDenied, []any{b}},
			{qPurgeAssertionIDs, []any{b}}, {qPurgePAR, []any{b, b}}, {qPurgeDevices, []any{b}},
		} {
			res, err := tx.ExecContext(ctx, s.d.Q(q.sql), q.args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge: %w", err)
	}
	return total, nil
}
