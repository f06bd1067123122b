package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sessionkit/session"
)

// errOverCap is the error of a save that would take a session over maxKeys
// or maxDataSize: capCodec's, which the ErrorHandler answers with 422.
var errOverCap = errors.New("the session would be over the demo's cap")

// capCodec is the express document (session.JSONCodec) that refuses to
// encode a session over the demo's cap. The handlers check the cap before
// they change a session (capacityProblem), against the session as their
// request loaded it; parallel requests' changes are merged when they are
// saved (another request's keys come back in), and the merged session is
// checked only here. Its count leaves out, besides flash messages, the
// keys the demo sets itself (views, user), which a page view or a login
// may add to a session that a PUT filled to the cap, and sessionkit's own.
type capCodec struct{ session.JSONCodec }

func (c capCodec) Encode(doc *session.Document) ([]byte, error) {
	data := make(map[string]json.RawMessage, len(doc.Values))
	for k, v := range doc.Values {
		switch k {
		case keyFlash, keyViews, keyUser, session.UserKey, session.ClientKey, session.LoginKey, session.CreatedKey:
		default:
			data[k] = v
		}
	}
	if msg := overCap(data); msg != "" {
		return nil, fmt.Errorf("%w: %s", errOverCap, msg)
	}
	return c.JSONCodec.Encode(doc)
}

// overCap says why a session with data would be over maxKeys or maxDataSize
// (data as JSON), or "".
func overCap(data map[string]json.RawMessage) string {
	if len(data) > maxKeys {
		return fmt.Sprintf("The session would hold %d keys; the demo keeps at most %d. Delete some first.", len(data), maxKeys)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return "The session's data cannot be written as JSON."
	}
	if len(b) > maxDataSize {
		return fmt.Sprintf("The session's data would take %d bytes; the demo keeps at most %d. Delete some first.", len(b), maxDataSize)
	}
	return ""
}

// errorHandler answers a request whose session the manager could not load
// or save: 422 for a save over the cap (capCodec), with a JSON error for
// the API, else 500, as the manager's default handler.
func errorHandler(log *slog.Logger) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if errors.Is(err, errOverCap) {
			log.Warn("session not saved: over the cap", "method", r.Method, "path", r.URL.Path, "err", err)
			_, msg, _ := strings.Cut(err.Error(), errOverCap.Error()+": ")
			if strings.HasPrefix(r.URL.Path, "/api/") {
				writeError(w, http.StatusUnprocessableEntity, msg)
			} else {
				http.Error(w, msg, http.StatusUnprocessableEntity)
			}
			return
		}
		log.Error("session error", "err", err, "method", r.Method, "path", r.URL.Path)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
}
