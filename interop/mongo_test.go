package interop

import (
	"context"
	"strconv"
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
	return newMongoWorldStringify(t, touchAfter, true, adjust)
}

// newMongoWorldStringify is newMongoWorld with connect-mongo's stringify
// option; false stores the session as an object on both sides
// (mongostore.WithStringify(false)).
func newMongoWorldStringify(t *testing.T, touchAfter time.Duration, stringify bool, adjust func(*session.Options)) *mongoWorld {
	t.Helper()
	srv := testserver.SharedMongo(t)
	uri, db := srv.NewDatabase(t)
	node, err := startPeerEnv("SESSION_STORE=mongo", "MONGO_URL="+uri+db, "MONGO_COLLECTION=sessions",
		"TOUCH_AFTER="+strconv.Itoa(int(touchAfter/time.Second)), "MONGO_STRINGIFY="+strconv.FormatBool(stringify))
	checkStarted(t, err)
	t.Cleanup(node.stop)

	coll := sessionsCollection(t, uri, db)
	opts := []mongostore.Option{mongostore.WithStringify(stringify)}
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
	goSessionContinuesInExpress(t, w.browser())
}

func TestMongoExpressSessionContinuesInGoWithTheSameCookie(t *testing.T) {
	w := newMongoWorld(t, 0, nil)
	expressSessionContinuesInGo(t, w.browser(), func(id string) {
		// connect-mongo's document: the session as a JSON string, a date expires.
		doc := w.doc(id)
		if _, ok := doc.Lookup("session").StringValueOK(); !ok || doc.Lookup("expires").Type != bson.TypeDateTime {
			t.Fatalf("connect-mongo's document is not {session: string, expires: date}: %s", doc)
		}
	})
}

func TestMongoLogoutOnOneIsLogoutOnTheOther(t *testing.T) {
	w := newMongoWorld(t, 0, nil)
	logoutOnEitherSideEndsTheSession(t, w.browser, w.goApp.URL, w.node.URL, func(id string) bool { return w.doc(id) != nil })
}

func TestMongoExpressWriteDuringGoRequestIsNotLost(t *testing.T) {
	w := newMongoWorld(t, 0, nil)
	b := w.browser()
	b.goViews()
	id := b.goSession().ID

	expressWritesDuringSlowGoRequest(t, b, w.goApp, w.node)
	bothWritesKept(t, b, w.doc(id).Lookup("session").StringValue())
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

// With connect-mongo's stringify: false on both sides, an Express number
// stays a number through a Go write of the session, as the Node driver
// stores it: a double. A large integral double (2^53 + 2, 1e20) came back
// from a Go save as an int64, which the Node driver reads as a Long object
// ({low, high, unsigned}) beyond 2^53, or the Go save failed for one beyond
// an int64 (1e20), every request that changed the session answered 500.
func TestMongoObjectSessionKeepsExpressNumbersThroughAGoWrite(t *testing.T) {
	w := newMongoWorldStringify(t, 0, false, nil)
	b := w.browser()
	b.nodeViews()
	id := b.sessionID()
	numbers := map[string]float64{"big": 1<<53 + 2, "e20": 1e20, "negbig": -(1<<60 + 1<<9)}
	for k, v := range numbers {
		b.do("POST", w.node.URL+"/set?k="+k+"&j="+strconv.FormatFloat(v, 'f', -1, 64), nil)
	}
	for k := range numbers {
		if typ := w.doc(id).Lookup("session", k).Type; typ != bson.TypeDouble {
			t.Fatalf("connect-mongo stored %s as a %s, want a double: %s", k, typ, w.doc(id))
		}
	}
	if got := b.goViews(); got != 2 {
		t.Fatalf("Go: views = %d after Express's 1, want 2", got)
	}
	for k := range numbers {
		if typ := w.doc(id).Lookup("session", k).Type; typ != bson.TypeDouble {
			t.Errorf("after Go's write %s is a %s, want the double Express stored: %s", k, typ, w.doc(id))
		}
	}
	ns := b.nodeSession()
	for k, v := range numbers {
		if ns.Session[k] != v {
			t.Errorf("Express after Go's write: %s = %#v, want the number %v", k, ns.Session[k], v)
		}
	}
	if gs := b.goSession(); gs.Values["big"] != float64(1<<53+2) || gs.Values["e20"] != 1e20 {
		t.Errorf("Go: big=%v e20=%v", gs.Values["big"], gs.Values["e20"])
	}
}

// With stringify: false, connect-mongo stores what the Node driver makes of
// the session object: a Date as a BSON date, a Mongoose document's _id as
// an ObjectId. A value that a Go write of the session leaves as it was keeps
// that type, at the top level and inside an object the Go request changed
// elsewhere: the Go save turned every such date into a string, and Express
// code calling loginAt.getTime() threw after any Go request that changed
// anything in the session.
func TestMongoObjectSessionKeepsExpressDatesThroughAGoWrite(t *testing.T) {
	w := newMongoWorldStringify(t, 0, false, nil)
	b := w.browser()
	b.nodeViews()
	id := b.sessionID()
	const login = "2026-11-22T09:59:00.123Z"
	b.do("POST", w.node.URL+"/set?k=loginAt&d="+login, nil)
	b.do("POST", w.node.URL+`/set?k=profile&j={"plan":"pro","n":1.5}`, nil)
	if typ := w.doc(id).Lookup("session", "loginAt").Type; typ != bson.TypeDateTime {
		t.Fatalf("connect-mongo stored loginAt as a %s, want a date: %s", typ, w.doc(id))
	}
	if got := b.goViews(); got != 2 {
		t.Fatalf("Go: views = %d after Express's 1, want 2", got)
	}
	doc := w.doc(id)
	if v := doc.Lookup("session", "loginAt"); v.Type != bson.TypeDateTime || v.Time().UTC().Format("2006-01-02T15:04:05.000Z") != login {
		t.Fatalf("after Go's write loginAt is %s, want the date %s Express stored: %s", v, login, doc)
	}
	if v := doc.Lookup("session", "views"); v.Type != bson.TypeInt32 || v.Int32() != 2 {
		t.Fatalf("after Go's write views is %s, want the int32 2: %s", v, doc)
	}
	if gs := b.goSession(); gs.Values["loginAt"] != login {
		t.Fatalf("Go reads loginAt as %#v, want %q", gs.Values["loginAt"], login)
	}
	if ns := b.nodeSession(); ns.Session["loginAt"] != login || ns.Session["views"] != 2.0 {
		t.Fatalf("Express after Go's write: %v", ns.Session)
	}
}

// sessionsCollection is the "sessions" collection of database db on the
// server at uri, through a client of its own that the test disconnects.
func sessionsCollection(t *testing.T, uri, db string) *mongo.Collection {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return client.Database(db).Collection("sessions")
}
