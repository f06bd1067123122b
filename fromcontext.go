package session

import (
	"context"
	"net/http"
)

// FromContext is From for code that has the request's context and not the
// request: a function deeper in the app that takes r.Context(), as the
// calls of alexedwards/scs do (sm.GetString(ctx, key)). It returns the
// session From(r) returns for the request whose context ctx is, or is
// derived from, and nil for a context of no request under the Handler.
func FromContext(ctx context.Context) *Session {
	rs, _ := ctx.Value(stateKey{}).(*requestState)
	if rs == nil {
		return nil
	}
	return rs.session()
}

// From returns the session that m's Handler gave the request, or nil when
// the request did not go through it (or is outside its Cookie.Path). With
// the Handlers of two Managers nested over the same paths, each with its
// own cookie (a login session and long-lived preferences; what scs does
// with two SessionManagers and gorilla/sessions with two session names),
// the package's From returns the innermost Handler's session, and each
// Manager's From its own. Each session is saved, and its cookie set, as
// if it were alone.
func (m *Manager) From(r *http.Request) *Session { return m.FromContext(r.Context()) }

// FromContext is Manager.From for code that has the request's context.
func (m *Manager) FromContext(ctx context.Context) *Session {
	for {
		rs, _ := ctx.Value(stateKey{}).(*requestState)
		if rs == nil {
			return nil
		}
		if rs.m == m {
			return rs.session()
		}
		ctx = rs.parent // the request's context outside rs's Handler
	}
}
