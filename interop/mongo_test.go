package interop

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/mongostore"
)

// The same migration as the Redis tests, on MongoDB (FerretDB): the Express
// app on connect-mongo 6 (SESSION_STORE=mongo, autoRemove 'interval') and
// the Go app on mongostore share one collection.

// mongoWorld is a world whose store is a MongoDB collection.
type mongoWorld struct {
	*world
	coll *mongo.Collection
}

// newMongoWorld starts the Express app on connect-mongo with touchAfter
// and a Go app on mongostore on the same fresh collection; with touchAfter,
// the Go app has TouchAfter and writes lastModified, as connect-mongo does.
func newMongoWorld(t *testing.T, touchAfter time.Duration, adjust func(*session.Options)) *mongoWorld {
	t.Helper()
	srv := testserver.SharedMongo(t)
	uri, db := srv.NewDatabase(t)
	node, err := startPeerEnv("SESSION_STORE=mongo", "MONGO_URL="+uri+db, "MONGO_COLLECTION=sessions",
		"TOUCH_AFTER="+strconv.Itoa(int(touchAfter/time.Second)))
	checkStarted(t, err)
	t.Cleanup(node.stop)

	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	coll := client.Database(db).Collection("sessions")
	var opts []mongostore.Option
	if touchAfter > 0 {
		opts = append(opts, mongostore.WithLastModified())
	}
	st, err := mongostore.New(coll, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	goApp := newGoAppOn(t, st, func(o *session.Options) {
		o.TouchAfter = touchAfter
		if adjust != nil {
			adjust(o)
		}
	})
	return &mongoWorld{world: &world{t: t, node: node, goApp: goApp}, coll: coll}
}

// doc returns the stored document of session id, or nil if there is none.
func (w *mongoWorld) doc(id string) bson.Raw {
	w.t.Helper()
	raw, err := w.coll.FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Raw()
	if err == mongo.ErrNoDocuments {
		return nil
	}
	if err != nil {
		w.t.Fatalf("find %s: %v", id, err)
	}
	return raw
}

func TestMongoGoSessionContinuesInExpressWithTheSameCookie(t *testing.T) {
	w := newMongoWorld(t, 0, nil)
	b := w.browser()
	if got := b.goViews(); got != 1 {
		t.Fatalf("Go: views = %d on a new session, want 1", got)
	}
	goCookie := b.setCookie
	id := b.goSession().ID
	if want := signedCookie(id); goCookie != want {
		t.Fatalf("Go cookie for id %s:\n got %s\nwant %s", id, goCookie, want)
	}
	if got := b.nodeViews(); got != 2 {
		t.Fatalf("Express: views = %d after Go's 1, want 2 (did it find the session?)\n%s", got, w.doc(id))
	}
	if b.setCookie != goCookie {
		t.Fatalf("Express re-signed Go's session differently:\nexpress %s\n     go %s", b.setCookie, goCookie)
	}
	if got := b.goViews(); got != 3 {
		t.Fatalf("Go: views = %d after Express's 2, want 3", got)
	}
	if ns := b.nodeSession(); ns.ID != id || ns.Session["views"] != 3.0 {
		t.Fatalf("Express: id=%s views=%v, want id %s views 3", ns.ID, ns.Session["views"], id)
	}
}

func TestMongoExpressSessionContinuesInGoWithTheSameCookie(t *testing.T) {
	w := newMongoWorld(t, 0, nil)
	b := w.browser()
	if got := b.nodeViews(); got != 1 {
		t.Fatalf("Express: views = %d on a new session, want 1", got)
	}
	expressCookie := b.setCookie
	id := b.nodeSession().ID
	if want := signedCookie(id); expressCookie != want {
		t.Fatalf("Express cookie for id %s:\n got %s\nwant %s", id, expressCookie, want)
	}
	// connect-mongo's document: the session as a JSON string, a date expires.
	doc := w.doc(id)
	if _, ok := doc.Lookup("session").StringValueOK(); !ok || doc.Lookup("expires").Type != bson.TypeDateTime {
		t.Fatalf("connect-mongo's document is not {session: string, expires: date}: %s", doc)
	}
	if got := b.goViews(); got != 2 {
		t.Fatalf("Go: views = %d after Express's 1, want 2", got)
	}
	if b.setCookie != expressCookie {
		t.Fatalf("Go re-signed Express's session differently:\n     go %s\nexpress %s", b.setCookie, expressCookie)
	}
	if got := b.nodeViews(); got != 3 {
		t.Fatalf("Express: views = %d after Go's 2, want 3", got)
	}
}

func TestMongoLogoutOnOneIsLogoutOnTheOther(t *testing.T) {
	w := newMongoWorld(t, 0, nil)
	for _, c := range []struct{ name, create, logout, check string }{
		{"ExpressLogout", w.goApp.URL, w.node.URL, "go"},
		{"GoLogout", w.node.URL, w.goApp.URL, "express"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := w.browser()
			b.t = t
			b.do("GET", c.create+"/views", nil)
			id := b.goSession().ID
			old := b.cookie
			b.do("POST", c.logout+"/logout", nil)
			if w.doc(id) != nil {
				t.Fatalf("session %s still stored after logout: %s", id, w.doc(id))
			}
			b.cookie = old
			if gs := b.goSession(); !gs.New || gs.ID == id {
				t.Fatalf("Go after logout: id=%s new=%v, want a fresh session", gs.ID, gs.New)
			}
			b.cookie = old
			if ns := b.nodeSession(); ns.ID == id || ns.Session["views"] != nil {
				t.Fatalf("Express after logout: id=%s session=%v, want a fresh session", ns.ID, ns.Session)
			}
		})
	}
}

