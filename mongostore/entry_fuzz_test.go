package mongostore

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// FuzzDecodeEntryReadsWhatTheDriverReads feeds decodeEntry, which reads the
// user index documents the server returns (written by this store, or by
// anyone with access to the collection), arbitrary bytes. It never panics;
// an entry the store writes reads back as written; and of any document the
// driver reads, it takes the session id the driver finds under _id.sid
// (an error when that is not a string) and the expiry and last use when
// they are dates, the zero time otherwise, each field's first occurrence.
func FuzzDecodeEntryReadsWhatTheDriverReads(f *testing.F) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC)
	for _, doc := range []bson.D{
		{{Key: fieldID, Value: entryID("ada", "sid")}, {Key: fieldExpires, Value: exp}, {Key: fieldUsed, Value: exp.Add(-time.Hour)}},
		{{Key: fieldID, Value: entryID("ada", "sid")}, {Key: fieldExpires, Value: "soon"}},
		{{Key: fieldID, Value: bson.D{{Key: fieldSID, Value: 7}}}},
		{{Key: fieldID, Value: "flat"}},
		{{Key: fieldExpires, Value: exp}},
		{{Key: fieldID, Value: entryID("", "")}, {Key: fieldUsed, Value: bson.DateTime(-1 << 63)}, {Key: fieldExpires, Value: bson.DateTime(1<<63 - 1)}},
	} {
		b, err := bson.Marshal(doc)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "ada", "sid", int64(0), int64(0))
	}
	f.Add([]byte{5, 0, 0, 0, 0}, "u", "\xff", int64(1)<<62, int64(-1)<<62)
	f.Fuzz(func(t *testing.T, raw []byte, user, id string, expMS, usedMS int64) {
		// The store's own entry.
		written, err := bson.Marshal(bson.D{
			{Key: fieldID, Value: entryID(user, id)},
			{Key: fieldExpires, Value: bson.DateTime(expMS)},
			{Key: fieldUsed, Value: bson.DateTime(usedMS)},
		})
		if err != nil {
			t.Fatal(err)
		}
		e, err := decodeEntry(written)
		if err != nil || e.id != id || !e.expires.Equal(bson.DateTime(expMS).Time()) || !e.used.Equal(bson.DateTime(usedMS).Time()) {
			t.Fatalf("decodeEntry of the entry of %q, %q, %d, %d = %+v, %v", user, id, expMS, usedMS, e, err)
		}

		// Any bytes.
		e, err = decodeEntry(bson.Raw(raw))
		if bson.Raw(raw).Validate() != nil {
			return // not a document the server sends: decodeEntry need only not panic
		}
		// A field is its first occurrence, as the server reads it. Validate
		// does not look into every embedded document: one that is not whole
		// is not what a server sends either.
		whole := true
		field := func(d bson.Raw, key string) bson.RawValue {
			elems, err := d.Elements()
			if err != nil {
				whole = false
				return bson.RawValue{}
			}
			for _, el := range elems {
				if el.Key() == key {
					return el.Value()
				}
			}
			return bson.RawValue{}
		}
		wantID, ok := "", false
		if d, isDoc := field(raw, fieldID).DocumentOK(); isDoc {
			wantID, ok = field(d, fieldSID).StringValueOK()
		}
		if !whole {
			return
		}
		if (err == nil) != ok || (ok && e.id != wantID) {
			t.Fatalf("decodeEntry(%x) = %+v, %v; want the id %q, %v", raw, e, err, wantID, ok)
		}
		if !ok {
			return
		}
		wantExpires, _ := field(raw, fieldExpires).TimeOK()
		wantUsed, _ := field(raw, fieldUsed).TimeOK()
		if !e.expires.Equal(wantExpires) || !e.used.Equal(wantUsed) {
			t.Fatalf("decodeEntry(%x) = %+v; want expires %v, used %v", raw, e, wantExpires, wantUsed)
		}
	})
}
