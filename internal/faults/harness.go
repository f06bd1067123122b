// Package faults is the fault harness of issue 11: many virtual users write
// into their sessions through two app instances sharing one store while a
// fault is injected (a server killed, a failover, a stalled network), and
// the harness reports what the users saw: requests, errors, the longest
// stretch of errors one user saw, the slowest request, and acknowledged
// writes that were lost.
//
// Every user has its own cookie jar and a sequence number. Each request
// (GET /write?seq=N, alternately on each instance) answers the session's id,
// whether it is new, and the sequence number the session held before the
// write. A write is acknowledged when its answer is 2xx. Since a user sends
// one request at a time, the sequence number a request reads must be at
// least the last one acknowledged: every acknowledged number above it was
// lost. At the end every user reads its session back (GET /read), which
// checks the last write the same way.
//
// With Config.Flashes the writes are GET /flash?seq=N, which also read the
// session's flash messages (Session.Flashes) and add one of their own,
// "mN" (Session.Flash), some of them with a Session.RenewID (a login) or a
// Session.Save in the middle: a write that is not idempotent, for faults
// that may apply a write twice (lost replies). Every answer lists the messages it read, and the report
// counts messages shown twice, acknowledged ones never shown, and answers
// that saw the sequence number go back (Report.FlashShownTwice, FlashLost,
// SeqBackwards).
//
// With Config.Accounts the users are devices of a few user accounts that
// log in (Session.RenewID and Session.SetUser, under
// Options.MaxSessionsPerUser), write, read and log out, while a client of
// its own logs the accounts out everywhere (Manager.DestroyUserSessions);
// at the end every session cookie ever held is presented again and every
// account's sessions listed, and the report counts the promises of the
// README's "Sessions that belong to a user" that did not hold
// (UsersReport; see users.go).
//
// The fault is injected at a point the harness controls (after Before
// acknowledged writes), and the run ends After acknowledged writes after the
// injection returned (the fault healed), so a run never depends on timing
// luck to see traffic on both sides of the fault.
package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/session"
)

// Secret signs the cookies of every app instance, so that instances accept
// each other's cookies.
const Secret = "faults harness secret, the same on every instance"

