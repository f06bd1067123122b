package mongostore_test

import (
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/mongostore"
	"github.com/sessionkit/session/storetest"
)

// The benchmarks run against the shared FerretDB server. The Raw ones are
// the driver alone doing what the store does (find by _id, update by _id),
// the baseline of the others: compare RequestReadOnly with RawFind,
// RequestModifying with RawFindUpdate.
//
//	go test -run '^$' -bench . -benchmem ./mongostore

// benchDocSize is about what a session with a user id, a few flags and a
// CSRF token encodes to.
const benchDocSize = 400

// rawColl returns a fresh collection holding one connect-mongo document "raw".
func rawColl(b *testing.B) *mongo.Collection {
	coll := collection(b)
	_, err := coll.InsertOne(b.Context(), bson.D{{Key: "_id", Value: "raw"}, {Key: "session", Value: string(storetest.Document(benchDocSize))}, {Key: "expires", Value: time.Now().Add(time.Hour)}})
	if err != nil {
		b.Fatal(err)
	}
	return coll
}

func rawFind(b *testing.B, coll *mongo.Collection) func() {
	return func() {
		var doc struct {
			Session string    `bson:"session"`
			Expires time.Time `bson:"expires"`
		}
		if err := coll.FindOne(b.Context(), bson.D{{Key: "_id", Value: "raw"}}).Decode(&doc); err != nil {
			b.Fatal(err)
		}
	}
}

func rawUpdate(b *testing.B, coll *mongo.Collection) func() {
	doc := string(storetest.Document(benchDocSize))
	return func() {
		_, err := coll.UpdateOne(b.Context(), bson.D{{Key: "_id", Value: "raw"}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "session", Value: doc}, {Key: "expires", Value: time.Now().Add(time.Hour)}}}},
			options.UpdateOne().SetUpsert(true))
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawFind(b *testing.B) {
	find := rawFind(b, rawColl(b))
	b.ReportAllocs()
	for b.Loop() {
		find()
	}
}

func BenchmarkRawUpdate(b *testing.B) {
	update := rawUpdate(b, rawColl(b))
	b.ReportAllocs()
	for b.Loop() {
		update()
	}
}

func BenchmarkRawFindUpdate(b *testing.B) {
	coll := rawColl(b)
	find, update := rawFind(b, coll), rawUpdate(b, coll)
	b.ReportAllocs()
	for b.Loop() {
		find()
		update()
	}
}

// benchStore returns a store on a fresh collection holding session "id".
func benchStore(b *testing.B) *mongostore.Store {
	st := newStore(b, collection(b))
	if err := st.Set(b.Context(), "id", storetest.Document(benchDocSize), time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	return st
}

func BenchmarkStoreGet(b *testing.B) {
	st := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, found, err := st.Get(b.Context(), "id"); !found || err != nil {
			b.Fatal(found, err)
		}
	}
}

func BenchmarkStoreGetVersion(b *testing.B) {
	st := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, found, err := st.GetVersion(b.Context(), "id"); !found || err != nil {
			b.Fatal(found, err)
		}
	}
}

func BenchmarkStoreSet(b *testing.B) {
	st := benchStore(b)
	doc := storetest.Document(benchDocSize)
	b.ReportAllocs()
	for b.Loop() {
		if err := st.Set(b.Context(), "id", doc, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreCompareAndSwap(b *testing.B) {
	st := benchStore(b)
	doc := storetest.Document(benchDocSize)
	_, v, _, _ := st.GetVersion(b.Context(), "id")
	b.ReportAllocs()
	for b.Loop() {
		var ok bool
		var err error
		if v, ok, err = st.CompareAndSwap(b.Context(), "id", v, doc, time.Now().Add(time.Hour)); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkStoreTouch(b *testing.B) {
	st := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if found, err := st.Touch(b.Context(), "id", time.Now().Add(time.Hour)); !found || err != nil {
			b.Fatal(found, err)
		}
	}
}

// benchApp returns an app on a fresh store whose session (with a 400-byte
// value) was just saved; TouchAfter keeps read-only requests from touching.
func benchApp(b *testing.B) (*apptest.App, apptest.Response) {
	app := apptest.New(b, newStore(b, collection(b)), apptest.HourCookieTouchAfterMinute)
	first := app.MustDo(b, "/set?k=pad&v="+strings.Repeat("x", benchDocSize-100), nil)
	return app, first
}

func BenchmarkRequestNoSession(b *testing.B) {
	app, first := benchApp(b)
	b.ReportAllocs()
	for b.Loop() {
		app.Serve(b, "/none", first.Cookies)
	}
}

func BenchmarkRequestReadOnly(b *testing.B) {
	app, first := benchApp(b)
	b.ReportAllocs()
	for b.Loop() {
		app.Serve(b, "/get?k=pad", first.Cookies)
	}
}

func BenchmarkRequestModifying(b *testing.B) {
	app, first := benchApp(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		app.Serve(b, "/set?k=n&v="+string(rune('a'+i%26)), first.Cookies)
	}
}

// BenchmarkOverhead: a request through the middleware next to the raw
// driver calls doing the same store work (see apptest.BenchmarkOverhead).
func BenchmarkOverhead(b *testing.B) {
	coll := rawColl(b)
	find, update := rawFind(b, coll), rawUpdate(b, coll)
	apptest.BenchmarkOverhead(b, newStore(b, collection(b)), benchDocSize,
		find, func() { find(); update() })
}
