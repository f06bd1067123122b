package interop

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/mongostore"
	"github.com/sessionkit/session/redisstore"
)

// The flash tests of flash_test.go also run on the other stores the
// Express peer runs with: connect-mongo on FerretDB (the session as a JSON
// string, and as an object with stringify: false) against mongostore,
// connect-memcached against memcachedstore, and connect-redis on Valkey
// against redisstore (whose save is SET IFEQ there).
func init() {
	flashStores = append(flashStores, []struct {
		name  string
		world func(t *testing.T) *flashWorld
	}{
		{"Mongo", func(t *testing.T) *flashWorld { return mongoFlashWorld(t, true) }},
		{"MongoObject", func(t *testing.T) *flashWorld { return mongoFlashWorld(t, false) }},
		{"Memcached", func(t *testing.T) *flashWorld {
			w := newMemcachedWorld(t)
			return newFlashWorldOn(t, w.node, memcachedstore.New(w.mc), func(id string) string {
				it := w.item(id)
				if it == nil {
					t.Fatalf("no item under the key %s", id)
				}
				return string(it.Value)
			})
		}},
		{"Valkey", func(t *testing.T) *flashWorld {
			w := newValkeyWorld(t)
			return newFlashWorldOn(t, w.node, redisstore.New(w.rdb, redisstore.WithPrefix("sess:")), w.raw)
		}},
	}...)
}

// mongoFlashWorld is a flashWorld on a fresh collection shared by
// connect-mongo and mongostore, both with stringify as given. raw gives
// the stored session as JSON: connect-mongo's string, or the object (BSON
// numbers, arrays and documents) as relaxed extended JSON.
func mongoFlashWorld(t *testing.T, stringify bool) *flashWorld {
	t.Helper()
	w := newMongoWorldStringify(t, 0, stringify, nil)
	st, err := mongostore.New(w.coll, mongostore.WithStringify(stringify))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fw := newFlashWorldOn(t, w.node, st, func(id string) string {
		doc := w.doc(id)
		if doc == nil {
			t.Fatalf("no document %s", id)
		}
		v := doc.Lookup("session")
		if stringify {
			return v.StringValue()
		}
		j, err := bson.MarshalExtJSON(v.Document(), false, false)
		if err != nil {
			t.Fatalf("document %s: %v", id, err)
		}
		return string(j)
	})
	fw.noNestedArrays = !stringify
	return fw
}
