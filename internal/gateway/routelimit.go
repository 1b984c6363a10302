package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/jwtauth"
	"github.com/rampart-auth/rampart/ratelimit"
)

// Keys of a route's rate limits and of its shuffle shard.
const (
	keySubject  = "subject"
	keyClientIP = "client_ip"
	keyClientID = "client_id"
	keyClaim    = "claim:"
	// missingKey is the key of a request that lacks the keyed value (a
	// token without the tenant claim): such requests share one bucket
	// rather than skipping the limit, so leaving a claim out of a token
	// is never a way around a limit.
	missingKey = "\x00missing"
)

// limiterCache keeps each route's Limiter across reloads while its limits
// are unchanged: a limiter's in-process counters are tied to it, so
// rebuilding it on every SIGHUP would hand every client a fresh burst.
type limiterCache struct {
	mu sync.Mutex
	m  map[string]*ratelimit.Limiter
}

func newLimiterCache() *limiterCache { return &limiterCache{m: map[string]*ratelimit.Limiter{}} }

// get returns the limiter of the route's limits, reusing the one built for
// the same route and limits before; keep names what the new table uses.
func (c *limiterCache) get(store ratelimit.Store, route string, ls []ratelimit.Limit) (*ratelimit.Limiter, error) {
	var sig strings.Builder
	sig.WriteString(route)
	for _, l := range ls {
		fmt.Fprintf(&sig, "|%s/%d/%d/%d", l.Name, l.Rate, l.Period, l.Burst)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.m[sig.String()]; ok {
		return l, nil
	}
	l, err := ratelimit.NewLimiter(store, ls...)
	if err != nil {
		return nil, err
	}
	c.m[sig.String()] = l
	return l, nil
}

// limitStage composes a route's limits all or nothing through ratelimit's
// middleware (429 with Retry-After, RateLimit-Policy and RateLimit
// fields; 503 when the store fails and its policy does not absorb it).
// Every key is prefixed with the route's name, so two routes' "per-user"
// limits never share a bucket.
func (g *Gateway) limitStage(rc config.GatewayRoute, next http.Handler) (http.Handler, error) {
	if len(rc.RateLimits) == 0 {
		return next, nil
	}
	ls := make([]ratelimit.Limit, 0, len(rc.RateLimits))
	kfs := make([]ratelimit.KeyFunc, 0, len(rc.RateLimits))
	for _, l := range rc.RateLimits {
		ls = append(ls, ratelimit.Limit{Name: l.Name, Rate: l.Rate, Period: l.Period.D(), Burst: l.Burst})
		kfs = append(kfs, routeKey(rc.Name, l.Key))
	}
	lim, err := g.limits.get(g.d.Limits, rc.Name, ls)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", rc.Name, err)
	}
	cost := max(rc.Cost, 1)
	mw, err := ratelimit.Middleware(lim, ratelimit.MiddlewareOptions{Keys: kfs, Logger: g.d.Logger,
		Cost: func(*http.Request) int64 { return cost }})
	if err != nil {
		return nil, err
	}
	return mw(next), nil
}

// routeKey returns the KeyFunc of one limit key of a route.
func routeKey(route, key string) ratelimit.KeyFunc {
	prefix := route + "\x00" + key + "\x00"
	value := keyValue(key)
	return func(r *http.Request) string {
		v := value(r)
		if v == "" {
			v = missingKey
		}
		return prefix + v
	}
}

// keyValue reads the value a key names from the request: the verified
// token's subject, client or claim (from the pipeline's reqInfo), or the
// one client address.
func keyValue(key string) func(*http.Request) string {
	switch {
	case key == keyClientIP:
		return func(r *http.Request) string { return infoFrom(r.Context()).client }
	case key == keySubject:
		return func(r *http.Request) string {
			if s := claimsOf(r, func(c *jwtauth.Claims) string { return c.Subject }); s != "" {
				return s
			}
			// An mTLS-only route's subject is the peer's SPIFFE ID.
			if ri := infoFrom(r.Context()); ri != nil && ri.claims == nil && !ri.peer.IsZero() {
				return ri.peer.String()
			}
			return ""
		}
	case key == keyClientID:
		return func(r *http.Request) string { return claimsOf(r, func(c *jwtauth.Claims) string { return c.ClientID }) }
	case strings.HasPrefix(key, keyClaim):
		name := strings.TrimPrefix(key, keyClaim)
		return func(r *http.Request) string { return infoFrom(r.Context()).claim(name) }
	}
	return func(*http.Request) string { return "" }
}

func claimsOf(r *http.Request, f func(*jwtauth.Claims) string) string {
	if ri := infoFrom(r.Context()); ri != nil && ri.claims != nil {
		return f(ri.claims)
	}
	return ""
}

// claim returns a top-level claim of the request's verified token as a
// string: a JSON string as is, a number or boolean by its JSON text;
// objects, arrays, null and absent claims give "". The payload is decoded
// once per request, on first use.
func (ri *reqInfo) claim(name string) string {
	if ri == nil || ri.claims == nil {
		return ""
	}
	if ri.claimMap == nil {
		ri.claimMap = map[string]json.RawMessage{}
		_ = json.Unmarshal(ri.claims.Raw, &ri.claimMap) // verified JSON: cannot fail
	}
	raw := bytes.TrimSpace(ri.claimMap[name])
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	case '{', '[', 'n':
		return ""
	}
	return string(raw)
}
