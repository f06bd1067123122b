package mongostore

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// FuzzDecodeGivesJSONOrAnError feeds decode, which reads what the server
// returns for a session document (written by this store, by connect-mongo,
// or by anyone with access to the collection), arbitrary bytes. Whatever the
// bytes, it never panics, and returns an error, a string session as stored,
// or an embedded-document session as a JSON object; and it answers the same
// twice, as compare-and-swap needs a session's version to be stable.
func FuzzDecodeGivesJSONOrAnError(f *testing.F) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC)
	for _, doc := range []bson.D{
		{{Key: "_id", Value: "str"}, {Key: "session", Value: `{"cookie":{"path":"/"},"n":1}`}, {Key: "expires", Value: exp}},
		{{Key: "_id", Value: "obj"}, {Key: "expires", Value: exp}, {Key: "session", Value: bson.D{
			{Key: "cookie", Value: bson.D{{Key: "originalMaxAge", Value: int32(3600000)}, {Key: "expires", Value: exp}, {Key: "path", Value: "/"}}},
			{Key: "n", Value: 1.5}, {Key: "nan", Value: math.NaN()}, {Key: "inf", Value: math.Inf(-1)}, {Key: "i64", Value: int64(1) << 60},
			{Key: "list", Value: bson.A{"a", nil, false, bson.A{}, bson.D{}}}, {Key: "quote?", Value: "\"é<\u2028"},
			{Key: "bin", Value: bson.Binary{Subtype: 0, Data: []byte{1, 2}}}, {Key: "oid", Value: bson.ObjectID{1, 2, 3}},
			{Key: "re", Value: bson.Regex{Pattern: "a.*", Options: "i"}}, {Key: "ts", Value: bson.Timestamp{T: 1, I: 2}},
			{Key: "dec", Value: bson.NewDecimal128(1, 2)}, {Key: "undef", Value: bson.Undefined{}}, {Key: "min", Value: bson.MinKey{}},
			{Key: "js", Value: bson.JavaScript("x")}, {Key: "sym", Value: bson.Symbol("s")}, {Key: "ptr", Value: bson.DBPointer{DB: "d"}},
			{Key: "old", Value: time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC)}, {Key: "far", Value: bson.DateTime(math.MaxInt64)},
		}}},
		{{Key: "_id", Value: "no-expiry"}, {Key: "session", Value: "{}"}},
		{{Key: "_id", Value: "string-expiry"}, {Key: "session", Value: "{}"}, {Key: "expires", Value: "tomorrow"}},
		{{Key: "_id", Value: "number-session"}, {Key: "session", Value: 3}, {Key: "expires", Value: exp}},
		{{Key: "_id", Value: "array-session"}, {Key: "session", Value: bson.A{1}}, {Key: "expires", Value: exp}},
	} {
		raw, err := bson.Marshal(doc)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		f.Add(raw[:len(raw)/2]) // cut short, its length prefix now a lie
	}
	f.Add([]byte{})
	f.Add([]byte{5, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		raw := bson.Raw(bytes.Clone(data))
		got, version, err := decode(raw)
		if !bytes.Equal(raw, data) {
			t.Fatalf("decode changed its input")
		}
		if err != nil {
			if got != nil || version != "" {
				t.Fatalf("decode failed (%v) but returned %q, %q", err, got, version)
			}
			return
		}
		switch {
		case strings.HasPrefix(version, versionString):
			// A string session is passed on as stored; the manager's codec
			// judges it.
			if s, ok := raw.Lookup(fieldSession).StringValueOK(); !ok || s != string(got) {
				t.Fatalf("a string session decoded to %q, not the string %q", got, s)
			}
		case strings.HasPrefix(version, versionObject):
			if !json.Valid(got) || got[0] != '{' {
				t.Fatalf("an embedded-document session decoded to %q, not a JSON object", got)
			}
		default:
			t.Fatalf("version %q has neither the string nor the object prefix", version)
		}
		again, version2, err := decode(raw)
		if err != nil || !bytes.Equal(again, got) || version2 != version {
			t.Fatalf("a second decode gave %q, %q, %v; the first %q, %q", again, version2, err, got, version)
		}
	})
}

// nested returns a document whose session is an embedded document nested
// depth levels deep.
func nested(depth int) bson.Raw {
	inner := bsoncore.NewDocumentBuilder().AppendInt32("n", 1).Build()
	for range depth {
		inner = bsoncore.NewDocumentBuilder().AppendDocument("a", inner).Build()
	}
	return bson.Raw(bsoncore.NewDocumentBuilder().
		AppendDateTime(fieldExpires, 0).AppendDocument(fieldSession, inner).Build())
}

func TestSessionNestedDeeperThanTheCodecReadsIsAnError(t *testing.T) {
	if got, _, err := decode(nested(1000)); err != nil || !json.Valid(got) {
		t.Fatalf("a session nested 1000 levels: %.40q..., %v; want its JSON", got, err)
	}
	got, _, err := decode(nested(maxNesting))
	if err == nil || !strings.Contains(err.Error(), "nested deeper than") {
		t.Fatalf("a session nested %d levels: %.40q..., %v; want an error naming the nesting", maxNesting, got, err)
	}
}
