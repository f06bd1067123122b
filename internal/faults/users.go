package faults

// Sessions bound to users (Config.Accounts). The virtual users are devices
// of a few user accounts. A device that is not logged in logs in
// (GET /login: Session.RenewID, then Session.SetUser of its account; half
// of the logins call Session.Save by hand before answering, as a handler
// that redirects); a device that is logged in goes round: a login again
// (a new id, a new login), writes, a read, and a logout (Session.Destroy
// and SetUser("") in turn). The apps have Options.MaxSessionsPerUser set,
// so every login trims its account's sessions. Meanwhile a client of its
// own calls Manager.DestroyUserSessions for one account after another
// (GET /logoutall, "log out everywhere").
//
// Every device records each session cookie it held and, for each login
// that was acknowledged with a cookie of the session it answered, when
// that answer arrived. At the end, with the store healed, the harness
// presents every cookie ever held (GET /read?u=1, outside any jar) and
// lists each account's sessions (GET /sessions, Manager.UserSessions), and
// counts what the README's "Sessions that belong to a user" promises never
// happens:
//
//   - SurvivedLogoutAll: a session whose login was acknowledged before a
//     DestroyUserSessions of its user was sent, which then succeeded, and
//     whose cookie still finds the user (a login that raced the call may
//     survive: only logins answered before it was sent count);
//   - OverCap: an account with more working sessions (cookies that find
//     the account's user) than Config.MaxSessionsPerUser;
//   - Unlisted: a working session that UserSessions does not list.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/session"
)

// AccountName is the user id of account i of Config.Accounts. Every
// store command that carries a user id carries "acct-".
func AccountName(i int) string { return "acct-" + strconv.Itoa(i) }

// UserMatch is in every store command that carries a user id of
// AccountName (a session bound to one, an index write, a listing, an
// index removal), for a fault that aims at them.
const UserMatch = "acct-"

// LogoutAllTimeout bounds the Manager calls of /logoutall and /sessions,
// which take the caller's context: an app's handler would bound them so.
const LogoutAllTimeout = 3 * time.Second

// userField is the user field of an answer: the user, or "-" for none.
func userField(user string) string {
	if user == "" {
		return "-"
	}
	return user
}