// App returns the harness's application over m:
//
//	/write?seq=N  sets "seq" to N; answers "<id> <previous seq> <new>"
//	/read         answers the same without writing
//
//	/flash?seq=N&save=K&renew=1  reads the flash messages of FlashKind,
//	              adds "mN", sets "seq" to N, with renew=1 calls
//	              Session.RenewID (answering 500 if it fails), and, with
//	              save=1 or 2, calls Session.Save
//	              (ignoring its error: the end of the request saves again
//	              and answers 500 if that fails), then with save=1 sets
//	              "saved" to N; answers "<id> <previous seq> <new> <read>
//	              <save>", read being the messages read, joined with
//	              commas, or "-", and save "saved" or "failed" (what the
//	              Save returned), or "-" without one; <new> is whether the
//	              request found no session (before a RenewID)
//	/read?flash=1 the same without adding a message or setting "seq"
//
//	/write?u=1&seq=N, /read?u=1  as /write and /read, with the session's
//	              user as a fourth field ("-" for none)
//	/login, /logout, /logoutall, /sessions  the routes of Config.Accounts
//	              (see userRoutes)
//
// A request whose session cannot be loaded or saved gets the manager's error
// answer (500).
func App(m *session.Manager) http.Handler {
	mux := http.NewServeMux()
	prev := func(s *session.Session) string {
		if p, _ := s.Get("seq").(string); p != "" {
			return p
		}
		return "0"
	}
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if s == nil {
			return // the error handler has answered
		}
		seq := r.FormValue("seq")
		if _, err := strconv.Atoi(seq); err != nil {
			http.Error(w, "bad seq", http.StatusBadRequest)
			return
		}
		p := prev(s)
		// Set before the answer: the session is saved before the first
		// byte goes out, and a failed save turns the answer into a 500.
		s.Set("seq", seq)
		if r.FormValue("u") != "" {
			fmt.Fprintf(w, "%s %s %t %s", s.ID(), p, s.IsNew(), userField(s.User()))
			return
		}
		fmt.Fprintf(w, "%s %s %t", s.ID(), p, s.IsNew())
	})
	userRoutes(mux, m, prev)
	mux.HandleFunc("/flash", func(w http.ResponseWriter, r *http.Request) {
		s := session.From(r)
		if s == nil {
			return
		}
		seq := r.FormValue("seq")
		if _, err := strconv.Atoi(seq); err != nil {
			http.Error(w, "bad seq", http.StatusBadRequest)
			return
		}
		p, isNew := prev(s), s.IsNew()
		read := s.Flashes(FlashKind)
		s.Flash(FlashKind, "m"+seq)
		s.Set("seq", seq)
		if r.FormValue("renew") != "" {
			// A login: a new id, the data kept (stored under the new id
			// by the save, the old id deleted then).
			if err := s.RenewID(r.Context()); err != nil {
				http.Error(w, "renew: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		saved := "-"
		if save := r.FormValue("save"); save != "" {
			// A handler that saves early (before a slow step). A Save
			// whose answer was lost returns an error, and the end of the
			// request's save must find out whether it was applied.
			saved = "saved"
			if err := s.Save(r.Context()); err != nil {
				saved = "failed"
			}
			if save == "1" {
				s.Set("saved", seq)
			}
		}
		fmt.Fprintf(w, "%s %s %t %s %s", s.ID(), p, isNew, readList(read), saved)
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		if s := session.From(r); s != nil {
			if r.FormValue("u") != "" {
				fmt.Fprintf(w, "%s %s %t %s", s.ID(), prev(s), s.IsNew(), userField(s.User()))
				return
			}
			if r.FormValue("flash") != "" {
				p := prev(s)
				read := s.Flashes(FlashKind)
				fmt.Fprintf(w, "%s %s %t %s -", s.ID(), p, s.IsNew(), readList(read))
				return
			}
			fmt.Fprintf(w, "%s %s %t", s.ID(), prev(s), s.IsNew())
		}
	})
	return m.Handler(mux)
}

// FlashKind is the kind of the flash messages of /flash.
const FlashKind = "faults"

// readList joins the messages read for an answer.
func readList(msgs []string) string {
	if len(msgs) == 0 {
		return "-"
	}
	return strings.Join(msgs, ",")
}

// Config is one run of the harness.
type Config struct {
	// URLs are the app instances' base URLs; a user alternates between them.
	URLs []string
	// Users is the number of virtual users (default 200).
	Users int
	// Before is the number of acknowledged writes before the fault is
	// injected; After the number after the injection returned.
	Before, After int
	// Timeout bounds each request on the client side, so that a hang shows
	// as an error and in the slowest request (default 10s).
	Timeout time.Duration
	// Backoff is a user's pause after an error, as a browser's user would
	// pause (default 20ms); it keeps a dead server from being hammered.
	Backoff time.Duration
	// Limit bounds the whole run (default 60s): a run that cannot reach
	// Before or After acknowledged writes fails instead of hanging.
	Limit time.Duration
	// NotApp, if set, counts goroutines of the process that are not the
	// apps' or the users' (a test proxy's); they are left out of the
	// goroutine figures.
	NotApp func() int
	// Flashes makes the users' writes /flash requests (one in three with
	// save=1, one in three with save=2, one in four with renew=1) and
	// their final read a
	// /read?flash=1, and the report counts the flash messages.
	Flashes bool
	// Accounts, when not 0, makes the users devices of that many user
	// accounts (user i is a device of AccountName(i % Accounts)), which
	// log in and out, while a client of its own logs each account out
	// everywhere in turn; see users.go. MaxSessionsPerUser is the apps'
	// Options.MaxSessionsPerUser, which the check at the end holds them
	// to; LogoutAllEvery is the pause of the "log out everywhere" client
	// between two calls (default 20ms).
	Accounts, MaxSessionsPerUser int
	LogoutAllEvery               time.Duration
}

// Report is what one run measured.
type Report struct {
	// Fault and Store name the run, for the table.
	Fault, Store string
	// Users is the number of virtual users.
	Users int
	// Requests counts every request made, Errors those that got no 2xx
	// answer (an error status or no answer), Acked the acknowledged writes.
	Requests, Errors, Acked int
	// ErrorsAfterHeal counts the errors of requests sent after the
	// injection returned.
	ErrorsAfterHeal int
	// LongestErrorStretch is the longest time one user saw nothing but
	// errors: from the start of the first failed request of a run of
	// failures to the end of its last.
	LongestErrorStretch time.Duration
	// Slowest is the longest request, failed or not.
	Slowest time.Duration
	// SlowestHealthy is the longest acknowledged request of those answered
	// before the injection began or sent after it returned: what the
	// machine's load alone made a request take in this run, with no store
	// call failing, the yardstick of Slowest on a loaded machine.
	SlowestHealthy time.Duration
	// SlowestRequest describes the slowest request as Histories does,
	// with when it was sent from the injection's start, for a failure
	// message.
	SlowestRequest string
	// Lost counts acknowledged writes that a later read did not see.
	Lost int
	// Resets counts sessions that a user had written to and that a later
	// request found gone (a new session instead).
	Resets int
	// LostBySession counts the lost writes of each session that lost any.
	LostBySession map[string]int
	// LostToLateWrites counts the lost writes (of Lost) that a failed
	// request's write overwrote: the answer that found them lost read the
	// sequence number of a request of its user that failed before them.
	// The server carried that write out after the later ones, after the
	// client gave up on it; LateWrites are those failed requests' errors.
	// On a store that compares and swaps atomically a failed write cannot
	// land over a later one (its version no longer matches); FerretDB's
	// filtered update reads, then writes by _id, and can.
	LostToLateWrites int
	LateWrites       []string
	// Histories are, for the first few users that lost an acknowledged
	// write or saw their session reset, every request they sent: when,
	// how long it took, and its answer or error (see user.historyText),
	// for the failure message.
	Histories []string
	// Goroutines are the test process's goroutines (without Config.NotApp's)
	// before the run, at most during it (sampled every 20ms), when the
	// fault was injected and when the injection returned. At the fault
	// and at the heal every user has one request in flight or about to
	// be, so a difference between the two is goroutines that piled up.
	GoroutinesBefore, GoroutinesPeak, GoroutinesAtFault, GoroutinesAtHeal int
	// Took is the length of the run.
	Took time.Duration

	// Flashes is Config.Flashes. Then each write adds a message "mN":
	Flashes bool
	//
	// FlashShownTwice counts the times a message was shown (listed in a
	// 2xx answer) again after a first time: a write applied twice, or a
	// read whose removal was lost.
	FlashShownTwice int
	// FlashLost counts messages of acknowledged writes that no 2xx answer
	// showed, though no request between the write and the user's next
	// acknowledged one can have read them (see FlashUnseen; a final read
	// that failed counts as one that may have).
	FlashLost int
	// FlashUnseen counts messages of acknowledged writes that no 2xx
	// answer showed because a failed request read them: a request between
	// its write and the next acknowledged one that failed although its
	// write was applied (its answer lost), as the next acknowledged
	// answer shows that request's own message. A client cannot tell.
	FlashUnseen int
	// FailedApplied counts failed requests whose message a 2xx answer
	// showed: their write was applied although they got an error.
	FailedApplied int
	// AckedAfterFailedSave counts acknowledged requests whose
	// Session.Save had failed: the end of the request found out whether
	// that write was applied, and saved what was still to save.
	AckedAfterFailedSave int
	// FlashStray counts messages shown that the session could not hold:
	// not yet written by its user when shown.
	FlashStray int
	// SeqBackwards counts 2xx answers that saw an older sequence number
	// than an earlier 2xx answer of the same user saw (but for a new
	// session): a write applied after a later one (a replay).
	SeqBackwards int
	// RepliesLost is the number of store answers the fault lost (after
	// the server ran the write), RequestsLost the number of writes it lost
	// before the server saw them; the caller that injected them fills
	// them in.
	RepliesLost, RequestsLost int

	// Users is what the Config.Accounts load saw and checked at the end.
	UsersReport UsersReport
}

// Row returns the report as a row of the README's Markdown table.
func (r Report) Row() string {
	return fmt.Sprintf("| %s | %s | %d | %d | %d | %s | %s | %d |",
		r.Fault, r.Store, r.Requests, r.Errors, r.Acked,
		r.LongestErrorStretch.Round(time.Millisecond), r.Slowest.Round(time.Millisecond), r.Lost)
}

// TableHeader is the header of the table of rows.
const TableHeader = "| Fault | Store | Requests | Errors | Acknowledged | Longest error stretch | Slowest request | Acknowledged writes lost |\n" +
	"|---|---|--:|--:|--:|--:|--:|--:|"

// FlashRow returns a report of Config.Flashes as a row of the README's
// table of lost replies.
func (r Report) FlashRow() string {
	return fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d |",
		r.Store, r.Requests, r.RepliesLost, r.RequestsLost, r.Errors, r.Acked, r.AckedAfterFailedSave, r.FailedApplied,
		r.Lost, r.SeqBackwards, r.FlashShownTwice, r.FlashLost)
}

// FlashTableHeader is the header of the table of FlashRow rows.
const FlashTableHeader = "| Store | Requests | Store answers lost | Writes lost before the store | Errors | Acknowledged | Acknowledged after a failed `Save` | Failed but applied | Acknowledged writes lost | Sequence went back | Flash messages shown twice | Acknowledged messages lost |\n" +
	"|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"

func (r Report) String() string {
	if r.UsersReport.Logins+r.UsersReport.LoginsFailed > 0 {
		return r.string() + "; " + r.UsersReport.String()
	}
	if r.Flashes {
		return r.string() + fmt.Sprintf("; %d store answers lost, %d writes lost before the store, %d requests acknowledged after their Session.Save failed, %d failed requests applied, %d flash messages shown twice, %d acknowledged lost, %d read by a failed request that was applied, %d stray, %d answers saw the sequence go back",
			r.RepliesLost, r.RequestsLost, r.AckedAfterFailedSave, r.FailedApplied, r.FlashShownTwice, r.FlashLost, r.FlashUnseen, r.FlashStray, r.SeqBackwards)
	}
	return r.string()
}

func (r Report) string() string {
	return fmt.Sprintf("%s on %s: %d users, %d requests, %d errors (%d after the heal), %d acknowledged, longest error stretch %v, slowest %v (%v with no fault), %d acknowledged writes lost, %d sessions reset, goroutines %d before, %d at the fault, %d at the heal, %d at most, %v",
		r.Fault, r.Store, r.Users, r.Requests, r.Errors, r.ErrorsAfterHeal, r.Acked,
		r.LongestErrorStretch.Round(time.Millisecond), r.Slowest.Round(time.Millisecond), r.SlowestHealthy.Round(time.Millisecond),
		r.Lost, r.Resets, r.GoroutinesBefore, r.GoroutinesAtFault, r.GoroutinesAtHeal, r.GoroutinesPeak, r.Took.Round(100*time.Millisecond)) +
		r.lateString()
}

// lateString describes the losses to late writes, if any.
func (r Report) lateString() string {
	if r.LostToLateWrites == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d of the lost writes overwritten by the late write of a failed request: %s)", r.LostToLateWrites, strings.Join(r.LateWrites, "; "))
}

