package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/agent"
	"github.com/rampart-auth/rampart/internal/app"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/mtls"
)

// e2eTD is the trust domain of the end-to-end service-mTLS tests.
const e2eTD = "e2e.test"

// e2eID is spiffe://e2e.test<path>.
func e2eID(path string) spiffeid.ID {
	return spiffeid.RequireFromPath(spiffeid.RequireTrustDomainFromString(e2eTD), path)
}

// e2eCAConfig writes a production configuration (master key in a file,
// SQLite) whose CA is as short-lived as the configuration allows: SVIDs
// of 10 s (ca.svid_ttl's minimum), a CRL valid 10 s (ca.crl_validity's
// minimum), and a rotation that signs 2 s after it is published. The
// enrolment listener and the main listener take ports the OS picks. extra
// is appended (a gateway section). The database is migrated.
func e2eCAConfig(t *testing.T, extra string) (cfgPath, dir string) {
	t.Helper()
	dir = t.TempDir()
	keyFile := writeFile(t, dir, "master.key", testkit.MasterKeyBase64+"\n")
	body := fmt.Sprintf(`issuer: http://127.0.0.1:0
data_dir: %s
master_key_file: %s
http: {listen: '127.0.0.1:0', tls: {mode: 'off'}}
log: {level: warn}
ca:
  trust_domain: %s
  listen: '127.0.0.1:0'
  svid_ttl: 10s
  max_svid_ttl: 10m
  crl_validity: 10s
  rotation_propagation: 2s
%s`, filepath.Join(dir, "data"), keyFile, e2eTD, extra)
	cfgPath = writeFile(t, dir, "rampart.yaml", body)
	if code, _, errs := cli(t, "", "migrate", "--config", cfgPath); code != 0 {
		t.Fatalf("migrate: %s", errs)
	}
	return cfgPath, dir
}

// e2eServe runs `serve` in-process on cfgPath until the test ends and
// returns its listeners' addresses by name ("main", "ca", "gateway").
// Serve's stderr is logged when the test fails.
func e2eServe(t *testing.T, cfgPath string) map[string]string {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var stderr testkit.SyncBuffer
	addrs := map[string]string{}
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, app.ServeOptions{Config: cfg, Env: app.OSEnv(), Stdout: io.Discard, Stderr: &stderr, Name: "Rampart", Version: "test",
			Listening: func(n string, a net.Addr) { mu.Lock(); addrs[n] = a.String(); mu.Unlock() },
			Ready:     func(net.Addr) { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("serve's stderr:\n%s", stderr.String())
		}
	})
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string]string, len(addrs))
	for k, v := range addrs {
		out[k] = v
	}
	return out
}

// caCLI runs `rampart ca ARGS --config cfgPath` through the command tree
// and fails the test unless it exits 0; it returns stdout.
func caCLI(t *testing.T, cfgPath string, args ...string) string {
	t.Helper()
	code, out, errs := cli(t, "", append(append([]string{"ca"}, args...), "--config", cfgPath)...)
	if code != 0 {
		t.Fatalf("rampart ca %s: exit %d\nstdout %s\nstderr %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// registerWithToken registers id (with extra register flags) and writes
// its one-time join token to a 0600 file, whose path it returns.
func registerWithToken(t *testing.T, cfgPath string, id spiffeid.ID, extra ...string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "join.token")
	caCLI(t, cfgPath, append([]string{"register", "--spiffe-id", id.String(), "--join-token", "--token-file", f}, extra...)...)
	return f
}

// runningAgent is an in-process `rampart agent`.
type runningAgent struct {
	cfg  agent.Config
	log  *testkit.SyncBuffer
	done chan error
	stop func() error
}

// startAgent runs an agent with cfg until the test ends (or stop).
func startAgent(t *testing.T, name string, cfg agent.Config) *runningAgent {
	t.Helper()
	ra := &runningAgent{cfg: cfg, log: &testkit.SyncBuffer{}, done: make(chan error, 1)}
	cfg.Logger = slog.New(slog.NewTextHandler(ra.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatalf("agent %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { ra.done <- a.Run(ctx) }()
	var once sync.Once
	var runErr error
	ra.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-ra.done:
			case <-time.After(15 * time.Second):
				runErr = fmt.Errorf("agent %s did not stop", name)
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := ra.stop(); err != nil && !t.Failed() {
			t.Errorf("agent %s: %v", name, err)
		}
		if t.Failed() {
			t.Logf("agent %s's log:\n%s", name, ra.log.String())
		}
	})
	return ra
}

// waitDirSource waits until the agent wrote its files to dir and returns a
// DirSource over them.
func waitDirSource(t *testing.T, dir string) *mtls.DirSource {
	t.Helper()
	var src *mtls.DirSource
	testkit.WaitFor(t, "the agent's files in "+dir, 60*time.Second, func() bool {
		s, err := mtls.NewDirSource(dir)
		src = s
		return err == nil
	})
	return src
}

// waitSocketSource connects to the agent socket once it serves an SVID.
func waitSocketSource(t *testing.T, path string) *mtls.SocketSource {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var src *mtls.SocketSource
	testkit.WaitFor(t, "the agent socket "+path, 60*time.Second, func() bool {
		s, err := mtls.NewSocketSource(ctx, path)
		src = s
		return err == nil
	})
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// certLog records the distinct X509-SVIDs seen (leaf serial, in order of
// first sight) and the intermediate each came with.
type certLog struct {
	mu     sync.Mutex
	order  []string
	leaves map[string]*x509.Certificate
	issuer map[string]*x509.Certificate // leaf serial → the intermediate sent with it
}

func newCertLog() *certLog {
	return &certLog{leaves: map[string]*x509.Certificate{}, issuer: map[string]*x509.Certificate{}}
}

// add records chain (leaf first) once.
func (l *certLog) add(chain []*x509.Certificate) {
	if len(chain) == 0 {
		return
	}
	s := serialOf(chain[0])
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.leaves[s]; ok {
		return
	}
	l.order = append(l.order, s)
	l.leaves[s] = chain[0]
	if len(chain) > 1 {
		l.issuer[s] = chain[1]
	}
}

// count returns the number of distinct SVIDs seen.
func (l *certLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.order)
}

// signedBy returns how many SVIDs seen were signed by the intermediate of
// serial inter (hex), checking the signature.
func (l *certLog) signedBy(inter string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.order {
		if i := l.issuer[s]; i != nil && serialOf(i) == inter && l.leaves[s].CheckSignatureFrom(i) == nil {
			n++
		}
	}
	return n
}

// snapshot returns the serials seen in order of issuance (NotBefore:
// two handshakes racing may be seen out of order) and the intermediate
// serial of each.
func (l *certLog) snapshot() ([]string, map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]string, len(l.order))
	for _, s := range l.order {
		if i := l.issuer[s]; i != nil {
			m[s] = serialOf(i)
		}
	}
	order := append([]string(nil), l.order...)
	slices.SortStableFunc(order, func(a, b string) int { return l.leaves[a].NotBefore.Compare(l.leaves[b].NotBefore) })
	return order, m
}

// serialOf is a certificate's serial as the CA prints it (lowercase hex of
// the big-endian bytes).
func serialOf(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }

// service is an https server behind mtls.SPIFFEServerConfig: it answers
// 200 with the verified peer's SPIFFE ID and records the client SVIDs it
// saw; handshake failures go to its error log.
type service struct {
	url    string
	peers  *certLog
	errLog *testkit.SyncBuffer
	mu     sync.Mutex
	hits   int
	header http.Header // of the last request
}

func startService(t *testing.T, src mtls.Source, authz mtls.Authorizer) *service {
	t.Helper()
	return startServiceOn(t, listenLoopback(t), src, authz)
}

// listenLoopback listens on a loopback port the OS picks; connections wait
// in the backlog until a server serves the listener.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// startServiceOn is startService on ln.
func startServiceOn(t *testing.T, ln net.Listener, src mtls.Source, authz mtls.Authorizer) *service {
	t.Helper()
	s := &service{peers: newCertLog(), errLog: &testkit.SyncBuffer{}}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		TLSConfig:         mtls.SPIFFEServerConfig(src, authz),
		ErrorLog:          log.New(s.errLog, "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, ok := mtls.PeerID(r.TLS)
			if !ok {
				// SPIFFEServerConfig requires a verified client SVID;
				// reaching here without one is a failure of the test.
				http.Error(w, "no verified peer", http.StatusInternalServerError)
				return
			}
			s.peers.add(r.TLS.PeerCertificates)
			s.mu.Lock()
			s.hits++
			s.header = r.Header.Clone()
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"peer": id.String()})
		}),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	s.url = "https://" + ln.Addr().String()
	return s
}

