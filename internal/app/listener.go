package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/httpx"
)

// Auditor records an audit event durably (audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Listener is one HTTP listener of the process (the main listener now,
// the gateway's next). Start binds the address, so a port in use fails the
// start before anything serves, and records server.start; Run serves until
// the App stops, then shuts down gracefully (httpx.Server.Serve); Stop
// records server.stop with the serve outcome.
type Listener struct {
	Name    string // names the listener in logs
	Listen  string // the configured listen address, for errors
	Server  *httpx.Server
	Audit   Auditor
	Logger  *slog.Logger
	Details map[string]string // extra facts of server.start

	addr     net.Addr
	serveErr error // written by Run, read by Stop after Run returned
}

// Addr is the bound address, once Start returned.
func (l *Listener) Addr() net.Addr { return l.addr }

// Start binds the listen address and records server.start.
func (l *Listener) Start(ctx context.Context) error {
	addr, err := l.Server.Listen()
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", l.Listen, err)
	}
	l.addr = addr
	if err := l.Audit.Record(ctx, audit.Event{Actor: "system", Action: audit.ActionServerStart, Target: "server:" + addr.String(),
		Outcome: audit.OutcomeSuccess, Details: l.Details}); err != nil {
		return fmt.Errorf("cannot record the start in the audit log: %w", err)
	}
	return nil
}

// Run serves until ctx is cancelled.
func (l *Listener) Run(ctx context.Context) error {
	err := l.Server.Serve(ctx)
	l.Logger.Info("rampart stopping", "listener", l.Name)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		l.serveErr = err
		return err
	}
	return nil
}

// Stop records server.stop: a failure when serving ended with an error.
func (l *Listener) Stop(ctx context.Context) error {
	outcome, reason := audit.OutcomeSuccess, ""
	if l.serveErr != nil {
		outcome, reason = audit.OutcomeFailure, "serve_error"
	}
	if err := l.Audit.Record(ctx, audit.Event{Actor: "system", Action: audit.ActionServerStop, Target: "server:" + l.addr.String(),
		Outcome: outcome, Reason: reason}); err != nil {
		l.Logger.Error("cannot record the stop in the audit log", "err", err)
	}
	return nil
}

var _ Runner = (*Listener)(nil)