// user is one virtual user: a cookie jar and what it was acknowledged.
type user struct {
	client *http.Client
	seq    int
	id     string // the session its last answer named
	acked  []int  // sequence numbers acknowledged in session id, ascending
	// history is every request the user sent, for Report.Histories.
	history []sentRequest

	requests, errors, errorsAfterHeal, lost, resets int
	lostToLate                                      int
	lateWrites                                      []string
	lostBySession                                   map[string]int
	slowest, slowestHealthy, longestStretch         time.Duration
	stretchStart                                    time.Time // zero when the last request succeeded

	// With Config.Flashes: every request in order, and the sequence number
	// the last 2xx answer saw.
	flashes           []flashRequest
	lastSeen          int
	backward          int
	ackedAfterFailure int

	// With Config.Accounts: the device's account, state and history.
	device
}

// sentRequest is one request of a user as Report.Histories shows it.
type sentRequest struct {
	sent   time.Time
	took   time.Duration
	url    string // path and query
	seq    int    // the sequence number written, 0 for a read
	result string // the answer, or the error
	lost   int    // acknowledged writes this answer found lost
	reset  bool   // whether this answer found the session reset
}

// maxHistories bounds Report.Histories.
const maxHistories = 3

// historyText describes u's requests, one a line.
func (u *user) historyText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the requests of the user of session %s:", u.id)
	for _, h := range u.history {
		fmt.Fprintf(&b, "\n  %s +%v %s -> %.200s", h.sent.Format("15:04:05.000"), h.took.Round(time.Millisecond), h.url, h.result)
		if h.lost > 0 {
			fmt.Fprintf(&b, "  [%d acknowledged writes lost]", h.lost)
		}
		if h.reset {
			b.WriteString("  [session reset]")
		}
	}
	return b.String()
}

