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

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
)

// OAuth queries: constants with placeholders only. forUpdate marks queries
// that lock a row on PostgreSQL (READ COMMITTED) so two transactions on the
// same family or token serialize; SQLite's immediate transactions already
// serialize every writer, so the suffix is dropped there.
const (
	forUpdate = " FOR UPDATE"

	clientCols      = `id, secret_hash, public, grant_types, redirect_uris, scopes, audience, skip_consent, resource_server, access_ttl, refresh_ttl, refresh_idle_ttl, source, created_at, updated_at`
	qInsertClient   = `INSERT INTO oauth_clients (` + clientCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qSelectClient   = `SELECT ` + clientCols + ` FROM oauth_clients WHERE id = ?`
	qListClients    = `SELECT ` + clientCols + ` FROM oauth_clients ORDER BY id`
	qUpdateSecret   = `UPDATE oauth_clients SET secret_hash = ?, updated_at = ? WHERE id = ?` // #nosec G101 -- SQL text, not a credential
	qDeleteClient   = `DELETE FROM oauth_clients WHERE id = ?`
	qClientFamilies = `SELECT id FROM oauth_families WHERE client_id = ?`
	qDeleteCodesOf  = `DELETE FROM oauth_codes WHERE client_id = ?`
	qDeleteConsOf   = `DELETE FROM oauth_consents WHERE client_id = ?`

	codeCols    = `hash, client_id, user_id, redirect_uri, code_challenge, scopes, audience, nonce, auth_time, created_at, expires_at`
	qInsertCode = `INSERT INTO oauth_codes (` + codeCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUseCode    = `UPDATE oauth_codes SET used_at = ? WHERE hash = ? AND used_at = 0`
	qSelectCode = `SELECT ` + codeCols + ` FROM oauth_codes WHERE hash = ?`

	qInsertFamily     = `INSERT INTO oauth_families (id, client_id, user_id, code_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`
	qLockFamily       = `SELECT revoked_at FROM oauth_families WHERE id = ?`
	qFamilyByCode     = `SELECT id FROM oauth_families WHERE code_hash = ?`
	qRevokeFamily     = `UPDATE oauth_families SET revoked_at = ? WHERE id = ? AND revoked_at = 0`
	qRevokeFamTokens  = `UPDATE oauth_refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at = 0` // #nosec G101 -- SQL text, not a credential
	qFamilyAccess     = `SELECT jti, expires_at FROM oauth_family_access WHERE family_id = ? AND expires_at > ? ORDER BY jti`
	qUserClientFamily = `SELECT id FROM oauth_families WHERE user_id = ? AND client_id = ?`

	refreshCols    = `hash, family_id, client_id, user_id, scopes, audience, auth_time, created_at, expires_at, used_at, revoked_at`
	qInsertRefresh = `INSERT INTO oauth_refresh_tokens (` + refreshCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qSelectRefresh = `SELECT t.hash, t.family_id, t.client_id, t.user_id, t.scopes, t.audience, t.auth_time, t.created_at, t.expires_at, t.used_at,
       t.revoked_at, f.revoked_at, f.expires_at
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

type scanner interface{ Scan(...any) error }

func scanClient(r scanner) (*oauth.Client, error) {
	var (
		c                                        oauth.Client
		public, skip, rs                         int64
		grants, redirects, scopes, aud           string
		accessTTL, refreshTTL, idleTTL, cAt, uAt int64
	)
	if err := r.Scan(&c.ID, &c.SecretHash, &public, &grants, &redirects, &scopes, &aud, &skip, &rs, &accessTTL, &refreshTTL, &idleTTL, &c.Source, &cAt, &uAt); err != nil {
		return nil, err
	}
	var err error
	for _, f := range []struct {
		dst *[]string
		src string
	}{{&c.GrantTypes, grants}, {&c.RedirectURIs, redirects}, {&c.Scopes, scopes}, {&c.Audience, aud}} {
		if *f.dst, err = decodeList(f.src); err != nil {
			return nil, err
		}
	}
	c.Public, c.SkipConsent, c.ResourceServer = public != 0, skip != 0, rs != 0
	c.AccessTokenTTL, c.RefreshTokenTTL, c.RefreshTokenIdleTTL = time.Duration(accessTTL), time.Duration(refreshTTL), time.Duration(idleTTL)
	c.CreatedAt, c.UpdatedAt = fromNanos(cAt), fromNanos(uAt)
	return &c, nil
}

// CreateClient stores a client made with the CLI.
func (s *OAuthStore) CreateClient(ctx context.Context, c *oauth.Client) error {
	_, err := s.d.db.ExecContext(ctx, s.d.Q(qInsertClient), c.ID, c.SecretHash, b2i(c.Public), encodeList(c.GrantTypes), encodeList(c.RedirectURIs),
		encodeList(c.Scopes), encodeList(c.Audience), b2i(c.SkipConsent), b2i(c.ResourceServer), int64(c.AccessTokenTTL), int64(c.RefreshTokenTTL),
		int64(c.RefreshTokenIdleTTL), c.Source, nanos(c.CreatedAt), nanos(c.UpdatedAt))
	if isUnique(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create client: %w", err)
	}
	return nil
}

// GetClient returns a stored client.
func (s *OAuthStore) GetClient(ctx context.Context, id string) (*oauth.Client, error) {
	c, err := scanClient(s.d.db.QueryRowContext(ctx, s.d.Q(qSelectClient), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get client: %w", err)
	}
	return c, nil
}

// ListClients returns the stored clients by id.
func (s *OAuthStore) ListClients(ctx context.Context) ([]oauth.Client, error) {
	rows, err := s.d.db.QueryContext(ctx, s.d.Q(qListClients))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list clients: %w", err)
	}
	defer rows.Close()
	var out []oauth.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list clients: %w", err)
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

// UpdateClientSecret replaces a client's secret hash.
func (s *OAuthStore) UpdateClientSecret(ctx context.Context, id, secretHash string, now time.Time) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qUpdateSecret), secretHash, nanos(now), id)
	if err != nil {
		return fmt.Errorf("sqlstore: update client secret: %w", err)
	}
	return oneRow(res, store.ErrNotFound)
}

// DeleteClient removes a client, revokes its families and deletes its
// codes and consents, in one transaction.
func (s *OAuthStore) DeleteClient(ctx context.Context, id string, now time.Time) ([]oauth.IssuedAccess, error) {
	var out []oauth.IssuedAccess
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.Q(qDeleteClient), id)
		if err != nil {
			return err
		}
		if err := oneRow(res, store.ErrNotFound); err != nil {
			return err
		}
		fams, err := s.familyIDs(ctx, tx, s.d.Q(qClientFamilies), id)
		if err != nil {
			return err
		}
		for _, f := range fams {
			acc, err := s.revokeFamilyTx(ctx, tx, f, now)
			if err != nil {
				return err
			}
			out = append(out, acc...)
		}
		if _, err := tx.ExecContext(ctx, s.d.Q(qDeleteCodesOf), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.Q(qDeleteConsOf), id)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("sqlstore: delete client: %w", err)
	}
	return out, err
}

func (s *OAuthStore) familyIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// SaveCode stores an authorization code.
func (s *OAuthStore) SaveCode(ctx context.Context, c *oauth.AuthCode) error {
	_, err := s.d.db.ExecContext(ctx, s.d.Q(qInsertCode), c.Hash, c.ClientID, c.UserID, c.RedirectURI, c.CodeChallenge, encodeList(c.Scopes),
		encodeList(c.Audience), c.Nonce, nanos(c.AuthTime), nanos(c.CreatedAt), nanos(c.ExpiresAt))
	if isUnique(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("sqlstore: save code: %w", err)
	}
	return nil
}

func scanCode(r scanner) (*oauth.AuthCode, error) {
	var (
		c                  oauth.AuthCode
		scopes, aud        string
		authAt, cAt, expAt int64
	)
	if err := r.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.RedirectURI, &c.CodeChallenge, &scopes, &aud, &c.Nonce, &authAt, &cAt, &expAt); err != nil {
		return nil, err
	}
	var err error
	if c.Scopes, err = decodeList(scopes); err != nil {
		return nil, err
	}
	if c.Audience, err = decodeList(aud); err != nil {
		return nil, err
	}
	c.AuthTime, c.CreatedAt, c.ExpiresAt = fromNanos(authAt), fromNanos(cAt), fromNanos(expAt)
	return &c, nil
}

// RedeemCode marks the code used and creates its family, atomically: of
// two concurrent redeemers exactly one sees its UPDATE change a row.
func (s *OAuthStore) RedeemCode(ctx context.Context, hash []byte, f *oauth.Family, now time.Time) (*oauth.AuthCode, error) {
	var code *oauth.AuthCode
	var used bool
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.Q(qUseCode), nanos(now), hash)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		code, err = scanCode(tx.QueryRowContext(ctx, s.d.Q(qSelectCode), hash))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if n == 0 {
			used = true
			return nil
		}
		f.CodeHash, f.ClientID, f.UserID = hash, code.ClientID, code.UserID
		_, err = tx.ExecContext(ctx, s.d.Q(qInsertFamily), f.ID, f.ClientID, f.UserID, f.CodeHash, nanos(f.CreatedAt), nanos(f.ExpiresAt))
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("sqlstore: redeem code: %w", err)
	case used:
		return code, store.ErrUsed
	}
	return code, nil
}

// RevokeCodeFamily revokes the family made from the code, if any.
func (s *OAuthStore) RevokeCodeFamily(ctx context.Context, codeHash []byte, now time.Time) ([]oauth.IssuedAccess, error) {
	var out []oauth.IssuedAccess
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, s.d.Q(qFamilyByCode), codeHash).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		out, err = s.revokeFamilyTx(ctx, tx, id, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: revoke code family: %w", err)
	}
	return out, nil
}

// CreateFamily stores a family not made from a code.
func (s *OAuthStore) CreateFamily(ctx context.Context, f *oauth.Family) error {
	var code any
	if f.CodeHash != nil {
		code = f.CodeHash
	}
	_, err := s.d.db.ExecContext(ctx, s.d.Q(qInsertFamily), f.ID, f.ClientID, f.UserID, code, nanos(f.CreatedAt), nanos(f.ExpiresAt))
	if isUnique(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create family: %w", err)
	}
	return nil
}

// lockLiveFamily locks the family row and fails with ErrRevoked when the
// family is revoked, ErrNotFound when it does not exist.
func (s *OAuthStore) lockLiveFamily(ctx context.Context, tx *sql.Tx, id string) error {
	var revoked int64
	err := tx.QueryRowContext(ctx, s.lockQ(qLockFamily), id).Scan(&revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	if revoked != 0 {
		return store.ErrRevoked
	}
	return nil
}

func insertRefresh(ctx context.Context, s *OAuthStore, tx *sql.Tx, t *oauth.RefreshToken) error {
	_, err := tx.ExecContext(ctx, s.d.Q(qInsertRefresh), t.Hash, t.FamilyID, t.ClientID, t.UserID, encodeList(t.Scopes), encodeList(t.Audience),
		nanos(t.AuthTime), nanos(t.CreatedAt), nanos(t.ExpiresAt), nanos(t.UsedAt), nanos(t.RevokedAt))
	if isUnique(err) {
		return store.ErrConflict
	}
	return err
}

// SaveRefresh stores a refresh token in a live family.
func (s *OAuthStore) SaveRefresh(ctx context.Context, t *oauth.RefreshToken) error {
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockLiveFamily(ctx, tx, t.FamilyID); err != nil {
			return err
		}
		return insertRefresh(ctx, s, tx, t)
	})
	if err != nil && !isSentinel(err) {
		return fmt.Errorf("sqlstore: save refresh token: %w", err)
	}
	return err
}

func isSentinel(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrRevoked) || errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrConflict)
}

// RecordAccess records an access token in a live family.
func (s *OAuthStore) RecordAccess(ctx context.Context, familyID string, a oauth.IssuedAccess) error {
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockLiveFamily(ctx, tx, familyID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.Q(qInsertAccess), a.JTI, familyID, nanos(a.ExpiresAt))
		if isUnique(err) {
			return store.ErrConflict
		}
		return err
	})
	if err != nil && !isSentinel(err) {
		return fmt.Errorf("sqlstore: record access token: %w", err)
	}
	return err
}

func scanRefresh(r scanner) (*oauth.RefreshToken, error) {
	var (
		t                                                 oauth.RefreshToken
		scopes, aud                                       string
		authAt, cAt, expAt, usedAt, revAt, famRev, famExp int64
	)
	if err := r.Scan(&t.Hash, &t.FamilyID, &t.ClientID, &t.UserID, &scopes, &aud, &authAt, &cAt, &expAt, &usedAt, &revAt, &famRev, &famExp); err != nil {
		return nil, err
	}
	var err error
	if t.Scopes, err = decodeList(scopes); err != nil {
		return nil, err
	}
	if t.Audience, err = decodeList(aud); err != nil {
		return nil, err
	}
	if revAt == 0 {
		revAt = famRev
	}
	t.AuthTime, t.CreatedAt, t.ExpiresAt = fromNanos(authAt), fromNanos(cAt), fromNanos(expAt)
	t.UsedAt, t.RevokedAt, t.FamilyExpiresAt = fromNanos(usedAt), fromNanos(revAt), fromNanos(famExp)
	return &t, nil
}

// GetRefresh returns a refresh token, revoked if its family is.
func (s *OAuthStore) GetRefresh(ctx context.Context, hash []byte) (*oauth.RefreshToken, error) {
	t, err := scanRefresh(s.d.db.QueryRowContext(ctx, s.d.Q(qSelectRefresh), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get refresh token: %w", err)
	}
	return t, nil
}

// RotateRefresh marks the old token used and stores next in its family.
// The family row is locked first and the token row second, the same order
// as every other writer, so two rotations of one token serialize and the
// loser sees used_at set.
func (s *OAuthStore) RotateRefresh(ctx context.Context, oldHash []byte, next *oauth.RefreshToken, now time.Time) (*oauth.RefreshToken, error) {
	var old *oauth.RefreshToken
	var sentinel error
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		var famID string
		err := tx.QueryRowContext(ctx, s.d.Q(qLockRefresh), oldHash).Scan(&famID)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		ferr := s.lockLiveFamily(ctx, tx, famID)
		if ferr != nil && !errors.Is(ferr, store.ErrRevoked) {
			return ferr
		}
		if err := tx.QueryRowContext(ctx, s.lockQ(qLockRefresh), oldHash).Scan(&famID); err != nil {
			return err
		}
		old, err = scanRefresh(tx.QueryRowContext(ctx, s.d.Q(qSelectRefresh), oldHash))
		if err != nil {
			return err
		}
		switch {
		case ferr != nil || !old.RevokedAt.IsZero():
			sentinel = store.ErrRevoked
			return nil
		case !old.UsedAt.IsZero():
			sentinel = store.ErrUsed
			return nil
		}
		res, err := tx.ExecContext(ctx, s.d.Q(qUseRefresh), nanos(now), oldHash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			sentinel = store.ErrUsed
			return err
		}
		next.FamilyID = old.FamilyID
		return insertRefresh(ctx, s, tx, next)
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return old, err
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: rotate refresh token: %w", err)
	}
	return old, sentinel
}

// revokeFamilyTx revokes a family inside tx and returns its live access
// tokens.
func (s *OAuthStore) revokeFamilyTx(ctx context.Context, tx *sql.Tx, id string, now time.Time) ([]oauth.IssuedAccess, error) {
	var revoked int64
	err := tx.QueryRowContext(ctx, s.lockQ(qLockFamily), id).Scan(&revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.d.Q(qRevokeFamily), nanos(now), id); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.d.Q(qRevokeFamTokens), nanos(now), id); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, s.d.Q(qFamilyAccess), id, nanos(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []oauth.IssuedAccess
	for rows.Next() {
		var a oauth.IssuedAccess
		var exp int64
		if err := rows.Scan(&a.JTI, &exp); err != nil {
			return nil, err
		}
		a.ExpiresAt = fromNanos(exp)
		out = append(out, a)
	}
	return out, rows.Err()
}

// RevokeFamily revokes a family and all its refresh tokens.
func (s *OAuthStore) RevokeFamily(ctx context.Context, familyID string, now time.Time) ([]oauth.IssuedAccess, error) {
	var out []oauth.IssuedAccess
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.revokeFamilyTx(ctx, tx, familyID, now)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: revoke family: %w", err)
	}
	return out, nil
}

// RevokeUserClient revokes every family of the user with the client.
func (s *OAuthStore) RevokeUserClient(ctx context.Context, userID, clientID string, now time.Time) ([]oauth.IssuedAccess, error) {
	var out []oauth.IssuedAccess
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		ids, err := s.familyIDs(ctx, tx, s.d.Q(qUserClientFamily), userID, clientID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			acc, err := s.revokeFamilyTx(ctx, tx, id, now)
			if err != nil {
				return err
			}
			out = append(out, acc...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: revoke user's client tokens: %w", err)
	}
	return out, nil
}

// DenyJTI lists an access token id until expiresAt (a later expiry wins).
func (s *OAuthStore) DenyJTI(ctx context.Context, jti string, expiresAt time.Time) error {
	q := qDenyJTISQLite
	if s.d.dialect == Postgres {
		q = qDenyJTIPostgres
	}
	if _, err := s.d.db.ExecContext(ctx, s.d.Q(q), jti, nanos(expiresAt)); err != nil {
		return fmt.Errorf("sqlstore: deny jti: %w", err)
	}
	return nil
}

// IsDenied reports whether jti is listed and not expired at now.
func (s *OAuthStore) IsDenied(ctx context.Context, jti string, now time.Time) (bool, error) {
	var one int
	err := s.d.db.QueryRowContext(ctx, s.d.Q(qIsDenied), jti, nanos(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlstore: deny list: %w", err)
	}
	return true, nil
}

func scanConsent(r scanner) (*oauth.Consent, error) {
	var c oauth.Consent
	var scopes, aud string
	var at int64
	if err := r.Scan(&c.UserID, &c.ClientID, &scopes, &aud, &at); err != nil {
		return nil, err
	}
	var err error
	if c.Scopes, err = decodeList(scopes); err != nil {
		return nil, err
	}
	if c.Audience, err = decodeList(aud); err != nil {
		return nil, err
	}
	c.GrantedAt = fromNanos(at)
	return &c, nil
}

// GetConsent returns what the user allowed the client.
func (s *OAuthStore) GetConsent(ctx context.Context, userID, clientID string) (*oauth.Consent, error) {
	c, err := scanConsent(s.d.db.QueryRowContext(ctx, s.d.Q(qSelectConsent), userID, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get consent: %w", err)
	}
	return c, nil
}

// SaveConsent inserts or replaces a consent.
func (s *OAuthStore) SaveConsent(ctx context.Context, c *oauth.Consent) error {
	if _, err := s.d.db.ExecContext(ctx, s.d.Q(qUpsertConsent), c.UserID, c.ClientID, encodeList(c.Scopes), encodeList(c.Audience), nanos(c.GrantedAt)); err != nil {
		return fmt.Errorf("sqlstore: save consent: %w", err)
	}
	return nil
}

// DeleteConsent removes a consent.
func (s *OAuthStore) DeleteConsent(ctx context.Context, userID, clientID string) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qDeleteConsent), userID, clientID)
	if err != nil {
		return fmt.Errorf("sqlstore: delete consent: %w", err)
	}
	return oneRow(res, store.ErrNotFound)
}

// ListConsents returns a user's consents by client id.
func (s *OAuthStore) ListConsents(ctx context.Context, userID string) ([]oauth.Consent, error) {
	rows, err := s.d.db.QueryContext(ctx, s.d.Q(qListConsents), userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list consents: %w", err)
	}
	defer rows.Close()
	var out []oauth.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list consents: %w", err)
		}
		out = append(out, *c)
	}
	return out, rows.Err()
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
			{qPurgeCodes, []any{b}}, {qPurgeRefresh, []any{b, b}}, {qPurgeAccess, []any{b, b}}, {qPurgeFamilies, []any{b}}, {qPurgeDenied, []any{b}},
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
