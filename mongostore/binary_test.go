package mongostore_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testserver/apptest"
	"github.com/sessionkit/session/mongostore"
)

// nonUTF8 are sessions a binary codec (gob, msgpack, protobuf) may write:
// bytes that are not UTF-8, which a BSON string must be.
var nonUTF8 = []string{"\xff\xfeabc", "abc\x80", "\xc3", "\xed\xa0\x80", "\x00\xff", "{\"a\":\"\xe9\"}"}

// A session that is not UTF-8 comes back byte for byte from every read, and
// a compare-and-swap from its version swaps. It was stored as a BSON
// string, which must be UTF-8: FerretDB gave "\xff\xfeabc" back as
// "\ufffd\ufffdabc", with Set and Get both reporting success, and other
// drivers and tools refuse such a string.
func TestSessionThatIsNotUTF8ComesBackByteForByte(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	exp := clock.Now().Add(time.Hour)
	for i, data := range nonUTF8 {
		id := "set" + string(rune('a'+i))
		if err := st.Set(ctx, id, []byte(data), exp); err != nil {
			t.Fatalf("Set(%q): %v", data, err)
		}
		if got, found, err := st.Get(ctx, id); err != nil || !found || string(got) != data {
			t.Fatalf("Get after Set(%q) = %q, found %v, %v", data, got, found, err)
		}
		got, v, found, err := st.GetVersion(ctx, id)
		if err != nil || !found || string(got) != data {
			t.Fatalf("GetVersion after Set(%q) = %q, found %v, %v", data, got, found, err)
		}
		if got, v2, found, err := st.GetAndTouch(ctx, id, exp); err != nil || !found || string(got) != data || v2 != v {
			t.Fatalf("GetAndTouch after Set(%q) = %q, %q, found %v, %v; want the data and version %q", data, got, v2, found, err, v)
		}
		if found, err := st.Touch(ctx, id, exp); err != nil || !found {
			t.Fatalf("Touch after Set(%q) = %v, %v; want found", data, found, err)
		}
		// From the version read, to another session that is not UTF-8,
		// and on to one that is.
		next := data + "\xff"
		v3, swapped, err := st.CompareAndSwap(ctx, id, v, []byte(next), exp)
		if err != nil || !swapped {
			t.Fatalf("CompareAndSwap from %q's version: swapped %v, %v", data, swapped, err)
		}
		if got, v4, _, _ := st.GetVersion(ctx, id); string(got) != next || v4 != v3 {
			t.Fatalf("after the swap: %q, version %q; want %q, the swap's version %q", got, v4, next, v3)
		}
		if _, swapped, err := st.CompareAndSwap(ctx, id, v, []byte(`{}`), exp); err != nil || swapped {
			t.Fatalf("CompareAndSwap from %q's stale version: swapped %v, %v; want a conflict", data, swapped, err)
		}
		if _, swapped, err := st.CompareAndSwap(ctx, id, v3, []byte(`{"a":1}`), exp); err != nil || !swapped {
			t.Fatalf("CompareAndSwap from %q's version: swapped %v, %v", next, swapped, err)
		}
		if got, _, _ := st.Get(ctx, id); string(got) != `{"a":1}` {
			t.Fatalf("after the swap to JSON: %q", got)
		}
		if s, ok := rawDoc(t, coll, id)["session"].(string); !ok || s != `{"a":1}` {
			t.Fatalf("a JSON session is stored as %#v, want the string", rawDoc(t, coll, id)["session"])
		}

		// Created by a compare-and-swap.
		id = "cas" + string(rune('a'+i))
		v, swapped, err = st.CompareAndSwap(ctx, id, "", []byte(data), exp)
		if err != nil || !swapped {
			t.Fatalf("CompareAndSwap creating %q: swapped %v, %v", data, swapped, err)
		}
		if got, v2, found, err := st.GetVersion(ctx, id); err != nil || !found || string(got) != data || v2 != v {
			t.Fatalf("GetVersion after creating %q = %q, %q, found %v, %v; want the create's version %q", data, got, v2, found, err, v)
		}
		if _, swapped, err := st.CompareAndSwap(ctx, id, v, []byte(data+data), exp); err != nil || !swapped {
			t.Fatalf("CompareAndSwap from the created %q's version: swapped %v, %v", data, swapped, err)
		}
	}
}

