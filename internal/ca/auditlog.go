package ca

import (
	"context"
	"errors"
	"fmt"

	"github.com/rampart-auth/rampart/internal/audit"
)

// auditEvent is a successful event of actor.
func auditEvent(actor, action, target string, details map[string]string) audit.Event {
	return audit.Event{Actor: actor, Action: action, Target: target, Outcome: audit.OutcomeSuccess, Details: details}
}

// audit records e; a failure is returned (the caller fails closed where
// the action is not yet visible, e.g. an SVID not handed out).
func (a *Authority) audit(ctx context.Context, e audit.Event) error {
	if err := a.o.Audit.Record(ctx, e); err != nil {
		return fmt.Errorf("ca: audit %s: %w", e.Action, err)
	}
	return nil
}

// auditRefusal records a refused issuance or renewal with the reason
// (the internal cause goes to the log, never to the event).
func (a *Authority) auditRefusal(ctx context.Context, action, target string, cred Credential, clientIP string, err error) {
	kind, actor := "none", "anonymous"
	switch c := cred.(type) {
	case JoinTokenCred:
		kind, actor = c.credential(), "join_token"
	case ClientCred:
		kind, actor = c.credential(), "client:"+c.ClientID // authenticated by the caller
	case PeerSVIDCred:
		kind = c.credential() // not verified: the ID is in the target at most
	case AdminCred:
		kind, actor = c.credential(), c.Actor
	}
	reason := "error"
	var ce *Error
	if errors.As(err, &ce) {
		reason = ce.Public
	}
	e := audit.Event{Actor: actor, Action: action, Target: target, Outcome: audit.OutcomeFailure, Reason: reason,
		ClientAddr: clientIP, Details: map[string]string{"credential": kind}}
	if rerr := a.o.Audit.Record(ctx, e); rerr != nil {
		a.o.Logger.Error("ca: audit refusal failed", "error", rerr.Error())
	}
}
