package mtls

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Socket long-poll and retry timing. The agent holds a request up to 30 s
// (contract: `GET /v1/svid?after=N`); the client waits a little longer.
const (
	socketPollTimeout = 40 * time.Second
	socketMinBackoff  = 100 * time.Millisecond
	socketMaxBackoff  = 10 * time.Second
	maxSocketResponse = 16 << 20
)

// SocketSource is a Source fed by `rampart agent --socket PATH`: HTTP/1.1
// over a unix domain socket. A goroutine long-polls `GET /v1/svid?after=N`
// and replaces the state when a newer version arrives; on an error (the
// agent restarting, a 503 while it has no SVID, a response that fails
// validation) it keeps the last good state and retries with exponential
// backoff. The CRL in a response is accepted only when the trust bundle of
// the SVID's trust domain signed it and it is newer than the one held;
// otherwise it is logged and the held one kept. Close stops the goroutine.
// It is safe for concurrent use.
type SocketSource struct {
	path   string
	opts   sourceOptions
	client *http.Client
	h      stateHolder

	version   uint64   // of the state held; written by the poll goroutine only
	bodySum   [32]byte // SHA-256 of the answer held, to tell a restarted agent's state apart
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// NewSocketSource connects to the agent socket at path and waits for the
// first valid SVID until ctx is done (give ctx a deadline: the agent may
// still be enrolling); it then keeps the state current in the background
// until Close. ctx bounds only this first wait.
func NewSocketSource(ctx context.Context, path string, opts ...SourceOption) (*SocketSource, error) {
	o := newSourceOptions(0, opts)
	s := &SocketSource{path: path, opts: o,
		h:    stateHolder{policy: revocationPolicy{requireFresh: o.requireFreshCRL, now: o.now, logger: o.logger}},
		done: make(chan struct{})}
	s.h.store(&trustState{})
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	s.client = &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, "unix", path)
			},
			MaxIdleConns:          1,
			IdleConnTimeout:       time.Minute,
			ResponseHeaderTimeout: socketPollTimeout,
		},
		Timeout: socketPollTimeout + 5*time.Second,
	}
	backoff := socketMinBackoff
	var lastErr error // the agent's last answer, not the deadline cutting a request short
	for {
		err := s.poll(ctx, false)
		if err == nil {
			break
		}
		if ctx.Err() == nil || lastErr == nil {
			lastErr = err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			s.client.CloseIdleConnections()
			return nil, fmt.Errorf("mtls: agent socket %s: no SVID: %w", path, errors.Join(lastErr, ctx.Err()))
		case <-t.C:
		}
		backoff = nextBackoff(backoff)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.loop(loopCtx)
	return s, nil
}

// Close stops the background polling; the state held stays readable.
func (s *SocketSource) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		s.client.CloseIdleConnections()
	})
	return nil
}

// SVID returns the last SVID the agent delivered, when still valid.
func (s *SocketSource) SVID() (*tls.Certificate, error) { return s.h.svid() }

// X509Authorities returns the authorities of td the agent delivered.
func (s *SocketSource) X509Authorities(td spiffeid.TrustDomain) ([]*x509.Certificate, bool) {
	return s.h.authorities(td)
}

// IsRevoked reports whether cert is in td's CRL (or, with
// WithRequireFreshCRL, whether td's CRL is missing or stale).
func (s *SocketSource) IsRevoked(td spiffeid.TrustDomain, cert *x509.Certificate) bool {
	return s.h.isRevoked(td, cert)
}

func (s *SocketSource) rootPool(td spiffeid.TrustDomain) (*x509.CertPool, bool) {
	return s.h.rootPool(td)
}

func (s *SocketSource) checkChain(td spiffeid.TrustDomain, chain []*x509.Certificate) error {
	return s.h.checkChain(td, chain)
}

// Stale reports whether the CRL held is past its nextUpdate.
func (s *SocketSource) Stale() bool { return s.h.stale() }

func (s *SocketSource) loop(ctx context.Context) {
	defer close(s.done)
	backoff := socketMinBackoff
	longPoll := true
	for ctx.Err() == nil {
		err := s.poll(ctx, longPoll)
		// After a failure (often an agent restart) ask at once, without
		// waiting for a version the new agent may never reach.
		longPoll = err == nil
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.opts.logger.Warn("mtls: agent socket poll failed; keeping the current SVID",
				slog.String("socket", s.path), slog.String("error", err.Error()))
			// Jitter spreads the retries of many processes after an agent
			// restart; it needs no cryptographic randomness.
			d := backoff/2 + rand.N(backoff/2+1) // #nosec G404 -- retry jitter, not a secret.
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = nextBackoff(backoff)
			continue
		}
		backoff = socketMinBackoff
	}
}

