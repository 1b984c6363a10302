package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/ca"
)

// CAStore is the storage of internal/ca: the hierarchy with its sealed
// keys, registrations, join tokens, issued certificates, revocations and
// the CRL.
type CAStore struct{ d *DB }

var _ ca.Store = (*CAStore)(nil)

// CA returns the CA domain store on d.
func (d *DB) CA() *CAStore { return &CAStore{d: d} }

// CA queries. Constant strings with placeholders only.
const (
	qCAState       = `SELECT trust_domain, generation FROM ca_state WHERE id = 1`
	qCAAuthorities = `SELECT a.id, a.kind, a.cert_der, a.key_sealed, a.created_at, a.activate_at, a.not_after,
       (SELECT COALESCE(MAX(c.not_after), 0) FROM ca_certs c WHERE c.issuer_id = a.id)
  FROM ca_authorities a ORDER BY a.activate_at, a.created_at, a.id`
	qCAInitState  = `INSERT INTO ca_state (id, trust_domain, generation, created_at) VALUES (1, ?, 1, ?) ON CONFLICT DO NOTHING`
	qCABumpGen    = `UPDATE ca_state SET generation = generation + 1 WHERE id = 1 AND generation = ?`
	qCAInsertAuth = `INSERT INTO ca_authorities (id, kind, cert_der, key_sealed, created_at, activate_at, not_after)
VALUES (?, ?, ?, ?, ?, ?, ?)`
	// Taking the key ring row lock serializes a CA key insert with a
	// master-key rotation (which holds it), so the sealed-version check
	// below sees the version the rotation committed.
	qLockKeyRingAny = `UPDATE key_ring SET generation = generation WHERE id = 1`

	qCARegClientOwner = `SELECT spiffe_id FROM ca_registrations WHERE client_id = ? AND spiffe_id <> ?`
	qCAPutReg         = `INSERT INTO ca_registrations (spiffe_id, dns_names, ttl, client_id, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (spiffe_id) DO UPDATE SET dns_names = excluded.dns_names, ttl = excluded.ttl,
       client_id = excluded.client_id, created_at = excluded.created_at`
	qCAUnrevokeID   = `DELETE FROM ca_revoked_ids WHERE spiffe_id = ?`
	qCADeleteReg    = `DELETE FROM ca_registrations WHERE spiffe_id = ?`
	qCARegCols      = `SELECT spiffe_id, dns_names, ttl, COALESCE(client_id, ''), created_at FROM ca_registrations`
	qCAReg          = qCARegCols + ` WHERE spiffe_id = ?`
	qCARegByClient  = qCARegCols + ` WHERE client_id = ?`
	qCARegs         = qCARegCols + ` ORDER BY spiffe_id`
	qCAIDRevoked    = `SELECT COUNT(*) FROM ca_revoked_ids WHERE spiffe_id = ?`
	qCAInsertToken  = `INSERT INTO ca_join_tokens (token_hash, spiffe_id, pattern, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, 0)` // #nosec G101 -- SQL over join token hashes, not a credential
	qCAToken        = `SELECT spiffe_id, pattern, created_at, expires_at, used_at FROM ca_join_tokens WHERE token_hash = ?`                    // #nosec G101 -- SQL over join token hashes, not a credential
	qCAConsumeToken = `UPDATE ca_join_tokens SET used_at = ? WHERE token_hash = ? AND used_at = 0 AND expires_at > ?`                          // #nosec G101 -- SQL over join token hashes, not a credential

	qCAInsertCert = `INSERT INTO ca_certs (serial, spiffe_id, issuer_id, not_before, not_after, revoked_at, reason) VALUES (?, ?, ?, ?, ?, 0, '')`
	qCACertCols   = `SELECT serial, spiffe_id, issuer_id, not_before, not_after, revoked_at, reason FROM ca_certs`
	qCACert       = qCACertCols + ` WHERE serial = ?`
	qCACertsLive  = qCACertCols + ` WHERE not_after > ? ORDER BY not_before, serial`
	qCACertsAll   = qCACertCols + ` ORDER BY not_before, serial`
	qCARevoked    = qCACertCols + ` WHERE revoked_at <> 0 AND not_after > ? ORDER BY serial`
	qCARevokeSer  = `UPDATE ca_certs SET revoked_at = ?, reason = ? WHERE serial = ? AND revoked_at = 0 AND not_after > ?`
	qCARevokeIDs  = `UPDATE ca_certs SET revoked_at = ?, reason = ? WHERE spiffe_id = ? AND revoked_at = 0 AND not_after > ?`
	qCARevokeID   = `INSERT INTO ca_revoked_ids (spiffe_id, revoked_at, reason) VALUES (?, ?, ?)
ON CONFLICT (spiffe_id) DO UPDATE SET revoked_at = excluded.revoked_at, reason = excluded.reason`
	qCACleanCerts  = `DELETE FROM ca_certs WHERE not_after < ?`
	qCACleanTokens = `DELETE FROM ca_join_tokens WHERE expires_at < ? OR (used_at <> 0 AND used_at < ?)` // #nosec G101 -- SQL over join token hashes, not a credential

	qCALatestCRL = `SELECT number, der, this_update, next_update FROM ca_crl ORDER BY number DESC LIMIT 1`
	qCAInsertCRL = `INSERT INTO ca_crl (number, der, this_update, next_update) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`
	qCAPruneCRL  = `DELETE FROM ca_crl WHERE number < ?`

	qSealedCA = `SELECT id, key_sealed FROM ca_authorities ORDER BY id`
	qCountCA  = `SELECT COUNT(*) FROM ca_authorities`
	qRewrapCA = `UPDATE ca_authorities SET key_sealed = ? WHERE id = ? AND key_sealed = ?`
)

