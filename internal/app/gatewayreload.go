package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/signal"
	"reflect"
	"syscall"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
)

// configPollInterval is how often the configuration file is checked for a
// change (a stat, and a hash when the stat changed): no inotify
// dependency, and a change is picked up within two seconds on every file
// system, including the bind-mounted and ConfigMap-symlinked files of
// containers, where inotify events are unreliable.
const configPollInterval = 2 * time.Second

// watchGatewayConfig reloads the gateway's routes on SIGHUP and when the
// configuration file changes. Only the gateway section is applied without
// a restart; a change elsewhere is logged as needing one (and
// gateway.listen / gateway.tls too: the socket is already bound).
func (s *server) watchGatewayConfig(ctx context.Context) {
	hup := s.hup
	defer signal.Stop(hup)
	path := s.cfg.File
	last := fileHash(path)
	t := time.NewTicker(configPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			last = fileHash(path)
			s.reloadGateway(ctx, "sighup")
		case <-t.C:
			if path == "" {
				continue
			}
			if h := fileHash(path); h != nil && !bytes.Equal(h, last) {
				last = h
				s.reloadGateway(ctx, "file")
			}
		}
	}
}

// listenSIGHUP registers for SIGHUP when the component starts (not in
// the loop's goroutine), so a SIGHUP sent once serve reported ready can
// never meet the default action, which ends the process.
func (s *server) listenSIGHUP(context.Context) error {
	s.hup = make(chan os.Signal, 1)
	signal.Notify(s.hup, syscall.SIGHUP)
	return nil
}

// reloadGateway loads the configuration file again and hands its gateway
// section to the gateway, which checks it and swaps or refuses it.
func (s *server) reloadGateway(ctx context.Context, trigger string) {
	if s.cfg.File == "" || s.gateway == nil {
		s.logger.Warn("gateway: reload asked, but serve runs without a configuration file; nothing to reload", "trigger", trigger)
		return
	}
	next, err := config.LoadWith(s.cfg.File, s.cfg.Dev)
	if err == nil && next.Gateway == nil {
		err = errors.New("config: the gateway section was removed; restart to stop the gateway")
	}
	if err != nil {
		s.gateway.RefuseReload(ctx, trigger, err)
		return
	}
	if !sameOutsideGateway(s.cfg, next) {
		s.logger.Warn("gateway: the configuration changed outside gateway.routes; only the routes are applied now, restart for the rest", "trigger", trigger)
	}
	_ = s.gateway.Reload(ctx, next, trigger)
}

// sameOutsideGateway reports whether a and b differ only in the gateway's
// routes and headers.
func sameOutsideGateway(a, b *config.Config) bool {
	ca, cb := *a, *b
	ga, gb := config.Gateway{}, config.Gateway{}
	if a.Gateway != nil {
		ga = *a.Gateway
	}
	if b.Gateway != nil {
		gb = *b.Gateway
	}
	ga.Routes, gb.Routes, ga.SecurityHeaders, gb.SecurityHeaders = nil, nil, nil, nil
	ca.Gateway, cb.Gateway = nil, nil
	return reflect.DeepEqual(ca, cb) && reflect.DeepEqual(ga, gb)
}

// fileHash returns the SHA-256 of the file, or nil when it cannot be read.
func fileHash(path string) []byte {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the operator's own configuration file.
	if err != nil {
		return nil
	}
	h := sha256.Sum256(b)
	return h[:]
}
