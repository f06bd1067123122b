package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// responseWriter commits the session before the first byte of the response
// goes out, so that a browser following a redirect finds the session saved.
// Flush, Hijack, ReadFrom, WriteString, Push, CloseNotify and
// http.NewResponseController work through it.
// It is a view of the requestState, whose w is the writer underneath, so
// that it costs no allocation.
type responseWriter requestState

// rs is the request's state that w is a view of.
func (w *responseWriter) rs() *requestState { return (*requestState)(w) }

// WriteHeader commits the session, then writes the header. Informational
// (1xx) responses pass straight through, except 101 Switching Protocols,
// and except after a session error, which the error handler answers.
func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.rs().mu.Lock()
		answered := w.rs().answeredLocked()
		w.rs().mu.Unlock()
		if !answered {
			w.w.WriteHeader(code)
		}
		return
	}
	if w.rs().beforeHeaders() {
		w.w.WriteHeader(code)
	}
}

// Header returns the response headers; after a session error, a throwaway
// map: the error handler answers instead (or has answered already).
func (w *responseWriter) Header() http.Header {
	w.rs().mu.Lock()
	defer w.rs().mu.Unlock()
	if w.rs().answeredLocked() {
		f := w.rs().rareLocked()
		if f.discarded == nil {
			f.discarded = http.Header{}
		}
		return f.discarded
	}
	return w.w.Header()
}

// Write commits the session before the first write. After a session error
// the error handler answered, the handler's output is discarded; after one
// made once the headers went out (a late load), which no one could answer,
// it goes out.
func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.rs().beforeHeaders() {
		return len(p), nil
	}
	return w.w.Write(p)
}

// WriteString is Write for a string, as io.WriteString calls it: it hands
// the string to the writer underneath as one (net/http's does), instead of
// making io.WriteString copy it into a []byte first.
func (w *responseWriter) WriteString(s string) (int, error) {
	if !w.rs().beforeHeaders() {
		return len(s), nil
	}
	if sw, ok := w.w.(io.StringWriter); ok {
		return sw.WriteString(s)
	}
	return w.w.Write([]byte(s))
}

// ReadFrom keeps sendfile and splice working for io.Copy into the response.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.rs().beforeHeaders() {
		return io.Copy(io.Discard, r)
	}
	if rf, ok := w.w.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{w.w}, r)
}

// writerOnly hides a writer's ReadFrom, so io.Copy does not loop back to it.
type writerOnly struct{ io.Writer }

// Flush commits the session and flushes, for streaming responses.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush that reports the underlying writer's error; it is what
// http.ResponseController.Flush calls. When the writer underneath cannot
// flush (http.ErrNotSupported), nothing went out: the commit is taken back,
// and the next write commits the session as it is then and sends its
// cookie. Any other error leaves the headers counted as sent, as net/http
// counts them. After a session error that the ErrorHandler answered, the
// handler's output is discarded, but its Flush sends that answer: a
// streaming handler that goes on after a failed From (server-sent events)
// would otherwise leave the client waiting for the headers for as long as
// it streams.
func (w *responseWriter) FlushError() error {
	var undo headersUndo
	if !w.rs().beforeHeadersUndoable(&undo) {
		if w.rs().answeredHere() {
			return http.NewResponseController(w.w).Flush()
		}
		return nil
	}
	err := http.NewResponseController(w.w).Flush()
	if errors.Is(err, http.ErrNotSupported) {
		w.rs().headersNotSent(&undo)
	}
	return err
}

// Hijack commits the session, then hands over the connection (websockets).
// The session's Set-Cookie and Vary are then in Header(), and only a
// response written on the connection carries them: a library that writes
// its own handshake must be given them (gorilla/websocket:
// Upgrade(w, r, w.Header())), or a session made by this request never
// reaches the client. A Hijack that fails (http.ErrNotSupported over
// HTTP/2) hands nothing over: the commit is taken back, and the response the
// handler writes instead commits the session and carries its cookie.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	var undo headersUndo
	if !w.rs().beforeHeadersUndoable(&undo) {
		return nil, nil, http.ErrNotSupported
	}
	conn, buf, err := http.NewResponseController(w.w).Hijack()
	if err != nil {
		w.rs().headersNotSent(&undo)
	} else {
		w.rs().mu.Lock()
		w.rs().released = true
		w.rs().mu.Unlock()
	}
	return conn, buf, err
}

// Push passes an HTTP/2 server push (http.Pusher) to the writer
// underneath; over a connection that cannot push (HTTP/1), it returns
// http.ErrNotSupported, as net/http's writers do when push is off.
func (w *responseWriter) Push(target string, opts *http.PushOptions) error {
	if p, ok := w.w.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// CloseNotify is http.CloseNotifier's (deprecated, but gin's Context.Stream,
// its server-sent events, asserts it on the writer it is given without
// checking, and panics on one without it): the writer underneath's, or,
// behind one that has none (another middleware's wrapper), a channel that
// receives true once the request's context ends, as when the client goes
// away; the same channel on every call of the request, as net/http's, so
// that a handler that calls CloseNotify in its select loop does not pile up
// a channel and a context.AfterFunc per call for as long as it streams.
// Request.Context is the way to tell in new code.
func (w *responseWriter) CloseNotify() <-chan bool {
	if cn, ok := w.w.(interface{ CloseNotify() <-chan bool }); ok {
		return cn.CloseNotify()
	}
	w.rs().mu.Lock()
	defer w.rs().mu.Unlock()
	f := w.rs().rareLocked()
	if f.gone == nil {
		gone := make(chan bool, 1)
		context.AfterFunc(w.rs().r.Context(), func() { gone <- true })
		f.gone = gone
	}
	return f.gone
}

// String names the writer and the one underneath, so that a writer
// printed (fmt, slog) shows neither the request its state holds (its
// headers: Authorization, the session cookie) nor the session state that
// other goroutines change under rs.mu.
func (w *responseWriter) String() string { return fmt.Sprintf("session.responseWriter(%T)", w.w) }

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.w }