// LoadHierarchy returns the CA state and every authority, oldest first,
// with the latest expiry of the certificates each signed. The generation
// is read first: a concurrent change makes the snapshot look older, never
// newer.
func (s *CAStore) LoadHierarchy(ctx context.Context) (ca.Hierarchy, error) {
	var h ca.Hierarchy
	err := s.d.db.QueryRowContext(ctx, qCAState).Scan(&h.TrustDomain, &h.Generation)
	if errors.Is(err, sql.ErrNoRows) {
		return ca.Hierarchy{}, nil
	}
	if err != nil {
		return ca.Hierarchy{}, fmt.Errorf("sqlstore: ca state: %w", err)
	}
	rows, err := s.d.db.QueryContext(ctx, qCAAuthorities)
	if err != nil {
		return ca.Hierarchy{}, fmt.Errorf("sqlstore: ca authorities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r                                   ca.AuthorityRecord
			created, activate, notAfter, issued int64
		)
		if err := rows.Scan(&r.ID, &r.Kind, &r.CertDER, &r.KeySealed, &created, &activate, &notAfter, &issued); err != nil {
			return ca.Hierarchy{}, fmt.Errorf("sqlstore: scan ca authority: %w", err)
		}
		r.CreatedAt, r.ActivateAt, r.NotAfter, r.LastIssued = fromNanos(created), fromNanos(activate), fromNanos(notAfter), fromNanos(issued)
		h.Authorities = append(h.Authorities, r)
	}
	if err := rows.Err(); err != nil {
		return ca.Hierarchy{}, fmt.Errorf("sqlstore: ca authorities: %w", err)
	}
	return h, nil
}

// InitHierarchy records the trust domain, root and first intermediate in
// one transaction; ca.ErrExists when a CA is recorded.
func (s *CAStore) InitHierarchy(ctx context.Context, td string, root, inter ca.AuthorityRecord) error {
	return s.d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.Q(qCAInitState), td, nanos(root.CreatedAt))
		if err != nil {
			return fmt.Errorf("sqlstore: init ca: %w", err)
		}
		if err := oneRow(res, ca.ErrExists); err != nil {
			return err
		}
		return s.insertAuthorities(ctx, tx, root, inter)
	})
}

// AddIntermediate records r if the generation is still expect.
func (s *CAStore) AddIntermediate(ctx context.Context, expect int64, r ca.AuthorityRecord) error {
	if r.Kind != ca.KindIntermediate {
		return fmt.Errorf("sqlstore: add intermediate: kind %q", r.Kind)
	}
	return s.d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.Q(qCABumpGen), expect)
		if err != nil {
			return fmt.Errorf("sqlstore: bump ca generation: %w", err)
		}
		if err := oneRow(res, ca.ErrConflict); err != nil {
			return err
		}
		return s.insertAuthorities(ctx, tx, r)
	})
}

