package session

import "context"

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