// slowestText describes u's slowest request as historyText does, with
// when it was sent from injected (the injection's start; zero if none).
func (u *user) slowestText(injected time.Time) string {
	for _, h := range u.history {
		if h.took != u.slowest {
			continue
		}
		from := "before any injection"
		if !injected.IsZero() {
			from = fmt.Sprintf("%v from the injection's start", h.sent.Sub(injected).Round(time.Millisecond))
		}
		return fmt.Sprintf("%s (%s) +%v %s -> %.300s", h.sent.Format("15:04:05.000"), from, h.took.Round(time.Millisecond), h.url, h.result)
	}
	return ""
}

// flashRequest is one request of Config.Flashes: the message it added
// (0 for the final read), whether it was acknowledged and then the
// messages it showed.
type flashRequest struct {
	msg   int
	acked bool
	read  []int
}

// run is the state shared by the users of one Run.
type run struct {
	cfg Config
	// logoutAlls are the calls of the "log out everywhere" client
	// (Config.Accounts), in order.
	logoutAlls []logoutAll
	acked      atomic.Int64
	answered   atomic.Int64
	stop       atomic.Bool
	injected   atomic.Bool  // whether the injection has begun
	injectedAt time.Time    // when it began, set before injected
	healed     atomic.Int64 // UnixNano when the injection returned; 0 before
}

