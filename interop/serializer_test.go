package interop

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/mongostore"
	"github.com/sessionkit/session/redisstore"
)

// TestExpressSerializerEnvelopeIsNotTakenForGoSessionData: an Express app
// whose connect-redis has a custom serializer that wraps each session in an
// envelope ({"v":1,"data":<the session>}) stores JSON without the session's
// "cookie" key. Go cannot read that session: it must say so in its log and
// give the browser a fresh session of its own, leaving the Express one as
// it was. It took the envelope's keys (v, data) for the session's data, with
// a browser-session cookie, and its next save wrote its own document over
// the Express one, which Express then read through its serializer as the
// session before Go's change (data), so the change was lost.
func TestExpressSerializerEnvelopeIsNotTakenForGoSessionData(t *testing.T) {
	srv := testserver.SharedRedis(t)
	prefix := testserver.UniquePrefix() + "sess:"
	node, err := startPeerEnv("REDIS_URL=redis://"+srv.Addr, "SESSION_PREFIX="+prefix, "REDIS_SERIALIZER=wrap")
	checkStarted(t, err)
	t.Cleanup(node.stop)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	var logs testserver.Output
	goApp := newGoAppOn(t, redisstore.New(rdb, redisstore.WithPrefix(prefix)), func(o *session.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	w := &world{t: t, rdb: rdb, node: node, goApp: goApp}
	b := w.browser()

	b.do("POST", node.URL+"/set?k=user&v=ada", nil)
	id := b.sessionID()
	expressCookie := b.cookie
	stored, err := rdb.Get(context.Background(), prefix+id).Result()
	if err != nil || !strings.HasPrefix(stored, `{"v":1,"data":{"cookie":`) {
		t.Fatalf("the Express app stored %q, %v; want its serializer's envelope", stored, err)
	}

	gs := b.goSession()
	if !gs.New || gs.ID == id || len(gs.Keys) != 0 {
		t.Errorf("Go read the envelope as session %s (new %v) with keys %v; want a fresh session", gs.ID, gs.New, gs.Keys)
	}
	if log := logs.String(); !strings.Contains(log, "ignoring corrupt stored session") || !strings.Contains(log, `without the \"cookie\" key`) {
		t.Errorf("Go's log does not say why it gave up the Express session:\n%s", log)
	}
	b.cookie = expressCookie
	b.do("POST", goApp.URL+"/set?k=fromGo&v=1", nil)
	if b.cookie == expressCookie {
		t.Errorf("Go saved its change under the Express session's cookie")
	}
	if now, _ := rdb.Get(context.Background(), prefix+id).Result(); now != stored {
		t.Errorf("Go wrote over the Express session:\n got %s\nwant %s", now, stored)
	}
	b.cookie = expressCookie
	if ns := b.nodeSession(); ns.ID != id || ns.Session["user"] != "ada" {
		t.Errorf("Express after Go: session %s %v, want %s with user ada", ns.ID, ns.Session, id)
	}
}

// TestExpressEncryptedMongoSessionIsLoggedAsEncryptedByGo: connect-mongo's
// crypto option stores each session encrypted, a base64 string Go cannot
// read. Go gives the browser a fresh session of its own, leaves the Express
// document alone, and its log says why: the stored session is not a JSON
// object, and encryption (connect-mongo's crypto option) is what usually
// makes it so. It logged "not a JSON object" alone, which did not point at
// the Express store's setting.
func TestExpressEncryptedMongoSessionIsLoggedAsEncryptedByGo(t *testing.T) {
	srv := testserver.SharedMongo(t)
	uri, db := srv.NewDatabase(t)
	node, err := startPeerEnv("SESSION_STORE=mongo", "MONGO_URL="+uri+db, "MONGO_COLLECTION=sessions", "MONGO_CRYPTO_SECRET=squirrel")
	checkStarted(t, err)
	t.Cleanup(node.stop)
	coll := sessionsCollection(t, uri, db)
	st, err := mongostore.New(coll)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var logs testserver.Output
	goApp := newGoAppOn(t, st, func(o *session.Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	w := &mongoWorld{world: &world{t: t, node: node, goApp: goApp}, coll: coll}
	b := w.browser()

	b.do("POST", node.URL+"/set?k=user&v=ada", nil)
	id := b.sessionID()
	expressCookie := b.cookie
	stored := w.doc(id)
	if s, ok := stored.Lookup("session").StringValueOK(); !ok || strings.HasPrefix(s, "{") {
		t.Fatalf("connect-mongo with crypto stored %s; want an encrypted string", stored)
	}

	if gs := b.goSession(); !gs.New || gs.ID == id || len(gs.Keys) != 0 {
		t.Errorf("Go read the encrypted session as %s (new %v) with keys %v; want a fresh session", gs.ID, gs.New, gs.Keys)
	}
	if log := logs.String(); !strings.Contains(log, "ignoring corrupt stored session") || !strings.Contains(log, "connect-mongo's crypto option") {
		t.Errorf("Go's log does not say why it cannot read the Express session:\n%s", log)
	}
	b.cookie = expressCookie
	b.do("POST", goApp.URL+"/set?k=fromGo&v=1", nil)
	// (Go's load, GetAndTouch, may have moved expires: it touches before it reads.)
	if after := w.doc(id).Lookup("session"); !after.Equal(stored.Lookup("session")) {
		t.Errorf("Go wrote over the encrypted session:\n got %s\nwant %s", after, stored.Lookup("session"))
	}
	b.cookie = expressCookie
	if ns := b.nodeSession(); ns.ID != id || ns.Session["user"] != "ada" {
		t.Errorf("Express after Go: session %s %v, want %s with user ada", ns.ID, ns.Session, id)
	}
}
