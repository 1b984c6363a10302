package httpx

import "net/http"

// respWriter records the status and size of a response for AccessLog,
// Metrics and Recover. One is shared by all of them: each reuses the one it
// is handed instead of wrapping again.
type respWriter struct {
	http.ResponseWriter
	status int   // final status; 0 until the header is written
	bytes  int64 // body bytes written
}

// wrapWriter returns w itself when it is already a *respWriter.
func wrapWriter(w http.ResponseWriter) *respWriter {
	if rw, ok := w.(*respWriter); ok {
		return rw
	}
	return &respWriter{ResponseWriter: w}
}

// WriteHeader records the first final status. 1xx answers (103 Early
// Hints) are informational and may precede it; 101 is final.
func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush sends buffered data; it commits the header, status 200 if none
// was set.
func (w *respWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer (Hijack,
// SetReadDeadline, EnableFullDuplex).
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wroteHeader reports whether the status line has gone out.
func (w *respWriter) wroteHeader() bool { return w.status != 0 }

// statusOr returns the recorded status, or 200 when the handler wrote
// nothing (the server then answers 200 with an empty body).
func (w *respWriter) statusOr() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// StatusRecorder returns a writer that records the final status of what
// is written through it, and a function reading it (200 when nothing was
// written). It is the recorder AccessLog and Metrics use, reused when w
// already is one.
func StatusRecorder(w http.ResponseWriter) (http.ResponseWriter, func() int) {
	rw := wrapWriter(w)
	return rw, rw.statusOr
}