// Live lets a fault's injection follow the traffic.
type Live struct {
	ctx context.Context
	r   *run
}

// WaitAcked waits until n more writes have been acknowledged: a fault can
// let a known amount of traffic through between two of its steps.
func (l *Live) WaitAcked(n int) error {
	return l.r.waitFor(l.ctx, &l.r.acked, l.r.acked.Load()+int64(n), "acknowledged writes")
}

// WaitRequests waits until n more requests have been answered, whatever
// the answer.
func (l *Live) WaitRequests(n int) error {
	return l.r.waitFor(l.ctx, &l.r.answered, l.r.answered.Load()+int64(n), "requests")
}

// Run sends the load of cfg, calls inject after cfg.Before acknowledged
// writes, goes on until cfg.After more after inject returned, stops, reads
// every session back and reports. inject's error ends the run with it.
func Run(ctx context.Context, cfg Config, inject func(*Live) error) (Report, error) {
	if cfg.Users == 0 {
		cfg.Users = 200
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 20 * time.Millisecond
	}
	if cfg.Limit == 0 {
		cfg.Limit = 60 * time.Second
	}
	if len(cfg.URLs) == 0 {
		return Report{}, errors.New("faults: no app URLs")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Limit)
	defer cancel()

	goroutines := func() int {
		n := runtime.NumGoroutine()
		if cfg.NotApp != nil {
			n -= cfg.NotApp()
		}
		return n
	}
	rep := Report{Users: cfg.Users, Flashes: cfg.Flashes, GoroutinesBefore: goroutines()}
	start := time.Now()
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.Users, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	r := &run{cfg: cfg}
	users := make([]*user, cfg.Users)
	for i := range users {
		jar, _ := cookiejar.New(nil) // never fails without options
		users[i] = &user{client: &http.Client{Jar: jar, Transport: tr, Timeout: cfg.Timeout}, lostBySession: map[string]int{}}
		if cfg.Accounts > 0 {
			users[i].account = AccountName(i % cfg.Accounts)
		}
	}

	var peak atomic.Int64
	peak.Store(int64(rep.GoroutinesBefore))
	sampled := make(chan struct{})
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampled:
				return
			case <-t.C:
				if n := int64(goroutines()); n > peak.Load() {
					peak.Store(n)
				}
			}
		}
	}()

	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() { r.loop(ctx, u) })
	}
	if cfg.Accounts > 0 {
		wg.Go(func() { r.logoutEverywhere(ctx, tr) })
	}
	err := r.waitAcked(ctx, int64(cfg.Before))
	if err == nil {
		rep.GoroutinesAtFault = goroutines()
		r.injectedAt = time.Now()
		r.injected.Store(true)
		err = inject(&Live{ctx, r})
		rep.GoroutinesAtHeal = goroutines()
		r.healed.Store(time.Now().UnixNano())
		if err == nil {
			err = r.waitAcked(ctx, r.acked.Load()+int64(cfg.After))
		}
	}
	r.stop.Store(true)
	wg.Wait()
	close(sampled)
	<-samplerDone
	if err == nil {
		// Read every session back: the final check of each user's last write.
		for i, u := range users {
			if err = r.readBack(ctx, u, cfg.URLs[i%len(cfg.URLs)]); err != nil {
				break
			}
		}
		if err == nil && cfg.Accounts > 0 {
			err = r.checkUsers(ctx, tr, users, &rep.UsersReport)
		}
	}
	rep.LostBySession = map[string]int{}
	for _, u := range users {
		rep.Requests += u.requests
		rep.Errors += u.errors
		rep.ErrorsAfterHeal += u.errorsAfterHeal
		rep.Lost += u.lost
		rep.LostToLateWrites += u.lostToLate
		rep.LateWrites = append(rep.LateWrites, u.lateWrites...)
		rep.Resets += u.resets
		maps.Copy(rep.LostBySession, u.lostBySession)
		if u.slowest > rep.Slowest {
			rep.Slowest = u.slowest
			rep.SlowestRequest = u.slowestText(r.injectedAt)
		}
		rep.SlowestHealthy = max(rep.SlowestHealthy, u.slowestHealthy)
		rep.LongestErrorStretch = max(rep.LongestErrorStretch, u.longestStretch)
		if (u.lost > 0 || u.resets > 0) && len(rep.Histories) < maxHistories {
			rep.Histories = append(rep.Histories, u.historyText())
		}
		if cfg.Flashes {
			u.countFlashes(&rep)
		}
	}
	if cfg.Accounts > 0 {
		r.countUsers(users, &rep.UsersReport)
	}
	rep.Acked = int(r.acked.Load())
	rep.GoroutinesPeak = int(peak.Load())
	rep.Took = time.Since(start)
	return rep, err
}

