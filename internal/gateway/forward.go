package gateway

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
	"sync"

	"github.com/rampart-auth/rampart/internal/gateway/input"
	"github.com/rampart-auth/rampart/internal/gateway/upstream"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/ratelimit"
)

// inputStage enforces the route's request rules before anything reaches
// the upstream: body cap (413), content types (415), JSON Schema (422
// problem+json with errors[{pointer, detail}]) and sanitized HTML fields.
// The body forwarded is exactly the one checked.
func (g *Gateway) inputStage(rules *input.Rules, sec securityHeaders, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, p := rules.Check(r)
		if p != nil {
			setSecurityHeaders(w.Header(), sec)
			p.Write(w)
			return
		}
		if r.Body != nil {
			_ = r.Body.Close()
		}
		r.TransferEncoding = nil
		r.ContentLength = int64(len(body))
		r.Body = http.NoBody
		if len(body) > 0 {
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

// forwarder is a route's last stage: choose an upstream (the tenant's
// shard when sharded), wait for the upstream shaper, mint the assertion
// for that upstream's origin, and proxy.
type forwarder struct {
	g           *Gateway
	name        string
	pool        *upstream.Pool
	shaper      *ratelimit.Shaper // nil: no upstream_rate
	shardKey    func(*http.Request) string
	forwardAuth bool
	proto       string
	proxy       *httputil.ReverseProxy
	rm          *routeMetrics
	sec         securityHeaders
}

// outbound is what Rewrite adds to the request sent upstream, prepared
// (and checked) before the proxy runs, since Rewrite cannot fail. The
// target travels in the context too (upstream.WithTarget), where the
// pool's ModifyResponse and ErrorHandler find it for passive health.
type outbound struct {
	target *upstream.Target
	header http.Header // X-Forwarded-*, Forwarded, X-Rampart-*
}

type outboundKey struct{}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ri := infoFrom(ctx)
	tenant := ""
	if f.shardKey != nil {
		tenant = f.shardKey(r)
	}
	t, err := f.pool.Pick(tenant)
	if err != nil {
		f.rm.upstream.Inc()
		f.fail(w, r, http.StatusServiceUnavailable, "No healthy upstream can serve this request.")
		return
	}
	if f.shaper != nil {
		if _, err := f.shaper.Wait(ctx, f.name); err != nil {
			// The shaper's queue is full (or the client left): the
			// upstream is protected by refusing, not by queuing forever.
			w.Header().Set("Retry-After", "1")
			f.fail(w, r, http.StatusServiceUnavailable, "The upstream is at its configured rate; retry shortly.")
			return
		}
	}
	out, err := f.prepare(r, ri, t)
	if err != nil {
		f.g.d.Logger.ErrorContext(ctx, "gateway: cannot vouch for the request; refused", "route", f.name, "err", err)
		f.fail(w, r, http.StatusBadGateway, "The gateway could not forward this request.")
		return
	}
	ri.target = t
	f.proxy.ServeHTTP(w, r.WithContext(context.WithValue(upstream.WithTarget(ctx, t), outboundKey{}, out)))
}

// prepare mints the assertion for the chosen upstream and builds the
// forwarding and identity headers.
func (f *forwarder) prepare(r *http.Request, ri *reqInfo, t *upstream.Target) (*outbound, error) {
	a := Assertion{Route: f.name, RequestID: httpx.RequestIDFrom(r.Context()), Audience: t.Origin}
	if a.RequestID == "" {
		a.RequestID = newRequestID()
	}
	if c := ri.claims; c != nil {
		a.Subject, a.ClientID, a.Scopes = c.Subject, c.ClientID, c.Scopes()
	} else if !ri.peer.IsZero() {
		// An mTLS-only route: the caller is the verified service.
		a.Subject = ri.peer.String()
	}
	tok, err := f.g.minter.Mint(r.Context(), a)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 8)
	client, _ := netip.ParseAddr(ri.client)
	if err := SetForwarded(h, client, f.proto, r.Host); err != nil {
		// The Host is not a valid host (the router allows host-less
		// routes): forward without the host parts rather than an
		// unchecked value.
		if err := SetForwarded(h, client, f.proto, ""); err != nil {
			return nil, err
		}
	}
	if err := SetIdentity(h, a.Subject, a.ClientID, a.Scopes, tok); err != nil {
		return nil, err
	}
	if !ri.peer.IsZero() {
		// A spiffeid.ID's text is a URI of visible ASCII (SPIFFE-ID §2).
		h[HeaderPeerID] = []string{ri.peer.String()}
	}
	return &outbound{target: t, header: h}, nil
}

