package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/store"
)

// The read use cases: what `client list`, `user list`, `key list` and the
// admin API's GETs show. They change nothing, so they record nothing of
// their own (the admin API records every call it answers).

// ListClients returns the configuration file's clients, then the store's,
// each by id.
func (s *Service) ListClients(ctx context.Context) ([]ClientView, error) {
	if s.o.Clients == nil || s.o.Configured == nil {
		return nil, ErrUnavailable
	}
	stored, err := s.o.Clients.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	out := []ClientView{}
	for _, c := range s.o.Configured.Configured() {
		out = append(out, ViewClient(c))
	}
	for i := range stored {
		out = append(out, ViewClient(&stored[i]))
	}
	return out, nil
}

// GetClient returns one client, from the file or the store.
func (s *Service) GetClient(ctx context.Context, id string) (ClientView, error) {
	if s.o.Clients == nil || s.o.Configured == nil {
		return ClientView{}, ErrUnavailable
	}
	for _, c := range s.o.Configured.Configured() {
		if c.ID == id {
			return ViewClient(c), nil
		}
	}
	c, err := s.o.Clients.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ClientView{}, notFound(fmt.Errorf("no client %s", id))
	}
	if err != nil {
		return ClientView{}, err
	}
	return ViewClient(c), nil
}

// MaxListLimit bounds one page of a list.
const MaxListLimit = 500

// ListUsers returns up to limit users whose username sorts after after
// (keyset pagination: pass the last username of a page to get the next).
func (s *Service) ListUsers(ctx context.Context, after string, limit int) ([]UserView, error) {
	if s.o.Directory == nil {
		return nil, ErrUnavailable
	}
	if limit < 1 || limit > MaxListLimit {
		return nil, invalid(fmt.Errorf("limit must be 1 to %d", MaxListLimit))
	}
	users, err := s.o.Directory.ListUsers(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]UserView, 0, len(users))
	for i := range users {
		out = append(out, ViewUser(&users[i]))
	}
	return out, nil
}

// GetUser returns one user by id.
func (s *Service) GetUser(ctx context.Context, id string) (UserView, error) {
	u, err := s.user(ctx, id)
	if err != nil {
		return UserView{}, err
	}
	return ViewUser(u), nil
}

func (s *Service) user(ctx context.Context, id string) (*identity.User, error) {
	if s.o.Users == nil {
		return nil, ErrUnavailable
	}
	u, err := s.o.Users.ByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(fmt.Errorf("no user %s", id))
	}
	return u, err
}

// ListUserSessions returns the user's live browser sessions.
func (s *Service) ListUserSessions(ctx context.Context, id string) ([]SessionView, error) {
	if s.o.Sessions == nil {
		return nil, ErrUnavailable
	}
	if _, err := s.user(ctx, id); err != nil {
		return nil, err
	}
	sess, err := s.o.Sessions.ListUserSessions(ctx, id, s.o.Now().UTC())
	if err != nil {
		return nil, err
	}
	out := make([]SessionView, 0, len(sess))
	for i := range sess {
		out = append(out, ViewSession(&sess[i]))
	}
	return out, nil
}

// ListKeys returns the signing keys, oldest first.
func (s *Service) ListKeys(ctx context.Context) ([]KeyView, error) {
	if s.o.Keys == nil {
		return nil, ErrUnavailable
	}
	list, err := s.o.Keys.List(ctx)
	if err != nil {
		return nil, err
	}
	return viewKeys(list), nil
}

func viewKeys(list []keys.KeyInfo) []KeyView {
	out := make([]KeyView, 0, len(list))
	for _, k := range list {
		out = append(out, ViewKey(k))
	}
	return out
}

// QueryAudit returns the audit records q selects, in sequence order.
func (s *Service) QueryAudit(ctx context.Context, q audit.Query) ([]AuditView, error) {
	if s.o.AuditLog == nil {
		return nil, ErrUnavailable
	}
	if q.Limit < 1 || q.Limit > audit.MaxQueryLimit {
		return nil, invalid(fmt.Errorf("limit must be 1 to %d", audit.MaxQueryLimit))
	}
	if q.AfterSeq < 0 {
		return nil, invalid(errors.New("after must not be negative"))
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return nil, invalid(errors.New("until must be after since"))
	}
	if q.Outcome != "" && q.Outcome != audit.OutcomeSuccess && q.Outcome != audit.OutcomeFailure && q.Outcome != audit.OutcomeDenied {
		return nil, invalid(fmt.Errorf("outcome must be %s, %s or %s", audit.OutcomeSuccess, audit.OutcomeFailure, audit.OutcomeDenied))
	}
	recs, err := s.o.AuditLog.QueryAudit(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]AuditView, 0, len(recs))
	for i := range recs {
		out = append(out, ViewAudit(&recs[i]))
	}
	return out, nil
}
