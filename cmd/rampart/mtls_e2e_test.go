package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/agent"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/mtls"
)

// minRenewals: each SVID is renewed at least this many times during
// TestMTLSServicesRenewAndRotate (issue 14's "Done when").
const minRenewals = 5

// TestMTLSServicesRenewAndRotate is issue 14's acceptance run: `serve`
// with its CA, two workloads registered with join tokens through the
// command tree, agent A serving its SVID on a socket and agent B writing
// files, service B behind mtls.SPIFFEServerConfig admitting only A, and A
// calling B over and over (on one kept-alive connection and with a new
// handshake per request) while both SVIDs renew at least five times and
// `rampart ca rotate` runs in the middle. No request may fail; the later
// SVIDs are signed by the new intermediate.
func TestMTLSServicesRenewAndRotate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: about 40 s of renewals")
	}
	cfgPath, dir := e2eCAConfig(t, "")
	addrs := e2eServe(t, cfgPath)
	server := "https://" + addrs["ca"]
	idA, idB := e2eID("/svc/a"), e2eID("/svc/b")
	tokA, tokB := registerWithToken(t, cfgPath, idA), registerWithToken(t, cfgPath, idB)

	sockA, outB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b-svid")
	startAgent(t, "A", agent.Config{Server: server, JoinTokenFile: tokA, Socket: sockA})
	startAgent(t, "B", agent.Config{Server: server, JoinTokenFile: tokB, OutDir: outB})
	srcA, srcB := waitSocketSource(t, sockA), waitDirSource(t, outB)

	svcB := startService(t, srcB, mtls.AuthorizeID(idA))
	keep := spiffeClient(t, srcA, mtls.AuthorizeID(idB), true)
	fresh := spiffeClient(t, srcA, mtls.AuthorizeID(idB), false)

	// B's SVIDs as the agent's files show them, and as A's client sees
	// them in the handshake.
	filesB, seenB := newCertLog(), newCertLog()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if pair, err := tls.LoadX509KeyPair(filepath.Join(outB, "svid.pem"), filepath.Join(outB, "svid.key")); err == nil {
				var chain []*x509.Certificate
				for _, der := range pair.Certificate {
					if c, err := x509.ParseCertificate(der); err == nil {
						chain = append(chain, c)
					}
				}
				filesB.add(chain)
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	var requests, failures atomic.Int64
	var failMu sync.Mutex
	var firstFailures []string
	call := func(name string, c *http.Client) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			requests.Add(1)
			code, peer, chain, err := getPeer(c, svcB.url+"/hello")
			if err != nil || code != http.StatusOK || peer != idA.String() {
				failures.Add(1)
				failMu.Lock()
				if len(firstFailures) < 5 {
					firstFailures = append(firstFailures, fmt.Sprintf("%s at %s: status %d peer %q error %v", name, time.Now().UTC().Format(time.RFC3339Nano), code, peer, err))
				}
				failMu.Unlock()
			} else {
				seenB.add(chain)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wg.Add(2)
	go call("keep-alive", keep)
	go call("new-connection", fresh)

	// Rotate once each side has been renewed twice (three SVIDs seen).
	testkit.WaitFor(t, "two renewals of each SVID", 60*time.Second, func() bool {
		return svcB.peers.count() >= 3 && filesB.count() >= 3
	})
	before := caIntermediates(t, cfgPath)
	caCLI(t, cfgPath, "rotate")
	var newInter, oldInter string
	for _, i := range caIntermediates(t, cfgPath) {
		switch i.State {
		case "published":
			newInter = i.Serial
		case "active":
			oldInter = i.Serial
		}
	}
	if len(before) != 1 || newInter == "" || oldInter != before[0].Serial {
		t.Fatalf("after rotate: intermediates before %v, new %q, old %q", before, newInter, oldInter)
	}
	rotatedAt := time.Now()
	countsAtRotation := [3]int{svcB.peers.count(), filesB.count(), seenB.count()}

	// Then run until every SVID renewed at least minRenewals times and at
	// least two of each were signed by the new intermediate.
	testkit.WaitFor(t, "the renewals and the rotation", 75*time.Second, func() bool {
		for _, l := range []*certLog{svcB.peers, filesB, seenB} {
			if l.count() < minRenewals+1 || l.signedBy(newInter) < 2 {
				return false
			}
		}
		return true
	})
	close(stop)
	wg.Wait()

	failMu.Lock()
	defer failMu.Unlock()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed; first: %v", n, requests.Load(), firstFailures)
	}
	t.Logf("%d requests, none failed; SVIDs of A seen by B: %d, of B in its files: %d, of B seen by A: %d; the rotation ran %s before the end (at counts %v)",
		requests.Load(), svcB.peers.count(), filesB.count(), seenB.count(), time.Since(rotatedAt), countsAtRotation)
	// The agent delivered the new intermediate in the trust bundle.
	bundle, err := os.ReadFile(filepath.Join(outB, "bundle.pem")) // #nosec G304 -- written by the test's agent in t.TempDir().
	if err != nil {
		t.Fatal(err)
	}
	inBundle := map[string]bool{}
	for _, c := range tlsChainPEM(t, bundle) {
		inBundle[serialOf(c)] = c.IsCA
	}
	if !inBundle[newInter] {
		t.Errorf("B's bundle.pem does not hold the new intermediate %s: %v", newInter, inBundle)
	}
	for name, l := range map[string]*certLog{"A's SVIDs seen by service B": svcB.peers, "B's SVIDs in the agent files": filesB, "B's SVIDs seen by client A": seenB} {
		serials, issuer := l.snapshot()
		// The SVIDs before the rotation were signed by the old
		// intermediate; once one signed by the new one appears, every
		// later one is too (the new intermediate signs from activate_at).
		switched := false
		for i, s := range serials {
			switch issuer[s] {
			case newInter:
				switched = true
			case oldInter:
				if switched {
					t.Errorf("%s: SVID %d (%s) signed by the old intermediate after the new one signed", name, i, s)
				}
			default:
				t.Errorf("%s: SVID %d (%s) came with intermediate %q, neither the old nor the new one", name, i, s, issuer[s])
			}
		}
		if issuer[serials[0]] != oldInter || !switched {
			t.Errorf("%s: the first SVID's intermediate %s (want the old %s), a later one by the new %s: %v", name, issuer[serials[0]], oldInter, newInter, switched)
		}
	}
}
