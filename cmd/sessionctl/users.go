package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/sessionkit/session"
)

// The commands on the sessions of one user (issue #14).
func init() {
	commands["user"] = &command{
		args:  "USERID",
		help:  "list the live sessions of one user (see Session.SetUser), most recently used first",
		nargs: 1,
		setup: func(*flag.FlagSet) func(context.Context, *cli, []string) error {
			return func(ctx context.Context, c *cli, args []string) error { return c.user(ctx, args[0]) }
		},
	}
	commands["logout-user"] = &command{
		args:  "[-keep ID] USERID",
		help:  "destroy every session of one user (but the one given with -keep): logs them out everywhere",
		nargs: 1,
		setup: func(fs *flag.FlagSet) func(context.Context, *cli, []string) error {
			keep := fs.String("keep", "", "do not destroy the session with this `ID`")
			return func(ctx context.Context, c *cli, args []string) error { return c.logoutUser(ctx, args[0], *keep) }
		},
	}
}

// manager returns a manager over the store, for its user index logic. Its
// secret is random: sessionctl never signs or reads a cookie. Its
// StoreTimeout, which bounds each of its store calls, is -timeout, which
// bounds the command's exchange with the store: the default 5 s would cut
// a longer -timeout short.
func (c *cli) manager() (*session.Manager, error) {
	m, err := session.New(session.Options{
		Secrets:      []string{rand.Text()},
		Store:        c.store,
		Logger:       slog.New(slog.DiscardHandler),
		StoreTimeout: c.timeout,
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// userError makes the error of a store without a user index say so plainly.
func (c *cli) userError(err error) error {
	if errors.Is(err, session.ErrNotSupported) {
		return fmt.Errorf("%s keeps no index of users' sessions (the store is not a session.UserIndex); user and logout-user need one that does", c.kind())
	}
	return err
}

// errNoUser is the usage error of an empty USERID: no session belongs to
// the empty user (session.Session.SetUser("") unbinds one), so logout-user
// would end nothing, and say "destroyed 0" of a user it never looked up.
var errNoUser = fmt.Errorf("%w: USERID is empty", errUsage)

func (c *cli) user(ctx context.Context, userID string) error {
	if userID == "" {
		return errNoUser
	}
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	m, err := c.manager()
	if err != nil {
		return err
	}
	infos, err := m.UserSessions(ctx, userID)
	if err != nil {
		return c.userError(err)
	}
	if len(infos) == 0 {
		fmt.Fprintf(c.stderr, "no live sessions of user %q\n", userID)
		return nil
	}
	now := time.Now()
	ago := func(t time.Time) string { return since(now, t) }
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tLOGGED IN\tLAST USED\tEXPIRES\tIP\tUSER AGENT")
	for _, i := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(i.ID), ago(i.Created), ago(i.LoggedIn), ago(i.LastUsed),
			expiresIn(now, i.Expires), orDash(cell(i.IP)), orDash(cell(i.UserAgent)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "%d session(s) of user %q\n", len(infos), userID)
	return nil
}

// since shows t and how long before now it was, or "-" for the zero
// time. A time ahead of now (a login time written by an app instance
// whose clock is ahead of this machine's, or by hand: MaxSessionsPerUser
// ranks one more than a minute ahead of the login's clock as none) says
// how far ahead, where "-1h0m0s ago" read as a time past, and the year
// 3000 as "-2562047h47m16.854775808s ago".
func since(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	at := t.UTC().Format(time.RFC3339)
	if ahead := t.Sub(now).Round(time.Second); ahead > 0 {
		return fmt.Sprintf("%s (in %s, ahead of this clock)", at, ahead)
	}
	return fmt.Sprintf("%s (%s ago)", at, now.Sub(t).Round(time.Second))
}

// expiresIn shows an expiry and how long after now it is, or "-" for the
// zero time: an index entry whose expiry no time holds (a Redis score of
// inf, a PostgreSQL 'infinity', a MongoDB expires that is no date), which
// session.SessionInfo lists as unknown.
func expiresIn(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return expiresAt(now, t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) logoutUser(ctx context.Context, userID, keep string) error {
	if userID == "" {
		return errNoUser
	}
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	m, err := c.manager()
	if err != nil {
		return err
	}
	var keepIDs []string
	if keep != "" {
		keepIDs = append(keepIDs, keep)
	}
	n, err := m.DestroyUserSessions(ctx, userID, keepIDs...)
	if err != nil {
		return c.userError(fmt.Errorf("destroyed %d session(s) before: %w", n, err))
	}
	_, err = fmt.Fprintf(c.stdout, "destroyed %d session(s) of user %q\n", n, userID)
	return err
}

// documentUser is the user a stored session document is bound to
// (session.UserKey), or "" for none; ok is false for data that is no
// session document sessionctl can read (JSONCodec's).
func documentUser(data []byte) (user string, ok bool) {
	doc, err := session.JSONCodec{}.Decode(data)
	if err != nil {
		return "", false
	}
	if json.Unmarshal(doc.Values[session.UserKey], &user) != nil {
		return "", true
	}
	return user, true
}

// unindexDestroyed removes the index entries of session id, which destroy
// has just ended: the entry of the user its stored data (nil if none was
// read) is bound to, and given's, the user named with -user, if any. For
// data that is no document sessionctl can read (an application's own
// Codec) and no -user, it says on stderr that the entry of the session's
// user, if it has one, stays until it expires.
func (c *cli) unindexDestroyed(ctx context.Context, id string, data []byte, given string) {
	if _, ok := c.store.(session.UserIndexRemover); !ok {
		return
	}
	user, readable := documentUser(data)
	if user != "" {
		c.unindex(ctx, user, id)
	}
	if given != "" && given != user {
		c.unindex(ctx, given, id)
	}
	if data != nil && !readable && given == "" {
		fmt.Fprintf(c.stderr, "sessionctl destroy: session %s is not a session document sessionctl can read (stored with the application's own Codec?), "+
			"so its user is unknown: if it had one, that user's index still lists it until the entry expires; "+
			"to remove the entry: %s\n", cell(id), destroyCommand(id, "-user USERID"))
	}
}

// unindex removes user's index entry for session id, which destroy has
// just ended, as the application's Manager.DestroyUserSession does: left,
// the store's index would list a session that is gone until the entry
// expires. A failure is said on stderr, not returned: the session is
// destroyed, and the entry still expires on its own.
func (c *cli) unindex(ctx context.Context, user, id string) {
	r, ok := c.store.(session.UserIndexRemover)
	if !ok {
		return
	}
	if err := r.UnindexUserSession(ctx, user, id); err != nil {
		fmt.Fprintf(c.stderr, "sessionctl destroy: the index entry of user %s for session %s could not be removed (it expires on its own): %v\n", cell(user), cell(id), err)
	}
}
