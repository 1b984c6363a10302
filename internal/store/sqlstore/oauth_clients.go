package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
)

type scanner interface{ Scan(...any) error }

func scanClient(r scanner) (*oauth.Client, error) {
	var (
		c                                        oauth.Client
		public, skip, rs, dpop, requirePAR, mfa  int64
		disabled, certBound                      int64
		jwks, logout                             string
		grants, redirects, scopes, aud           string
		accessTTL, refreshTTL, idleTTL, cAt, uAt int64
	)
	if err := r.Scan(&c.ID, &c.SecretHash, &public, &grants, &redirects, &scopes, &aud, &skip, &rs, &accessTTL, &refreshTTL, &idleTTL, &c.Source, &cAt, &uAt,
		&dpop, &c.AuthMethod, &jwks, &c.JWKSURI, &requirePAR, &mfa, &c.DisplayName, &c.LogoURI, &c.PolicyURI, &c.TOSURI, &logout, &c.Profile, &disabled, &certBound); err != nil {
		return nil, err
	}
	var err error
	for _, f := range []struct {
		dst *[]string
		src string
	}{{&c.GrantTypes, grants}, {&c.RedirectURIs, redirects}, {&c.Scopes, scopes}, {&c.Audience, aud}, {&c.PostLogoutRedirectURIs, logout}} {
		if *f.dst, err = decodeList(f.src); err != nil {
			return nil, err
		}
	}
	c.Public, c.SkipConsent, c.ResourceServer, c.RequireDPoP, c.RequirePAR, c.RequireMFA = public != 0, skip != 0, rs != 0, dpop != 0, requirePAR != 0, mfa != 0
	c.Disabled, c.CertificateBoundAccessTokens = disabled != 0, certBound != 0
	if jwks != "" {
		c.JWKS = []byte(jwks)
	}
	c.AccessTokenTTL, c.RefreshTokenTTL, c.RefreshTokenIdleTTL = time.Duration(accessTTL), time.Duration(refreshTTL), time.Duration(idleTTL)
	c.CreatedAt, c.UpdatedAt = fromNanos(cAt), fromNanos(uAt)
	return &c, nil
}

// CreateClient stores a client made with the CLI.
func (s *OAuthStore) CreateClient(ctx context.Context, c *oauth.Client) error {
	_, err := s.d.db.ExecContext(ctx, s.d.Q(qInsertClient), c.ID, c.SecretHash, b2i(c.Public), encodeList(c.GrantTypes), encodeList(c.RedirectURIs),
		encodeList(c.Scopes), encodeList(c.Audience), b2i(c.SkipConsent), b2i(c.ResourceServer), int64(c.AccessTokenTTL), int64(c.RefreshTokenTTL),
		int64(c.RefreshTokenIdleTTL), c.Source, nanos(c.CreatedAt), nanos(c.UpdatedAt), b2i(c.RequireDPoP),
		c.AuthMethod, string(c.JWKS), c.JWKSURI, b2i(c.RequirePAR), b2i(c.RequireMFA),
		c.DisplayName, c.LogoURI, c.PolicyURI, c.TOSURI, encodeList(c.PostLogoutRedirectURIs), c.Profile, b2i(c.Disabled), b2i(c.CertificateBoundAccessTokens))
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
		if out, err = s.revokeClientTx(ctx, tx, id, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.Q(qDropPrevSecret), id); err != nil {
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

// SetClientDisabled sets or clears a stored client's disabled flag;
// store.ErrNotFound when there is no such client.
func (s *OAuthStore) SetClientDisabled(ctx context.Context, id string, disabled bool, now time.Time) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qSetClientDisabled), b2i(disabled), nanos(now), id)
	if err != nil {
		return fmt.Errorf("sqlstore: set client disabled: %w", err)
	}
	return oneRow(res, store.ErrNotFound)
}

// RevokeClient revokes every refresh-token family of a client and deletes
// its pending authorization codes, device codes and pushed authorization
// requests, in one transaction; it returns the families' live access
// tokens for the caller to deny (oauth.Revoker). The client itself, its
// consents and its secrets stay (disabling, not deleting). A rerun is
// harmless: nothing is left to revoke.
func (s *OAuthStore) RevokeClient(ctx context.Context, id string, now time.Time) ([]oauth.IssuedAccess, error) {
	var out []oauth.IssuedAccess
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.revokeClientTx(ctx, tx, id, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: revoke client: %w", err)
	}
	return out, nil
}

// revokeClientTx is what deleting and disabling a client share: its
// families revoked, its pending codes, device codes and PAR requests gone.
func (s *OAuthStore) revokeClientTx(ctx context.Context, tx *sql.Tx, id string, now time.Time) ([]oauth.IssuedAccess, error) {
	var out []oauth.IssuedAccess
	fams, err := s.familyIDs(ctx, tx, s.d.Q(qClientFamilies), id)
	if err != nil {
		return nil, err
	}
	for _, f := range fams {
		acc, err := s.revokeFamilyTx(ctx, tx, f, now)
		if err != nil {
			return nil, err
		}
		out = append(out, acc...)
	}
	for _, q := range []string{qDeleteCodesOf, qDeleteDevOf, qDeletePAROf} {
		if _, err := tx.ExecContext(ctx, s.d.Q(q), id); err != nil {
			return nil, err
		}
	}
	return out, nil
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