func TestMongoExpressWriteDuringGoRequestIsNotLost(t *testing.T) {
	w := newMongoWorld(t, 0, nil)
	b := w.browser()
	b.goViews()
	id := b.goSession().ID

	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", w.goApp.URL+"/slow?k=fromGo&v=1", nil)
		req.Header.Set("Cookie", "sid="+b.cookie)
		resp, err := b.client.Do(req)
		if err != nil {
			done <- err
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("/slow: %s: %s", resp.Status, body)
		}
		done <- err
	}()
	select {
	case <-w.goApp.loaded:
	case err := <-done:
		t.Fatalf("/slow ended before loading the session: %v", err)
	}
	b.do("POST", w.node.URL+"/set?k=fromExpress&v=1", nil)
	w.goApp.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stored := w.doc(id).Lookup("session").StringValue()
	for _, kv := range []string{`"fromExpress":"1"`, `"fromGo":"1"`, `"views":1`} {
		if !strings.Contains(stored, kv) {
			t.Errorf("stored session lacks %s: %s", kv, stored)
		}
	}
	if ns := b.nodeSession(); ns.Session["fromExpress"] != "1" || ns.Session["fromGo"] != "1" {
		t.Errorf("Express sees %v, want both fromExpress and fromGo", ns.Session)
	}
}

// With touchAfter on both sides, a read-only request soon after a write
// writes nothing, on either side, whoever wrote the session.
func TestMongoTouchAfterReadOnlyRequestWritesNothing(t *testing.T) {
	w := newMongoWorld(t, time.Minute, nil)
	for _, c := range []struct{ name, create string }{
		{"CreatedByGo", w.goApp.URL},
		{"CreatedByExpress", w.node.URL},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := w.browser()
			b.t = t
			b.do("GET", c.create+"/views", nil)
			id := b.nodeSession().ID
			before := w.doc(id)
			if before.Lookup("lastModified").Type != bson.TypeDateTime {
				t.Fatalf("no lastModified date in %s", before)
			}
			b.goSession()
			b.nodeSession()
			b.goSession()
			if after := w.doc(id); string(after) != string(before) {
				t.Fatalf("read-only requests within touchAfter changed the document:\nbefore %s\n after %s", before, after)
			}
		})
	}
}
