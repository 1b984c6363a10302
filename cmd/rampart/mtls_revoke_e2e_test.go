package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/agent"
	"github.com/rampart-auth/rampart/internal/caapi"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/mtls"
)

// crlValidity is ca.crl_validity in e2eCAConfig.
const crlValidity = 10 * time.Second

// TestMTLSRevokedRefused: `rampart ca revoke --spiffe-id` of workload A
// while A calls service B. The CA refuses A's renewal at once (a direct
// renewal with A's current SVID, and A's agent counting a failed renewal
// at its next attempt); B refuses A's handshake once B's agent delivered
// the new CRL, within two CRL validities of the revocation and while A's
// SVID has not expired (so the CRL, not expiry, refuses it). Before that,
// the attacks every SPIFFE peer must refuse are performed against B: a
// plaintext client, a client without a certificate, an SVID of another
// trust domain, and an SVID of A's own ID from a foreign CA.
func TestMTLSRevokedRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: waits for a CRL to propagate")
	}
	cfgPath, dir := e2eCAConfig(t, "")
	addrs := e2eServe(t, cfgPath)
	server := "https://" + addrs["ca"]
	idA, idB := e2eID("/svc/a"), e2eID("/svc/b")
	// A's SVID lives 40 s: long enough that B's refusal below (at most
	// 25 s after the revocation) cannot be its expiry, short enough that
	// its agent tries to renew during the test.
	tokA, tokB := registerWithToken(t, cfgPath, idA, "--ttl", "40s"), registerWithToken(t, cfgPath, idB)
	outA, sockA, outB := filepath.Join(dir, "a-svid"), filepath.Join(dir, "a.sock"), filepath.Join(dir, "b-svid")
	startAgent(t, "A", agent.Config{Server: server, JoinTokenFile: tokA, OutDir: outA, Socket: sockA})
	startAgent(t, "B", agent.Config{Server: server, JoinTokenFile: tokB, OutDir: outB})
	srcA, srcB := waitDirSource(t, outA), waitDirSource(t, outB)
	svcB := startService(t, srcB, mtls.AuthorizeID(idA))
	clientA := spiffeClient(t, srcA, mtls.AuthorizeID(idB), false)
	if code, peer, _, err := getPeer(clientA, svcB.url); err != nil || code != http.StatusOK || peer != idA.String() {
		t.Fatalf("A → B before the revocation: %d %q %v", code, peer, err)
	}
	bundleB, err := os.ReadFile(filepath.Join(outB, "bundle.pem")) // #nosec G304 -- written by the test's agent in t.TempDir().
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundleB) {
		t.Fatal("B's bundle.pem holds no certificate")
	}
	bundle := tlsChainPEM(t, bundleB)

	refusedAtHandshake := func(t *testing.T, c *http.Client) {
		t.Helper()
		hits, _ := svcB.served()
		logged := len(svcB.errLog.String())
		code, _, _, err := getPeer(c, svcB.url)
		if err == nil {
			t.Fatalf("B answered %d; want the handshake refused", code)
		}
		if n, _ := svcB.served(); n != hits {
			t.Fatal("the request reached B's handler")
		}
		// The refusal is B's (its server logs the failed handshake), not
		// the client's of B.
		testkit.WaitFor(t, "B to log the refused handshake", 10*time.Second, func() bool {
			return strings.Contains(svcB.errLog.String()[logged:], "TLS handshake error")
		})
		t.Logf("client: %v; B: %s", err, strings.TrimSpace(svcB.errLog.String()[logged:]))
	}
	t.Run("reject/plaintext", func(t *testing.T) {
		hits, _ := svcB.served()
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http" + strings.TrimPrefix(svcB.url, "https"))
		if err == nil {
			_ = resp.Body.Close()
			// Go's TLS server answers a plaintext request with 400
			// before any handshake (net/http: "client sent an HTTP
			// request to an HTTPS server").
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("plaintext request: %d, want 400 or a transport error", resp.StatusCode)
			}
		}
		if n, _ := svcB.served(); n != hits {
			t.Fatal("a plaintext request reached B's handler")
		}
	})
	t.Run("reject/no-client-certificate", func(t *testing.T) {
		refusedAtHandshake(t, noCertClient(t, bundlesOf{idB.TrustDomain(): bundle}, idB))
	})
	t.Run("reject/other-trust-domain", func(t *testing.T) {
		foreign := newForeignCA(t, "other.test")
		svid := foreign.svid(t, spiffeid.RequireFromPath(foreign.td, "/svc/a"))
		src := mtls.NewStaticSource(svid, map[spiffeid.TrustDomain][]*x509.Certificate{idB.TrustDomain(): bundle, foreign.td: {foreign.cert}})
		refusedAtHandshake(t, spiffeClient(t, src, mtls.AuthorizeID(idB), false))
	})
	t.Run("reject/own-id-from-foreign-ca", func(t *testing.T) {
		// An attacker's CA that calls itself e2e.test issues A's ID.
		foreign := newForeignCA(t, e2eTD)
		svid := foreign.svid(t, idA)
		src := mtls.NewStaticSource(svid, map[spiffeid.TrustDomain][]*x509.Certificate{idB.TrustDomain(): bundle})
		refusedAtHandshake(t, spiffeClient(t, src, mtls.AuthorizeID(idB), false))
	})

	pairA, err := tls.LoadX509KeyPair(filepath.Join(outA, "svid.pem"), filepath.Join(outA, "svid.key"))
	if err != nil {
		t.Fatal(err)
	}
	leafA := tlsChain(t, &pairA)[0]
	failuresBefore := agentFailures(t, sockA)
	caCLI(t, cfgPath, "revoke", "--spiffe-id", idA.String(), "--reason", "e2e test")
	revokedAt := time.Now()

	t.Run("reject/renewal-with-revoked-svid", func(t *testing.T) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{idA.URL()}}, key)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]string{"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
		req, _ := http.NewRequest(http.MethodPost, server+caapi.PathSVID, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pairA}}, DisableKeepAlives: true}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		// The contract: a revoked SVID or ID is 403 (the caller is
		// known and refused).
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("renewal with the revoked SVID: %d, want 403", resp.StatusCode)
		}
	})

	t.Run("reject/handshake-after-crl", func(t *testing.T) {
		limit := 2*crlValidity + 5*time.Second
		var refusedAfter time.Duration
		testkit.WaitFor(t, "B to refuse the revoked A", limit, func() bool {
			_, _, _, err := getPeer(clientA, svcB.url)
			refusedAfter = time.Since(revokedAt)
			return err != nil
		})
		if !time.Now().Before(leafA.NotAfter) {
			t.Fatalf("A's SVID expired (%s) before B refused it: the CRL was not what refused it", leafA.NotAfter)
		}
		if cur, err := srcA.SVID(); err != nil || serialOf(cur.Leaf) != serialOf(leafA) {
			t.Fatalf("A holds another SVID than the revoked one (%v): its renewal was not refused", err)
		}
		// B logs the handshake error after the client saw the alert.
		testkit.WaitFor(t, "B to log the revoked certificate", 10*time.Second, func() bool {
			return strings.Contains(svcB.errLog.String(), "is revoked")
		})
		t.Logf("B refused A %s after the revocation (limit %s)", refusedAfter, limit)
	})

	t.Run("reject/agent-renewal", func(t *testing.T) {
		// A's agent renews at half of 40 s: the CA refuses it, and the
		// agent counts the failure and keeps the revoked SVID (it cannot
		// enrol again: its join token was used).
		testkit.WaitFor(t, "A's agent to fail a renewal", 40*time.Second, func() bool {
			return agentFailures(t, sockA) > failuresBefore
		})
		if cur, err := srcA.SVID(); err != nil || serialOf(cur.Leaf) != serialOf(leafA) {
			t.Fatalf("A's agent obtained a new SVID after the revocation (%v)", err)
		}
	})
}