// A session that is not UTF-8 is stored as binary data, and is a session
// like the others for IDs, Count, the user index and PurgeExpired.
func TestSessionThatIsNotUTF8IsListedAndPurgedLikeTheOthers(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	exp := clock.Now().Add(time.Hour)
	bin, text := "\xff\xfeabc", `{"a":"é"}`
	for id, data := range map[string]string{"bin": bin, "text": text} {
		if err := st.Set(ctx, id, []byte(data), exp); err != nil {
			t.Fatal(err)
		}
	}
	if b, ok := rawDoc(t, coll, "bin")["session"].(bson.Binary); !ok || b.Subtype != 0 || string(b.Data) != bin {
		t.Fatalf("a session that is not UTF-8 is stored as %#v, want binary data (subtype 0)", rawDoc(t, coll, "bin")["session"])
	}
	if s, ok := rawDoc(t, coll, "text")["session"].(string); !ok || s != text {
		t.Fatalf("a UTF-8 session is stored as %#v, want the string", rawDoc(t, coll, "text")["session"])
	}
	if ids, err := st.IDs(ctx); err != nil || !slices.Equal(slices.Sorted(slices.Values(ids)), []string{"bin", "text"}) {
		t.Errorf("IDs = %q, %v; want [bin text]", ids, err)
	}
	if n, err := st.Count(ctx); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	if err := st.IndexUserSession(ctx, "alice", "bin", clock.Now(), exp); err != nil {
		t.Fatal(err)
	}
	var listed []string
	if err := st.UserSessions(ctx, "alice", func(id string, _, _ time.Time, data []byte) {
		if id == "bin" && !bytes.Equal(data, []byte(bin)) {
			t.Errorf("UserSessions gave the session %q, want %q", data, bin)
		}
		listed = append(listed, id)
	}); err != nil || !slices.Equal(listed, []string{"bin"}) {
		t.Errorf("UserSessions listed %q, %v; want [bin]", listed, err)
	}
	clock.Advance(2 * time.Hour)
	if n, err := st.PurgeExpired(ctx); err != nil || n != 2 {
		t.Errorf("PurgeExpired = %d, %v; want 2", n, err)
	}
}

// binaryCodec stores the JSON document behind a byte that is not UTF-8, as
// a binary format's header would be.
type binaryCodec struct{}

func (binaryCodec) Encode(doc *session.Document) ([]byte, error) {
	data, err := session.JSONCodec{}.Encode(doc)
	return append([]byte{0xff}, data...), err
}

func (binaryCodec) Decode(data []byte) (*session.Document, error) {
	if len(data) == 0 || data[0] != 0xff {
		return nil, session.ErrCorrupt
	}
	return session.JSONCodec{}.Decode(data[1:])
}

// Through the manager with a binary codec, a session keeps its values from
// request to request (the second write a compare-and-swap from the first).
func TestBinaryCodecSessionKeepsItsValuesThroughTheManager(t *testing.T) {
	st := newStore(t, collection(t), mongostore.WithStringify(true))
	app := apptest.New(t, st, func(o *session.Options) { o.Codec = binaryCodec{} })
	first := app.MustDo(t, "/set?k=user&v=alice", nil)
	app.MustDo(t, "/set?k=theme&v=dark", first.Cookies)
	if v := app.Values(t, first.Cookies); v.New || v.ID != first.Body || v.Values["user"] != "alice" || v.Values["theme"] != "dark" {
		t.Fatalf("after two writes with a binary codec: %+v, want session %s with user and theme", v, first.Body)
	}
}

// A session stored as binary data of any subtype (by another app: this
// store writes subtype 0) is read as its bytes, and a compare-and-swap from
// its version swaps: the version keeps the subtype, which the swap's filter
// has to match.
func TestBinarySessionOfAnySubtypeIsReadAndSwapped(t *testing.T) {
	ctx := t.Context()
	st, coll, clock := clocked(t)
	exp := clock.Now().Add(time.Hour)
	for _, subtype := range []byte{bson.TypeBinaryGeneric, bson.TypeBinaryBinaryOld, bson.TypeBinaryUUID, bson.TypeBinaryUserDefined, 0xff} {
		id := "sub" + string(rune('a'+subtype%26))
		data := []byte("{\"a\":1}\xfe")
		insertRaw(t, coll, bson.D{{Key: "_id", Value: id}, {Key: "session", Value: bson.Binary{Subtype: subtype, Data: data}}, {Key: "expires", Value: exp}})
		got, v, found, err := st.GetVersion(ctx, id)
		if err != nil || !found || !bytes.Equal(got, data) {
			t.Fatalf("GetVersion of binary subtype %#x = %q, found %v, %v; want %q", subtype, got, found, err, data)
		}
		if ids, _ := st.IDs(ctx); !slices.Contains(ids, id) {
			t.Fatalf("IDs = %q, without the binary session of subtype %#x", ids, subtype)
		}
		if _, swapped, err := st.CompareAndSwap(ctx, id, v, []byte(`{"b":2}`), exp); err != nil || !swapped {
			t.Fatalf("CompareAndSwap from binary subtype %#x's version: swapped %v, %v", subtype, swapped, err)
		}
	}
}