func (f *forwarder) fail(w http.ResponseWriter, r *http.Request, status int, detail string) {
	setSecurityHeaders(w.Header(), f.sec)
	httpx.WriteProblem(w, r, status, "", detail)
}

// rewrite builds the upstream request (httputil.ReverseProxy's Rewrite,
// never Director: Rewrite runs after the proxy removed the hop-by-hop
// headers, so nothing the client named in Connection can survive, and
// Director's X-Forwarded-For appending is not used). The path is the
// canonical one, the query is passed as received, and the headers a client
// could spoof are dropped in every spelling before the gateway's own are
// set.
func (f *forwarder) rewrite(pr *httputil.ProxyRequest) {
	out, _ := pr.In.Context().Value(outboundKey{}).(*outbound)
	pr.SetURL(out.target.URL)
	StripInbound(pr.Out.Header, f.forwardAuth)
	for k, vs := range out.header {
		pr.Out.Header[k] = vs
	}
}

// modifyResponse counts upstream errors around the pool's hardening of
// the answer (upstream.ModifyResponse, which also reports the outcome to
// the pool).
func (f *forwarder) modifyResponse(next func(*http.Response) error) func(*http.Response) error {
	return func(resp *http.Response) error {
		if resp.StatusCode >= 500 {
			f.rm.upstream.Inc()
		}
		err := next(resp)
		// The answer already carries the route's security headers
		// (ServeHTTP set them); ReverseProxy adds the upstream's headers
		// to them, so the upstream's spelling of each is dropped here, and
		// each is sent once, with the route's value.
		for k := range f.sec {
			resp.Header.Del(k)
		}
		return err
	}
}

// errorHandler counts a failed exchange and answers it with the pool's
// handler (502, or 504 on a timeout, as problem+json without the Go
// error's text; the failure reported to the pool).
func (f *forwarder) errorHandler(next func(http.ResponseWriter, *http.Request, error)) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		f.rm.upstream.Inc()
		next(w, r, err)
	}
}

// proxyErrorLog routes ReverseProxy's own messages to the structured log.
func proxyErrorLog(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelWarn)
}

// securityHeaders are the headers set on every answer of a route (name →
// value; merged from the defaults, the gateway's overrides and the
// route's).
type securityHeaders map[string]string

func defaultSecurity(tls bool) securityHeaders {
	return securityHeaders(upstream.DefaultSecurityHeaders(tls))
}

// mergeSecurity applies overrides in order; an empty value removes a
// header.
func mergeSecurity(base securityHeaders, overrides ...map[string]string) securityHeaders {
	out := securityHeaders{}
	for k, v := range base {
		out[http.CanonicalHeaderKey(k)] = v
	}
	for _, o := range overrides {
		for k, v := range o {
			k = http.CanonicalHeaderKey(strings.TrimSpace(k))
			if v == "" {
				delete(out, k)
				continue
			}
			out[k] = v
		}
	}
	return out
}

func setSecurityHeaders(h http.Header, sec securityHeaders) {
	for k, v := range sec {
		h.Set(k, v)
	}
}

// bufferPool recycles ReverseProxy's copy buffers (32 KiB each), which it
// otherwise allocates per request.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

var proxyBuffers = &bufferPool{}