// insertAuthorities inserts rs, their keys sealed under the current key
// version (see checkSealedVersion).
func (s *CAStore) insertAuthorities(ctx context.Context, tx *sql.Tx, rs ...ca.AuthorityRecord) error {
	if _, err := tx.ExecContext(ctx, qLockKeyRingAny); err != nil {
		return fmt.Errorf("sqlstore: lock key ring: %w", err)
	}
	for _, r := range rs {
		if err := checkSealedVersion(ctx, tx, "ca key "+r.ID, r.KeySealed); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.Q(qCAInsertAuth), r.ID, r.Kind, r.CertDER, r.KeySealed,
			nanos(r.CreatedAt), nanos(r.ActivateAt), nanos(r.NotAfter)); err != nil {
			return fmt.Errorf("sqlstore: insert ca authority %s: %w", r.ID, err)
		}
	}
	return nil
}

// PutRegistration upserts r and clears a revocation of its ID.
func (s *CAStore) PutRegistration(ctx context.Context, r ca.RegistrationRecord) error {
	var client any // NULL: no client (the UNIQUE constraint admits many)
	if r.ClientID != "" {
		client = r.ClientID
	}
	return s.d.Tx(ctx, func(tx *sql.Tx) error {
		if r.ClientID != "" {
			var other string
			err := tx.QueryRowContext(ctx, s.d.Q(qCARegClientOwner), r.ClientID, r.ID).Scan(&other)
			if err == nil {
				return ca.ErrClientIDTaken
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("sqlstore: registration client: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.d.Q(qCAPutReg), r.ID, strings.Join(r.DNSNames, ","), int64(r.TTL), client,
			nanos(r.CreatedAt)); err != nil {
			return fmt.Errorf("sqlstore: put registration: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.d.Q(qCAUnrevokeID), r.ID); err != nil {
			return fmt.Errorf("sqlstore: clear revoked id: %w", err)
		}
		return nil
	})
}

// DeleteRegistration deletes the registration of id.
func (s *CAStore) DeleteRegistration(ctx context.Context, id string, now time.Time) error {
	return s.d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.Q(qCADeleteReg), id)
		if err != nil {
			return fmt.Errorf("sqlstore: delete registration: %w", err)
		}
		if err := oneRow(res, ca.ErrNotFound); err != nil {
			return err
		}
		// Blocked from issuance and renewal, its SVIDs left to expire
		// (not on the CRL): a registration is re-created to lift it.
		if _, err := tx.ExecContext(ctx, s.d.Q(qCARevokeID), id, nanos(now), "unregistered"); err != nil {
			return fmt.Errorf("sqlstore: block unregistered id: %w", err)
		}
		return nil
	})
}

// Registration returns the registration of id.
func (s *CAStore) Registration(ctx context.Context, id string) (ca.RegistrationRecord, error) {
	return s.oneReg(ctx, qCAReg, id)
}

// RegistrationByClient returns the registration of clientID.
func (s *CAStore) RegistrationByClient(ctx context.Context, clientID string) (ca.RegistrationRecord, error) {
	if clientID == "" {
		return ca.RegistrationRecord{}, ca.ErrNotFound
	}
	return s.oneReg(ctx, qCARegByClient, clientID)
}