func nextBackoff(d time.Duration) time.Duration {
	return min(2*d, socketMaxBackoff)
}

// poll makes one request (a long poll after the held version when
// longPoll) and applies a newer response.
func (s *SocketSource) poll(ctx context.Context, longPoll bool) error {
	url := "http://agent/v1/svid"
	if longPoll {
		url += "?after=" + strconv.FormatUint(s.version, 10)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSocketResponse+1))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mtls: agent socket answered %d", resp.StatusCode)
	}
	if len(body) > maxSocketResponse {
		return errors.New("mtls: agent socket response too large")
	}
	old := s.h.load()
	sum := sha256.Sum256(body)
	if old.svid != nil && sum == s.bodySum {
		// A timed-out long poll answers the same state: nothing to do. A
		// lower or equal version with other content is a restarted agent
		// (its versions start again) and is applied.
		return nil
	}
	sr, err := decodeSocketResponse(body, s.opts.now())
	if err != nil {
		return err
	}
	next := &trustState{svid: sr.svid, bundles: sr.bundles, crls: old.crls}
	if sr.crlErr != nil {
		s.opts.logger.Error("mtls: agent CRL ignored", slog.String("socket", s.path), slog.String("error", sr.crlErr.Error()))
	}
	if sr.crl != nil {
		td := sr.id.TrustDomain()
		info, err := verifyCRL(sr.crl, sr.bundles[td])
		if err == nil {
			err = info.replaceErr(old.crls[td])
		}
		switch {
		case err == nil:
			next.crls = map[spiffeid.TrustDomain]*crlInfo{td: info}
		case errors.Is(err, errCRLNotNewer) && !errors.Is(err, errCRLOlder):
			// The CRL already held, sent again with the new SVID.
		default:
			s.opts.logger.Error("mtls: agent CRL ignored", slog.String("socket", s.path), slog.String("error", err.Error()))
		}
	}
	s.h.store(next)
	s.version, s.bodySum = sr.version, sum
	return nil
}

// socketResponse is a validated `GET /v1/svid` answer.
type socketResponse struct {
	version uint64
	id      spiffeid.ID
	svid    *tls.Certificate
	bundles bundleMap
	crl     *x509.RevocationList // nil when absent or unparsable
	crlErr  error                // why a present CRL could not be parsed
}

// decodeSocketResponse parses and validates an agent answer: the SVID
// chain and key match and are valid at now, the leaf is an X509-SVID whose
// ID is spiffe_id, every bundle key is a trust domain with a valid PEM
// bundle, and the SVID's own trust domain has one. The CRL is parsed but
// its signature is checked by the caller against the held state.
func decodeSocketResponse(body []byte, now time.Time) (*socketResponse, error) {
	var raw struct {
		Version  uint64            `json:"version"`
		SPIFFEID string            `json:"spiffe_id"`
		SVID     string            `json:"svid"`
		Key      string            `json:"key"`
		Bundles  map[string]string `json:"bundles"`
		CRL      string            `json:"crl"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("mtls: agent socket response: %w", err)
	}
	keyPEM := []byte(raw.Key)
	defer clear(keyPEM)
	cert, err := parseKeyPair([]byte(raw.SVID), keyPEM, "svid", "key", now)
	if err != nil {
		return nil, err
	}
	id, err := IDFromCert(cert.Leaf)
	if err != nil {
		return nil, err
	}
	if claimed, err := spiffeid.FromString(raw.SPIFFEID); err != nil || claimed != id {
		return nil, fmt.Errorf("mtls: agent socket response: spiffe_id %q is not the SVID's ID %s", raw.SPIFFEID, id)
	}
	bundles := make(bundleMap, len(raw.Bundles))
	for name, p := range raw.Bundles {
		td, err := spiffeid.TrustDomainFromString(name)
		// The contract keys bundles by trust domain name; its ID form
		// (spiffe://td) is accepted too, other spellings are not.
		if err != nil || (td.Name() != name && td.IDString() != name) {
			return nil, fmt.Errorf("mtls: agent socket response: bad trust domain %q", name)
		}
		certs, err := parseBundlePEM([]byte(p))
		if err != nil {
			return nil, fmt.Errorf("mtls: agent socket response: trust domain %q: %w", name, err)
		}
		bundles[td] = certs
	}
	if len(bundles[id.TrustDomain()]) == 0 {
		return nil, fmt.Errorf("mtls: agent socket response: no bundle for the SVID's trust domain %q", id.TrustDomain().Name())
	}
	sr := &socketResponse{version: raw.Version, id: id, svid: cert, bundles: bundles}
	if raw.CRL != "" {
		sr.crl, sr.crlErr = ParseCRL([]byte(raw.CRL))
	}
	return sr, nil
}