// served returns the number of requests the handler answered and the
// headers of the last one.
func (s *service) served() (int, http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits, s.header
}

// spiffeClient is an http.Client presenting src's SVID and accepting only
// a server that authz admits; keepAlive false makes every request a new
// TLS handshake.
func spiffeClient(t *testing.T, src mtls.Source, authz mtls.Authorizer, keepAlive bool) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: mtls.SPIFFEClientConfig(src, authz), DisableKeepAlives: !keepAlive}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// getPeer GETs url and returns the status, the peer ID the service
// answered, and the server's chain; err is the transport's error.
func getPeer(c *http.Client, url string) (int, string, []*x509.Certificate, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Peer string `json:"peer"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = json.Unmarshal(b, &body)
	var chain []*x509.Certificate
	if resp.TLS != nil {
		chain = resp.TLS.PeerCertificates
	}
	return resp.StatusCode, body.Peer, chain, nil
}

// unixGet GETs path from the agent socket.
func unixGet(t *testing.T, sock, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	resp, err := c.Get("http://agent" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// caIntermediates returns `rampart ca list --json`'s intermediates.
func caIntermediates(t *testing.T, cfgPath string) []struct{ Serial, State string } {
	t.Helper()
	var l struct {
		Intermediates []struct{ Serial, State string } `json:"intermediates"`
	}
	if err := json.Unmarshal([]byte(caCLI(t, cfgPath, "list", "--json")), &l); err != nil {
		t.Fatal(err)
	}
	return l.Intermediates
}

// tlsChain returns the leaf and intermediate of a tls.Certificate.
func tlsChain(t *testing.T, c *tls.Certificate) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, der := range c.Certificate {
		x, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

// noCertClient is an http.Client that presents no certificate and accepts
// only a server holding an X509-SVID of want that verifies against
// trust: a well-behaved client without an SVID, whose refusal is the
// server's.
func noCertClient(t *testing.T, trust mtls.Bundles, want spiffeid.ID) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13,
		// The server's certificate is an X509-SVID without DNS names:
		// VerifyConnection checks it as an SVID (on every connection,
		// resumed ones included) instead of as a host name.
		InsecureSkipVerify: true, // #nosec G402 -- VerifyConnection verifies the server's SVID against the bundle.
		VerifyConnection: func(cs tls.ConnectionState) error {
			raw := make([][]byte, len(cs.PeerCertificates))
			for i, c := range cs.PeerCertificates {
				raw[i] = c.Raw
			}
			id, _, err := mtls.VerifySVID(raw, trust, nil, time.Now())
			if err == nil && id != want {
				err = fmt.Errorf("the server is %s, not %s", id, want)
			}
			return err
		},
	}, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