// userRoutes adds the routes of Config.Accounts to mux:
//
//	/login?user=U&seq=N[&save=1]  Session.RenewID (a 503 if it fails), then
//	              Session.SetUser(U), sets "seq" to N, with save=1 calls
//	              Session.Save (a 503 if it fails, saying whether the
//	              request found a session at its load); answers "<id> <prev>
//	              <new> <user>", the user of the session when it answers
//	              (after a Save, "" for a login that a newer one ended)
//	/logout?how=destroy           Session.Destroy (a 503 if it fails);
//	              answers as /login, <new> being true: the session is gone
//	/logout?how=unbind&seq=N      Session.SetUser(""), sets "seq" to N
//	/logoutall?user=U             Manager.DestroyUserSessions(U); answers
//	              the number of sessions it ended
//	/sessions?user=U              Manager.UserSessions(U); answers their
//	              ids, space-separated, or "-"
func userRoutes(mux *http.ServeMux, m *session.Manager, prev func(*session.Session) string) {
	answer := func(w http.ResponseWriter, s *session.Session, p string, isNew bool) {
		fmt.Fprintf(w, "%s %s %t %s", s.ID(), p, isNew, userField(s.User()))
	}
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if s == nil {
			return
		}
		seq := r.FormValue("seq")
		p, isNew := prev(s), s.IsNew()
		if err := s.RenewID(r.Context()); err != nil {
			http.Error(w, "renew: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		s.SetUser(r.FormValue("user"))
		s.Set("seq", seq)
		if r.FormValue("save") != "" {
			if err := s.Save(r.Context()); err != nil {
				http.Error(w, fmt.Sprintf("save (the request found a session: %t): %v", !isNew, err), http.StatusServiceUnavailable)
				return
			}
		}
		answer(w, s, p, isNew)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if s == nil {
			return
		}
		p := prev(s)
		if r.FormValue("how") == "destroy" {
			if err := s.Destroy(r.Context()); err != nil {
				http.Error(w, "destroy: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			answer(w, s, p, true)
			return
		}
		isNew := s.IsNew()
		s.SetUser("")
		s.Set("seq", r.FormValue("seq"))
		answer(w, s, p, isNew)
	})
	mux.HandleFunc("/logoutall", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), LogoutAllTimeout)
		defer cancel()
		n, err := m.DestroyUserSessions(ctx, r.FormValue("user"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/sessions", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), LogoutAllTimeout)
		defer cancel()
		infos, err := m.UserSessions(ctx, r.FormValue("user"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		ids := []string{"-"}
		for _, i := range infos {
			ids = append(ids, i.ID)
		}
		if len(ids) > 1 {
			ids = ids[1:]
		}
		fmt.Fprint(w, strings.Join(ids, " "))
	})
}

// UsersReport is what the Config.Accounts load did and what the check at
// the end found.
type UsersReport struct {
	// Logins counts the acknowledged logins, LoginsFailed the others;
	// Logouts the acknowledged logouts. Ended counts the times a device
	// found its session gone that it had not logged out of itself (ended
	// by another device's login, or by "log out everywhere").
	Logins, LoginsFailed, Logouts, Ended int
	// LogoutAlls counts the DestroyUserSessions calls that succeeded,
	// LogoutAllsFailed the others; LogoutAllEnded the sessions they ended.
	LogoutAlls, LogoutAllsFailed, LogoutAllEnded int
	// SlowestLogin and SlowestLogoutAll are the longest login request and
	// the longest /logoutall request, failed or not.
	SlowestLogin, SlowestLogoutAll time.Duration
	// Cookies is the number of distinct session cookies the devices held,
	// all presented again at the end. Working is the number of sessions
	// whose cookie still finds its account's user, MostWorking the most of
	// one account; Listed the number of sessions UserSessions lists.
	Cookies, Working, MostWorking, Listed int
	// CookiesOnError counts failed requests that set or cleared the
	// session cookie, legitimate where the session was stored all the same
	// (a login whose Session.Save stored it and whose save at the end of
	// the request failed: the error answer carries its cookie).
	// FailedClosedCookies counts those of them that were logins that
	// failed closed (their MaxSessionsPerUser trim failed): a broken
	// promise, no cookie goes out and the device keeps its session.
	CookiesOnError, FailedClosedCookies int
	// LoggedOutEverywhere counts the acknowledged logins that a
	// successful "log out everywhere" of their user followed (sent after
	// their answer arrived): those checked for SurvivedLogoutAll.
	LoggedOutEverywhere int
	// The broken promises (see users.go): each counted once, and
	// described in Problems.
	SurvivedLogoutAll, OverCap, Unlisted int
	Problems                             []string
}

func (u UsersReport) String() string {
	return fmt.Sprintf("%d logins (%d failed), %d logouts, %d sessions ended by another device or log-out-everywhere, %d log-out-everywhere calls (%d failed, %d sessions ended), slowest login %v, slowest log-out-everywhere %v; at the end: %d cookies presented, %d working sessions (at most %d for one user), %d listed; %d cookies set or cleared by failed requests (%d by logins that failed closed), %d logins followed by a log-out-everywhere, %d sessions survived a log-out-everywhere, %d users over the cap, %d working sessions unlisted",
		u.Logins, u.LoginsFailed, u.Logouts, u.Ended, u.LogoutAlls, u.LogoutAllsFailed, u.LogoutAllEnded,
		u.SlowestLogin.Round(time.Millisecond), u.SlowestLogoutAll.Round(time.Millisecond),
		u.Cookies, u.Working, u.MostWorking, u.Listed, u.CookiesOnError, u.FailedClosedCookies, u.LoggedOutEverywhere, u.SurvivedLogoutAll, u.OverCap, u.Unlisted)
}

// UsersRow returns a report of Config.Accounts as a row of the README's
// table of sessions bound to users.
func (r Report) UsersRow() string {
	u := r.UsersReport
	return fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %s |",
		r.Store, r.Requests, r.Errors, u.Logins, u.LoginsFailed, u.LogoutAlls, u.LogoutAllsFailed, u.LoggedOutEverywhere,
		u.Working, u.MostWorking, u.Listed, u.SurvivedLogoutAll, u.OverCap, u.Unlisted, u.FailedClosedCookies, r.Slowest.Round(time.Millisecond))
}

// UsersTableHeader is the header of the table of UsersRow rows.
const UsersTableHeader = "| Store | Requests | Errors | Logins | Logins failed | Log-outs everywhere | failed | Logins before one | Working sessions at the end | Most of one user | Listed | Survived a log-out everywhere | Users over the cap | Working but unlisted | Failed-closed logins that set or cleared a cookie | Slowest request |\n" +
	"|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"

// device is a virtual user of Config.Accounts.
type device struct {
	account string
	step    int
	user    string // the user of the session the last answer named
	kind    string // of the request in flight: "login", "logout", or ""
	logouts int    // sent, to take turns between Destroy and SetUser("")
	// logins are the acknowledged logins that sent their session's
	// cookie; cookies every distinct session cookie the device held.
	logins  []loginRecord
	cookies []string
	// held is the cookie the device held after its last request;
	// cookieOnError the cookies that failed requests set.
	held          string
	cookieOnError []cookieOnError

	loginsOK, loginsFailed, logoutsOK, ended int
	slowestLogin                             time.Duration
}

// cookieOnError is a cookie that a failed request set (or cleared: ""),
// the one the device held before, whether the request was a login that
// failed closed (its error names MaxSessionsPerUser), and the request.
type cookieOnError struct {
	cookie, before string
	failedClosed   bool
	request        string
}

// loginRecord is an acknowledged login: its cookie, and when its answer
// arrived.
type loginRecord struct {
	cookie   string
	answered time.Time
}

// logoutAll is one call of the "log out everywhere" client.
type logoutAll struct {
	account string
	sent    time.Time
	took    time.Duration
	ok      bool
	ended   int
}

// next returns the device's next request on base and the sequence number
// it writes (0 for none).
func (u *user) next(base string, seq int) (string, int) {
	d := &u.device
	d.kind = ""
	login := func() (string, int) {
		d.kind = "login"
		l := fmt.Sprintf("%s/login?user=%s&seq=%d", base, d.account, seq)
		if seq%2 == 0 {
			l += "&save=1"
		}
		return l, seq
	}
	if d.user == "" {
		return login()
	}
	d.step++
	switch d.step % 6 {
	case 0:
		return login() // again: a new id, a new login
	case 3:
		return base + "/read?u=1", 0
	case 5:
		d.kind = "logout"
		d.logouts++
		if d.logouts%2 == 0 {
			return base + "/logout?how=destroy", 0
		}
		return fmt.Sprintf("%s/logout?how=unbind&seq=%d", base, seq), seq
	}
	return fmt.Sprintf("%s/write?u=1&seq=%d", base, seq), seq
}

// sent accounts for a request of the device, answered 2xx (ok) or not:
// it records the cookie the device now holds.
func (u *user) sent(r *run, url string, err error, took time.Duration) {
	d := &u.device
	ok := err == nil
	c := u.cookie(r.cfg.URLs[0])
	if c != "" && !slices.Contains(d.cookies, c) {
		d.cookies = append(d.cookies, c)
	}
	if !ok && c != d.held {
		// A failed request that set a cookie, or cleared the one the
		// device held. Legitimate where the session was stored all the
		// same (a login's Session.Save stored it, and the save at the end
		// of the request failed: the error answer carries its cookie), but
		// not for a login that failed closed, its MaxSessionsPerUser trim
		// failing: no cookie goes out, and the device keeps the session it
		// had.
		closed := strings.Contains(err.Error(), "MaxSessionsPerUser")
		if closed && c == "" && strings.Contains(err.Error(), "found a session: false") {
			// The cookie named a session that was gone already (ended
			// by another device's login or by "log out everywhere"):
			// clearing it takes nothing from the device.
			closed = false
		}
		d.cookieOnError = append(d.cookieOnError, cookieOnError{c, d.held, closed,
			fmt.Sprintf("%s after %v: %v", strings.TrimPrefix(url, r.cfg.URLs[0]), took.Round(time.Millisecond), err)})
	}
	d.held = c
	if d.kind == "login" {
		d.slowestLogin = max(d.slowestLogin, took)
		if !ok {
			d.loginsFailed++
		}
	}
}

// answered accounts for a 2xx answer a of the device.
func (u *user) answered(r *run, a answer) {
	d := &u.device
	now := time.Now()
	switch d.kind {
	case "login":
		d.loginsOK++
		// A login whose answer names its account and whose cookie went
		// out: one that a newer login ended sends none.
		if c := u.cookie(r.cfg.URLs[0]); a.user == d.account && cookieID(c) == a.id {
			d.logins = append(d.logins, loginRecord{cookie: c, answered: now})
		}
	case "logout":
		d.logoutsOK++
	}
	d.user = a.user
}

// cookie returns the value of the session cookie the device holds for
// base, or "".
func (u *user) cookie(base string) string {
	l, err := url.Parse(base)
	if err != nil || u.client.Jar == nil {
		return ""
	}
	for _, c := range u.client.Jar.Cookies(l) {
		if c.Name == "sid" {
			return c.Value
		}
	}
	return ""
}

// cookieID is the session id of a cookie value ("s:<id>.<signature>",
// percent-encoded), or "".
func cookieID(value string) string {
	v, err := url.QueryUnescape(value)
	if err != nil {
		return ""
	}
	v, ok := strings.CutPrefix(v, "s:")
	if i := strings.LastIndexByte(v, '.'); ok && i > 0 {
		return v[:i]
	}
	return ""
}

// logoutEverywhere is the "log out everywhere" client: until the run
// stops, every Config.LogoutAllEvery it calls /logoutall for the next
// account, on the instances in turn.
func (r *run) logoutEverywhere(ctx context.Context, tr http.RoundTripper) {
	every := r.cfg.LogoutAllEvery
	if every == 0 {
		every = 20 * time.Millisecond
	}
	c := &http.Client{Transport: tr, Timeout: r.cfg.Timeout}
	for i := 0; !r.stop.Load() && ctx.Err() == nil; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		call := logoutAll{account: AccountName(i % r.cfg.Accounts), sent: time.Now()}
		body, err := get(ctx, c, fmt.Sprintf("%s/logoutall?user=%s", r.cfg.URLs[i%len(r.cfg.URLs)], call.account))
		call.took = time.Since(call.sent)
		if err == nil {
			call.ended, err = strconv.Atoi(body)
		}
		call.ok = err == nil
		r.logoutAlls = append(r.logoutAlls, call)
	}
}

// countUsers adds up the devices' figures and the "log out everywhere"
// calls into ur.
func (r *run) countUsers(users []*user, ur *UsersReport) {
	for _, u := range users {
		d := &u.device
		ur.Logins += d.loginsOK
		ur.LoginsFailed += d.loginsFailed
		ur.Logouts += d.logoutsOK
		ur.Ended += d.ended
		ur.SlowestLogin = max(ur.SlowestLogin, d.slowestLogin)
	}
	for _, c := range r.logoutAlls {
		if c.ok {
			ur.LogoutAlls++
			ur.LogoutAllEnded += c.ended
		} else {
			ur.LogoutAllsFailed++
		}
		ur.SlowestLogoutAll = max(ur.SlowestLogoutAll, c.took)
	}
}

// probe is what a cookie found when presented at the end.
type probe struct {
	id, user string
	isNew    bool
}

// checkUsers presents every cookie the devices held, lists every
// account's sessions, and counts the broken promises into ur (see
// users.go). The store is healed: a request that keeps failing is an
// error of the run.
func (r *run) checkUsers(ctx context.Context, tr http.RoundTripper, users []*user, ur *UsersReport) error {
	c := &http.Client{Transport: tr, Timeout: r.cfg.Timeout}
	retry := func(do func() error) error {
		var err error
		for range 50 {
			if err = do(); err == nil || ctx.Err() != nil {
				return err
			}
			time.Sleep(100 * time.Millisecond)
		}
		return err
	}
	problem := func(format string, args ...any) {
		if len(ur.Problems) < 20 {
			ur.Problems = append(ur.Problems, fmt.Sprintf(format, args...))
		}
	}
	base := r.cfg.URLs[0]
	probes := map[string]probe{}
	for _, u := range users {
		for _, cookie := range u.cookies {
			err := retry(func() error {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/read?u=1", nil)
				if err != nil {
					return err
				}
				req.AddCookie(&http.Cookie{Name: "sid", Value: cookie})
				body, err := do(c, req)
				if err != nil {
					return err
				}
				a, err := parseAnswer(body)
				if err != nil {
					return err
				}
				probes[cookie] = probe{id: a.id, user: a.user, isNew: a.isNew}
				return nil
			})
			if err != nil {
				return fmt.Errorf("faults: presenting a session cookie at the end: %w", err)
			}
		}
	}
	ur.Cookies = len(probes)
	for i := range r.cfg.Accounts {
		account := AccountName(i)
		var listed []string
		err := retry(func() error {
			body, err := get(ctx, c, base+"/sessions?user="+account)
			if err == nil && body != "-" {
				listed = strings.Fields(body)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("faults: listing the sessions of %s at the end: %w", account, err)
		}
		ur.Listed += len(listed)
		working := map[string]bool{}
		for _, u := range users {
			if u.account != account {
				continue
			}
			for _, cookie := range u.cookies {
				if p := probes[cookie]; !p.isNew && p.user == account {
					working[p.id] = true
				}
			}
		}
		ur.Working += len(working)
		ur.MostWorking = max(ur.MostWorking, len(working))
		if len(working) > r.cfg.MaxSessionsPerUser {
			ur.OverCap++
			problem("%s has %d working sessions, over the cap of %d (%d listed)", account, len(working), r.cfg.MaxSessionsPerUser, len(listed))
		}
		for id := range working {
			if !slices.Contains(listed, id) {
				ur.Unlisted++
				problem("a working session of %s (%.8s…) is not listed by UserSessions", account, id)
			}
		}
	}
	for _, u := range users {
		for _, c := range u.cookieOnError {
			ur.CookiesOnError++
			if c.failedClosed {
				ur.FailedClosedCookies++
				if c.cookie == "" {
					p := probes[c.before]
					problem("a login of a device of %s that failed closed (%s) cleared the cookie of the session the device had (%.8s…; it still finds the user at the end: %t, finds a session: %t)", u.account, c.request, cookieID(c.before), !p.isNew && p.user == u.account, !p.isNew)
					continue
				}
				p := probes[c.cookie]
				problem("a login of a device of %s that failed closed (%s) set the cookie of a session (%.8s…; it still finds the user at the end: %t)", u.account, c.request, cookieID(c.cookie), !p.isNew && p.user == u.account)
			}
		}
	}
	// Logins acknowledged before a successful "log out everywhere" of
	// their user was sent: none may still work.
	for _, u := range users {
		for _, l := range u.logins {
			if slices.ContainsFunc(r.logoutAlls, func(call logoutAll) bool {
				return call.ok && call.account == u.account && l.answered.Before(call.sent)
			}) {
				ur.LoggedOutEverywhere++
			}
			p := probes[l.cookie]
			if p.isNew || p.user != u.account {
				continue
			}
			for _, call := range r.logoutAlls {
				if call.ok && call.account == u.account && l.answered.Before(call.sent) {
					ur.SurvivedLogoutAll++
					problem("a session of %s (%.8s…) logged in at %s still works after a log-out-everywhere sent at %s that returned success (%d ended)",
						u.account, p.id, l.answered.Format("15:04:05.000"), call.sent.Format("15:04:05.000"), call.ended)
					break
				}
			}
		}
	}
	return nil
}

// do sends req with c and returns the body of a 2xx answer.
func do(c *http.Client, req *http.Request) (string, error) {
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), nil
}
