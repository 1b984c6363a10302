package notes

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"

	"github.com/rampart-auth/rampart/jwtauth"
)

// MaxBodyBytes caps every request body (http.MaxBytesReader): 64 KiB holds
// the largest valid note (a 32 KiB body, JSON-escaped) with room to spare.
const MaxBodyBytes = 64 << 10

// Options configures a Service.
type Options struct {
	// Driver is "sqlite" (default) or "postgres".
	Driver string
	// DSN is the SQLite file path (":memory:" for tests) or the PostgreSQL
	// DSN. Required.
	DSN string
	// Assertions verifies X-Rampart-Assertion. Required: every request but
	// GET /healthz is refused without a valid one.
	Assertions *jwtauth.AssertionVerifier
	// Logger receives refusals and failures (default slog.Default()).
	Logger *slog.Logger
}

// Service is the notes API over one database. It is safe for concurrent
// use.
type Service struct {
	db      *sql.DB
	driver  string
	q       queries
	av      *jwtauth.AssertionVerifier
	log     *slog.Logger
	hashers chan struct{} // bounds concurrent argon2id computations
	handler http.Handler
}

// Open connects to the database, creates the tables when they do not
// exist (CREATE TABLE IF NOT EXISTS) and returns the service.
func Open(ctx context.Context, o Options) (*Service, error) {
	if o.Assertions == nil {
		return nil, errors.New("notes: Options.Assertions is required (every request must carry a gateway assertion)")
	}
	if o.Driver == "" {
		o.Driver = DriverSQLite
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	db, err := openDB(ctx, o.Driver, o.DSN)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, o.Driver); err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &Service{
		db: db, driver: o.Driver, q: newQueries(o.Driver), av: o.Assertions, log: o.Logger,
		hashers: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the API's handler: GET /healthz without an assertion,
// everything else behind one.
func (s *Service) Handler() http.Handler { return s.handler }

// Close closes the database.
func (s *Service) Close() error { return s.db.Close() }

func (s *Service) routes() http.Handler {
	api := http.NewServeMux()
	api.Handle("POST /api/users", s.handle(s.register))
	api.Handle("GET /api/users/me", s.handle(s.me))
	api.Handle("GET /api/notes", s.handle(s.requireScope(ScopeRead, s.listNotes)))
	api.Handle("POST /api/notes", s.handle(s.requireScope(ScopeWrite, s.createNote)))
	api.Handle("GET /api/notes/{id}", s.handle(s.requireScope(ScopeRead, s.getNote)))
	api.Handle("PUT /api/notes/{id}", s.handle(s.requireScope(ScopeWrite, s.updateNote)))
	api.Handle("DELETE /api/notes/{id}", s.handle(s.requireScope(ScopeWrite, s.deleteNote)))
	// Everything else, after the assertion check (so an unauthenticated
	// caller learns nothing about which paths exist), is a 404 problem.
	api.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, problem{Status: http.StatusNotFound, Code: "not_found"})
	})

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	root.Handle("/", s.requireIdentity(api))
	return capBody(root)
}

// capBody limits every request body to MaxBodyBytes, so no handler can be
// made to read more (OWASP REST Security Cheat Sheet, "input validation":
// bound request sizes).
func capBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			writeProblem(w, problem{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
				Detail: "The request body is larger than 64 KiB."})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// readBody reads the (capped) body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, &apiError{status: http.StatusBadRequest, code: "bad_body", detail: "The request body could not be read.", err: err}
	}
	return b, nil
}