var failureMetric = regexp.MustCompile(`(?m)^rampart_agent_renewals_total\{outcome="failure"\} (\d+)$`)

// agentFailures reads rampart_agent_renewals_total{outcome="failure"} from
// the agent socket's /metrics.
func agentFailures(t *testing.T, sock string) int {
	t.Helper()
	code, body := unixGet(t, sock, "/metrics")
	m := failureMetric.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("agent /metrics: %d\n%s", code, body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// bundlesOf is an mtls.Bundles of fixed authorities.
type bundlesOf map[spiffeid.TrustDomain][]*x509.Certificate

func (b bundlesOf) X509Authorities(td spiffeid.TrustDomain) ([]*x509.Certificate, bool) {
	c, ok := b[td]
	return c, ok
}

// foreignCA is a CA the test builds: a root with the SPIFFE profile of
// another trust domain (or one claiming Rampart's): testkit.SPIFFECA.
type foreignCA struct {
	td   spiffeid.TrustDomain
	cert *x509.Certificate
	kit  *testkit.SPIFFECA
}

func newForeignCA(t *testing.T, td string) *foreignCA {
	t.Helper()
	ca := testkit.NewSPIFFECA(t, td)
	return &foreignCA{td: spiffeid.RequireTrustDomainFromString(ca.TD), cert: ca.Cert, kit: ca}
}

// svid issues an X509-SVID of id with the contract's leaf profile.
func (c *foreignCA) svid(t *testing.T, id spiffeid.ID) *tls.Certificate {
	t.Helper()
	return c.kit.SVID(t, id)
}

// tlsChainPEM parses every certificate of a PEM file.
func tlsChainPEM(t *testing.T, b []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}