func (s *CAStore) oneReg(ctx context.Context, q, arg string) (ca.RegistrationRecord, error) {
	r, err := scanReg(s.d.db.QueryRowContext(ctx, s.d.Q(q), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return ca.RegistrationRecord{}, ca.ErrNotFound
	}
	if err != nil {
		return ca.RegistrationRecord{}, fmt.Errorf("sqlstore: registration: %w", err)
	}
	return r, nil
}

// Registrations returns every registration by ID.
func (s *CAStore) Registrations(ctx context.Context) ([]ca.RegistrationRecord, error) {
	rows, err := s.d.db.QueryContext(ctx, qCARegs)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: registrations: %w", err)
	}
	defer rows.Close()
	var out []ca.RegistrationRecord
	for rows.Next() {
		r, err := scanReg(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: scan registration: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: registrations: %w", err)
	}
	return out, nil
}

func scanReg(sc scanner) (ca.RegistrationRecord, error) {
	var (
		r            ca.RegistrationRecord
		dns          string
		ttl, created int64
	)
	if err := sc.Scan(&r.ID, &dns, &ttl, &r.ClientID, &created); err != nil {
		return ca.RegistrationRecord{}, err
	}
	if dns != "" {
		r.DNSNames = strings.Split(dns, ",")
	}
	r.TTL, r.CreatedAt = time.Duration(ttl), fromNanos(created)
	return r, nil
}

// IDRevoked reports whether id is revoked.
func (s *CAStore) IDRevoked(ctx context.Context, id string) (bool, error) {
	var n int
	if err := s.d.db.QueryRowContext(ctx, s.d.Q(qCAIDRevoked), id).Scan(&n); err != nil {
		return false, fmt.Errorf("sqlstore: revoked id: %w", err)
	}
	return n > 0, nil
}

// InsertJoinToken stores t.
func (s *CAStore) InsertJoinToken(ctx context.Context, t ca.JoinTokenRecord) error {
	if _, err := s.d.db.ExecContext(ctx, s.d.Q(qCAInsertToken), t.Hash, t.ID, t.Pattern, nanos(t.CreatedAt), nanos(t.ExpiresAt)); err != nil {
		return fmt.Errorf("sqlstore: insert join token: %w", err)
	}
	return nil
}

// JoinToken returns the token of hash.
func (s *CAStore) JoinToken(ctx context.Context, hash []byte) (ca.JoinTokenRecord, error) {
	t := ca.JoinTokenRecord{Hash: hash}
	var created, expires, used int64
	err := s.d.db.QueryRowContext(ctx, s.d.Q(qCAToken), hash).Scan(&t.ID, &t.Pattern, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return ca.JoinTokenRecord{}, ca.ErrNotFound
	}
	if err != nil {
		return ca.JoinTokenRecord{}, fmt.Errorf("sqlstore: join token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromNanos(created), fromNanos(expires), fromNanos(used)
	return t, nil
}

// ConsumeJoinToken marks the token used: one conditional UPDATE, so of
// two concurrent uses exactly one changes the row (PostgreSQL re-checks
// the WHERE after the row lock; SQLite serializes writers).
func (s *CAStore) ConsumeJoinToken(ctx context.Context, hash []byte, now time.Time) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qCAConsumeToken), nanos(now), hash, nanos(now))
	if err != nil {
		return fmt.Errorf("sqlstore: consume join token: %w", err)
	}
	return oneRow(res, ca.ErrNotFound)
}

// InsertCert records an issued certificate.
func (s *CAStore) InsertCert(ctx context.Context, c ca.CertRecord) error {
	if _, err := s.d.db.ExecContext(ctx, s.d.Q(qCAInsertCert), c.Serial, c.ID, c.IssuerID, nanos(c.NotBefore), nanos(c.NotAfter)); err != nil {
		return fmt.Errorf("sqlstore: insert certificate: %w", err)
	}
	return nil
}

// Cert returns the record of serial.
func (s *CAStore) Cert(ctx context.Context, serial string) (ca.CertRecord, error) {
	c, err := scanCert(s.d.db.QueryRowContext(ctx, s.d.Q(qCACert), serial))
	if errors.Is(err, sql.ErrNoRows) {
		return ca.CertRecord{}, ca.ErrNotFound
	}
	if err != nil {
		return ca.CertRecord{}, fmt.Errorf("sqlstore: certificate: %w", err)
	}
	return c, nil
}

// Certs returns the records unexpired at now, or all.
func (s *CAStore) Certs(ctx context.Context, now time.Time, all bool) ([]ca.CertRecord, error) {
	if all {
		return s.certs(ctx, qCACertsAll)
	}
	return s.certs(ctx, s.d.Q(qCACertsLive), nanos(now))
}