// waitAcked waits until n writes were acknowledged.
func (r *run) waitAcked(ctx context.Context, n int64) error {
	return r.waitFor(ctx, &r.acked, n, "acknowledged writes")
}

// waitFor waits until counter reaches n.
func (r *run) waitFor(ctx context.Context, counter *atomic.Int64, n int64, what string) error {
	for counter.Load() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("faults: %d of %d %s before the time limit (%v)", counter.Load(), n, what, r.cfg.Limit)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// loop sends u's writes until the run stops.
func (r *run) loop(ctx context.Context, u *user) {
	for i := 0; !r.stop.Load() && ctx.Err() == nil; i++ {
		u.seq++
		url, seq := fmt.Sprintf("%s/write?seq=%d", r.cfg.URLs[i%len(r.cfg.URLs)], u.seq), u.seq
		if r.cfg.Accounts > 0 {
			url, seq = u.next(r.cfg.URLs[i%len(r.cfg.URLs)], u.seq)
		}
		if r.cfg.Flashes {
			url = fmt.Sprintf("%s/flash?seq=%d", r.cfg.URLs[i%len(r.cfg.URLs)], u.seq)
			if k := u.seq % 3; k != 0 {
				url += fmt.Sprintf("&save=%d", k)
			}
			if u.seq%4 == 0 {
				url += "&renew=1"
			}
		}
		if !r.request(ctx, u, url, seq) {
			select {
			case <-ctx.Done():
			case <-time.After(r.cfg.Backoff):
			}
		} else {
			r.acked.Add(1)
		}
	}
}

// readBack reads u's session once, retrying a failed read for a while: the
// store is healed by now, a read that keeps failing is an error of the run.
func (r *run) readBack(ctx context.Context, u *user, base string) error {
	if u.id == "" {
		return nil // never acknowledged anything
	}
	for attempt := 1; ; attempt++ {
		read := base + "/read"
		if r.cfg.Flashes {
			read += "?flash=1"
		}
		if r.cfg.Accounts > 0 {
			read += "?u=1"
		}
		if r.request(ctx, u, read, 0) {
			return nil
		}
		if attempt == 50 || ctx.Err() != nil {
			return fmt.Errorf("faults: reading a session back failed %d times", attempt)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// request sends one request of u and accounts for it; seq is the number
// written, 0 for a read. It reports whether the answer was 2xx.
func (r *run) request(ctx context.Context, u *user, url string, seq int) bool {
	sent := time.Now()
	afterHeal := r.healed.Load() != 0
	body, err := get(ctx, u.client, url)
	took := time.Since(sent)
	if r.cfg.Flashes {
		u.flashes = append(u.flashes, flashRequest{msg: seq})
	}
	r.answered.Add(1)
	u.requests++
	if r.cfg.Accounts > 0 {
		u.sent(r, url, err, took)
	}
	u.slowest = max(u.slowest, took)
	h := sentRequest{sent: sent, took: took, url: url, seq: seq, result: body}
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.IndexByte(url[i+3:], '/'); j >= 0 {
			h.url = url[i+3+j:]
		}
	}
	if err != nil {
		h.result = "error: " + err.Error()
	}
	u.history = append(u.history, h)
	if err != nil {
		u.errors++
		if afterHeal {
			u.errorsAfterHeal++
		}
		if u.stretchStart.IsZero() {
			u.stretchStart = sent
		}
		u.longestStretch = max(u.longestStretch, time.Since(u.stretchStart))
		return false
	}
	u.stretchStart = time.Time{}
	if afterHeal || !r.injected.Load() {
		u.slowestHealthy = max(u.slowestHealthy, took)
	}
	a, perr := parseAnswer(body)
	id, prev, isNew, read, saved := a.id, a.prev, a.isNew, a.read, a.save
	if perr == nil && r.cfg.Flashes && read == nil {
		perr = fmt.Errorf("faults: answer %q lists no messages read", body)
	}
	if perr != nil {
		// A 2xx with a body we did not write is a failure of the app.
		u.errors++
		return false
	}
	if r.cfg.Accounts > 0 {
		u.answered(r, a)
	}
	if isNew && len(u.acked) > 0 {
		if r.cfg.Accounts > 0 {
			// Logged out, or ended by another device's login or by
			// "log out everywhere": not a loss.
			if u.kind != "logout" {
				u.ended++
			}
			u.acked = u.acked[:0]
		} else {
			u.resets++ // prev is 0: all of them are lost
			u.history[len(u.history)-1].reset = true
		}
	}
	// Every acknowledged number above what the session held is lost.
	keep, _ := slices.BinarySearch(u.acked, prev+1)
	if n := len(u.acked) - keep; n > 0 {
		u.lost += n
		u.lostBySession[u.id] += n
		u.history[len(u.history)-1].lost = n
		// A failed request's write, landed after them?
		for _, f := range u.history[:len(u.history)-1] {
			if f.seq == prev && strings.HasPrefix(f.result, "error: ") {
				u.lostToLate += n
				u.lateWrites = append(u.lateWrites, fmt.Sprintf("%s (sent %s, failed after %v: %.300s)",
					f.url, f.sent.Format("15:04:05.000"), f.took.Round(time.Millisecond), f.result))
				break
			}
		}
	}
	u.acked = u.acked[:keep]
	if seq > 0 {
		u.acked = append(u.acked, seq)
	}
	if r.cfg.Flashes {
		if !isNew && prev < u.lastSeen { // a RenewID keeps the data
			u.backward++
		}
		u.lastSeen = prev
		f := &u.flashes[len(u.flashes)-1]
		f.acked, f.read = true, read
		if saved == "failed" {
			u.ackedAfterFailure++
		}
	}
	u.id = id
	return true
}

// countFlashes adds up u's flash messages into rep (see Report).
func (u *user) countFlashes(rep *Report) {
	rep.SeqBackwards += u.backward
	rep.AckedAfterFailedSave += u.ackedAfterFailure
	shown := map[int]int{}
	for i, f := range u.flashes {
		for _, m := range f.read {
			shown[m]++
			// A message is shown after the request that added it was sent.
			if !slices.ContainsFunc(u.flashes[:i], func(g flashRequest) bool { return g.msg == m }) {
				rep.FlashStray++
			}
		}
	}
	for _, n := range shown {
		rep.FlashShownTwice += max(0, n-1)
	}
	for _, f := range u.flashes {
		if !f.acked && f.msg != 0 && shown[f.msg] > 0 {
			rep.FailedApplied++
		}
	}
	for i, f := range u.flashes {
		if !f.acked || f.msg == 0 || shown[f.msg] > 0 {
			continue
		}
		// Not shown: the next acknowledged request would have shown it,
		// unless a failed request between the two read it and its write
		// was applied. Its own message then stayed stored for the next
		// acknowledged request to show (the last such request's does).
		read := false
		for _, g := range u.flashes[i+1:] {
			if g.acked {
				break
			}
			// A final read adds no message to tell: it may have read it.
			if g.msg == 0 || shown[g.msg] > 0 {
				read = true
			}
		}
		if read {
			rep.FlashUnseen++
		} else {
			rep.FlashLost++
		}
	}
}

// get sends GET url and returns the body of a 2xx answer; anything else is an error.
func get(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
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
		// The answer's text: fault 9 tells its failures apart by it.
		return "", fmt.Errorf("status %d: %.300s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// answer is a parsed answer of the app.
type answer struct {
	id    string
	prev  int
	isNew bool
	// read and save are those of "<id> <prev> <new> <read> <save>"; read
	// is nil for any other answer.
	read []int
	save string
	// user is that of "<id> <prev> <new> <user>" ("" for none, or for
	// another answer).
	user string
}

// parseAnswer splits "<id> <prev> <new>", "<id> <prev> <new> <user>" and
// "<id> <prev> <new> <read> <save>".
func parseAnswer(body string) (answer, error) {
	bad := fmt.Errorf("faults: bad answer %q", body)
	f := strings.Fields(body)
	if len(f) < 3 || len(f) > 5 {
		return answer{}, bad
	}
	a := answer{id: f[0], isNew: f[2] == "true"}
	var err error
	if a.prev, err = strconv.Atoi(f[1]); err != nil {
		return answer{}, bad
	}
	switch len(f) {
	case 4:
		if f[3] != "-" {
			a.user = f[3]
		}
	case 5:
		a.read = []int{}
		if f[3] != "-" {
			for m := range strings.SplitSeq(f[3], ",") {
				n, err := strconv.Atoi(strings.TrimPrefix(m, "m"))
				if err != nil || !strings.HasPrefix(m, "m") || n < 1 {
					return answer{}, bad
				}
				a.read = append(a.read, n)
			}
		}
		a.save = f[4]
	}
	return a, nil
}
