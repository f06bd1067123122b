package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/sessionkit/session"
)

// passportUser is the user that passport logged in to this session:
// req.session.passport.user, as the Express app's serializeUser stored it
// (here the user's id, a string), "" for nobody.
func passportUser(s *session.Session) string {
	p, _ := session.GetAs[struct {
		User string `json:"user"`
	}](s, "passport")
	return p.User
}

// currentUser is who is logged in, for a Go handler: passport's user. The
// first time a Go request sees a login or a logout that passport made, it
// also binds the session to that user, or unbinds it (SetUser), so that
// UserSessions, MaxSessionsPerUser and DestroyUserSessions know the session
// from then on.
func currentUser(s *session.Session) string {
	u := passportUser(s)
	if u != s.User() {
		s.SetUser(u)
	}
	return u
}

// logIn logs user in on the Go side so that passport on the Express app
// sees them logged in: a new session id (as passport's req.login
// regenerates it, but keeping the session's data, as its keepSessionInfo:
// true), passport's key, and the user for the Go side.
func logIn(ctx context.Context, s *session.Session, user string) error {
	if err := s.RenewID(ctx); err != nil {
		return err
	}
	s.Set("passport", map[string]string{"user": user})
	s.SetUser(user)
	return nil
}

// logOutEverywhere ends every session of user: those the Go side knows
// (DestroyUserSessions), and those that passport logged in on the Express
// app and no Go request has loaded since, which only a look at every stored
// session finds (one read per session: an operator's action, not a
// request's; it needs a store that lists its sessions, so not Memcached).
// A session in user's index that passport has since logged another user in
// to (keepSessionInfo copies __sessionkit_user) is that user's: it stays.
// The empty user is nobody: no session is destroyed.
func logOutEverywhere(ctx context.Context, m *session.Manager, user string) (int, error) {
	if user == "" {
		return 0, nil
	}
	st := m.Store()
	infos, err := m.UserSessions(ctx, user)
	if err != nil {
		return 0, err
	}
	var others []string
	for _, in := range infos {
		if u, ok, err := storedPassportUser(ctx, st, in.ID); err != nil {
			return 0, err
		} else if ok && u != "" && u != user {
			others = append(others, in.ID)
		}
	}
	n, err := m.DestroyUserSessions(ctx, user, others...)
	if err != nil {
		return n, err
	}
	lister, ok := st.(session.Lister)
	if !ok {
		return n, fmt.Errorf("log out %s everywhere: %w", user, session.ErrNotSupported)
	}
	ids, err := lister.IDs(ctx)
	if err != nil {
		return n, err
	}
	for _, id := range ids {
		if u, ok, err := storedPassportUser(ctx, st, id); err != nil {
			return n, err
		} else if !ok || u != user {
			continue
		}
		if err := st.Destroy(ctx, id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// storedPassportUser is passportUser of the stored session id, ok false if
// it is gone, not a session, or has no passport key.
func storedPassportUser(ctx context.Context, st session.Store, id string) (user string, ok bool, err error) {
	data, found, err := st.Get(ctx, id)
	if err != nil || !found {
		return "", false, err
	}
	doc, err := session.JSONCodec{}.Decode(data)
	if err != nil {
		return "", false, nil
	}
	var p struct {
		User string `json:"user"`
	}
	if json.Unmarshal(doc.Values["passport"], &p) != nil {
		return "", false, nil
	}
	return p.User, true, nil
}

// A Go service taking over routes from an Express app that logs users in
// with passport (passport.serializeUser((user, done) => done(null, user.id))),
// both on one store: Go reads passport's user, logs users in so that passport
// sees them, and logs them out on both sides.
func Example_passport() {
	var m *session.Manager // session.New with the Express app's settings
	mux := http.NewServeMux()
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		user := currentUser(s)
		if user == "" {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		fmt.Fprintf(w, "hello %s", user)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user, ok := checkPassword(r.FormValue("username"), r.FormValue("password"))
		if !ok {
			http.Error(w, "wrong user name or password", http.StatusUnauthorized)
			return
		}
		if err := logIn(r.Context(), session.From(r), user); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		// Gone for both apps: passport finds no session, so no user.
		if err := session.From(r).Destroy(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /password", func(w http.ResponseWriter, r *http.Request) {
		user := currentUser(session.From(r))
		if user == "" {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		// ... change the password, then end every session of the user, this one
		// included, on both apps (a scan of the whole store: keep such a route
		// rate-limited, or run the scan as a job once Express has no routes left):
		if _, err := logOutEverywhere(r.Context(), m, user); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	_ = m.Handler(mux)
}

// checkPassword stands in for the application's own check.
func checkPassword(name, password string) (user string, ok bool) {
	return name, password != ""
}