// RevokedUnexpired returns the revoked certificates unexpired at now.
func (s *CAStore) RevokedUnexpired(ctx context.Context, now time.Time) ([]ca.CertRecord, error) {
	return s.certs(ctx, s.d.Q(qCARevoked), nanos(now))
}

func (s *CAStore) certs(ctx context.Context, q string, args ...any) ([]ca.CertRecord, error) {
	rows, err := s.d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: certificates: %w", err)
	}
	defer rows.Close()
	var out []ca.CertRecord
	for rows.Next() {
		c, err := scanCert(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: scan certificate: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: certificates: %w", err)
	}
	return out, nil
}

func scanCert(sc scanner) (ca.CertRecord, error) {
	var (
		c               ca.CertRecord
		nb, na, revoked int64
	)
	if err := sc.Scan(&c.Serial, &c.ID, &c.IssuerID, &nb, &na, &revoked, &c.Reason); err != nil {
		return ca.CertRecord{}, err
	}
	c.NotBefore, c.NotAfter, c.RevokedAt = fromNanos(nb), fromNanos(na), fromNanos(revoked)
	return c, nil
}

// RevokeSerial revokes one unexpired, unrevoked certificate.
func (s *CAStore) RevokeSerial(ctx context.Context, serial, reason string, now time.Time) (int, error) {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qCARevokeSer), nanos(now), reason, serial, nanos(now))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: revoke certificate: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %w", err)
	}
	return int(n), nil
}

// RevokeID records id as revoked and revokes its unexpired certificates.
func (s *CAStore) RevokeID(ctx context.Context, id, reason string, now time.Time) (int, error) {
	var n int64
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.Q(qCARevokeID), id, nanos(now), reason); err != nil {
			return fmt.Errorf("sqlstore: revoke id: %w", err)
		}
		res, err := tx.ExecContext(ctx, s.d.Q(qCARevokeIDs), nanos(now), reason, id, nanos(now))
		if err != nil {
			return fmt.Errorf("sqlstore: revoke certificates of id: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// Cleanup deletes certificate records expired before certsBefore and
// join tokens expired, or used, before tokensBefore.
func (s *CAStore) Cleanup(ctx context.Context, certsBefore, tokensBefore time.Time) error {
	if _, err := s.d.db.ExecContext(ctx, s.d.Q(qCACleanCerts), nanos(certsBefore)); err != nil {
		return fmt.Errorf("sqlstore: clean certificates: %w", err)
	}
	if _, err := s.d.db.ExecContext(ctx, s.d.Q(qCACleanTokens), nanos(tokensBefore), nanos(tokensBefore)); err != nil {
		return fmt.Errorf("sqlstore: clean join tokens: %w", err)
	}
	return nil
}

// LatestCRL returns the CRL with the highest number.
func (s *CAStore) LatestCRL(ctx context.Context) (ca.CRLRecord, error) {
	var (
		c          ca.CRLRecord
		this, next int64
	)
	err := s.d.db.QueryRowContext(ctx, qCALatestCRL).Scan(&c.Number, &c.DER, &this, &next)
	if errors.Is(err, sql.ErrNoRows) {
		return ca.CRLRecord{}, ca.ErrNotFound
	}
	if err != nil {
		return ca.CRLRecord{}, fmt.Errorf("sqlstore: crl: %w", err)
	}
	c.ThisUpdate, c.NextUpdate = fromNanos(this), fromNanos(next)
	return c, nil
}

// crlKeep is how many older CRLs stay (for inspection); the latest is
// served.
const crlKeep = 16

// InsertCRL stores c unless its number exists (ca.ErrConflict).
func (s *CAStore) InsertCRL(ctx context.Context, c ca.CRLRecord) error {
	return s.d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.Q(qCAInsertCRL), c.Number, c.DER, nanos(c.ThisUpdate), nanos(c.NextUpdate))
		if err != nil {
			return fmt.Errorf("sqlstore: insert crl: %w", err)
		}
		if err := oneRow(res, ca.ErrConflict); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.Q(qCAPruneCRL), c.Number-crlKeep); err != nil {
			return fmt.Errorf("sqlstore: prune crl: %w", err)
		}
		return nil
	})
}
