package mongostore

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// FuzzDecodeGivesJSONOrAnError feeds decode, which reads what the server
// returns for a session document (written by this store, by connect-mongo,
// or by anyone with access to the collection), arbitrary bytes. Whatever the
// bytes, it never panics, and returns an error, a string or binary session
// as stored (a binary one's version with its subtype), or an
// embedded-document session as a JSON object; and it answers the same
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
		{{Key: "_id", Value: "bin"}, {Key: "session", Value: bson.Binary{Data: []byte("\xff\xfe{}")}}, {Key: "expires", Value: exp}},
		{{Key: "_id", Value: "bin-old"}, {Key: "session", Value: bson.Binary{Subtype: bson.TypeBinaryBinaryOld, Data: []byte("{}")}}, {Key: "expires", Value: exp}},
		{{Key: "_id", Value: "bin-user"}, {Key: "session", Value: bson.Binary{Subtype: 0xff}}, {Key: "expires", Value: exp}},
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
		case strings.HasPrefix(version, versionBinary):
			subtype, d, ok := raw.Lookup(fieldSession).BinaryOK()
			if !ok || !bytes.Equal(d, got) || version != versionBinary+string([]byte{subtype})+string(d) {
				t.Fatalf("a binary session decoded to %q, version %q; stored: subtype %#x, %q", got, version, subtype, d)
			}
		case strings.HasPrefix(version, versionObject):
			if !json.Valid(got) || got[0] != '{' {
				t.Fatalf("an embedded-document session decoded to %q, not a JSON object", got)
			}
		default:
			t.Fatalf("version %q has none of the string, binary and object prefixes", version)
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

// sessionDocument returns a stored document whose session is doc.
func sessionDocument(t testing.TB, doc bson.D) bson.Raw {
	t.Helper()
	raw, err := bson.Marshal(bson.D{{Key: fieldExpires, Value: time.Unix(0, 0)}, {Key: fieldSession, Value: doc}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A session stored as a document (WithStringify(false)) comes back as the
// JSON it was stored from, but for the differences the cases name; what a
// document cannot hold as it is, such as keys Extended JSON would read as
// types, is refused rather than changed.
func TestObjectSessionComesBackAsItsJSON(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{in: `{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"views":3}`},
		{in: `{"b":1,"a":2,"":{"":0},"a$":"$x","with space":"ok"}`},
		{in: `{"l":[[],[{}],{"x":[1,"s",null,true,false]}],"o":{}}`},
		{in: `{"u":"é日本語🎉","ctl":"\n\t\r\u0001","q":"\"\\/","sep":"\u2028"}`},
		// Strings come back as Go's encoding/json, which the manager's
		// codec writes with, escapes them.
		{in: `{"e":"\u00e9\/","html":"<&>"}`, out: `{"e":"é/","html":"\u003c\u0026\u003e"}`},
		// Numbers as JavaScript writes the double JSON.parse gives, but an
		// integer beyond 2^53, which stays exact.
		{in: `{"i":-2147483648,"big":2147483648,"safe":-9007199254740992,"long":9007199254740993,"min":-9223372036854775808}`},
		{in: `{"f":1.5,"tiny":1e-7,"huge":1e+21,"z":-0}`},
		{in: `{"one":1.0,"hundred":1e2,"zf":-0.0,"exp":1E-400,"f":0.30000000000000000001}`, out: `{"one":1,"hundred":100,"zf":-0,"exp":0,"f":0.3}`},
		{in: " {\n \"a\" : 1 }\n", out: `{"a":1}`},
	} {
		doc, err := jsonDocument([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		want := cmp.Or(c.out, c.in)
		if got, _, err := decode(sessionDocument(t, doc)); err != nil || string(got) != want {
			t.Errorf("%s came back as %s, %v; want %s", c.in, got, err, want)
		}
	}
}

func TestObjectSessionStoresNumbersAsTheNodeDriver(t *testing.T) {
	doc, err := jsonDocument([]byte(`{"i":5,"one":1.0,"big":2147483648,"f":1.5,"z":-0,"long":9007199254740993}`))
	if err != nil {
		t.Fatal(err)
	}
	raw := sessionDocument(t, doc)
	for key, want := range map[string]bson.Type{"i": bson.TypeInt32, "one": bson.TypeInt32, "big": bson.TypeDouble, "f": bson.TypeDouble, "z": bson.TypeDouble, "long": bson.TypeInt64} {
		if got := raw.Lookup(fieldSession, key).Type; got != want {
			t.Errorf("%s stored as a %s, want a %s", key, got, want)
		}
	}
}

// Every number JavaScript writes is stored as the double the Node driver
// stores for it, however large: JSON.stringify writes 2^53 + 2 as
// 9007199254740994 and 1e20 as 100000000000000000000, which were stored as
// an int64 (a Long object for the Node driver) and refused. Only a literal
// that its double would write otherwise, as a Go int64 beyond 2^53 can be,
// is an int64.
func TestObjectSessionStoresJavaScriptNumbersAsDoubles(t *testing.T) {
	in := `{"jsbig":9007199254740994,"e20":100000000000000000000,"neg":-1152921504606847500,"long":1152921504606846976,"odd":9007199254740993}`
	doc, err := jsonDocument([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	raw := sessionDocument(t, doc)
	for key, want := range map[string]bson.Type{"jsbig": bson.TypeDouble, "e20": bson.TypeDouble, "neg": bson.TypeDouble, "long": bson.TypeInt64, "odd": bson.TypeInt64} {
		if got := raw.Lookup(fieldSession, key).Type; got != want {
			t.Errorf("%s stored as a %s, want a %s", key, got, want)
		}
	}
	if got, _, err := decode(raw); err != nil || string(got) != in {
		t.Errorf("came back as %s, %v; want %s", got, err, in)
	}
}

func TestObjectSessionRefusesWhatADocumentCannotHold(t *testing.T) {
	deep := strings.Repeat(`{"a":`, maxNesting+1) + "1" + strings.Repeat("}", maxNesting+1)
	var many strings.Builder
	for i := range 20 {
		fmt.Fprintf(&many, `"k%d":%d,`, i, i)
	}
	for in, want := range map[string]string{
		`[1]`:                           "not a JSON object",
		`"x"`:                           "not a JSON object",
		`{"q":{"$numberLong":"5"}}`:     `key "$numberLong" starts with $`,
		`{"d":[{"$date":"2020"}]}`:      `key "$date" starts with $`,
		`{"a.b":1}`:                     `key "a.b"`,
		`{"a\u0000":1}`:                 `key "a\x00"`,
		`{"a":1,"a":2}`:                 `key "a" twice`,
		`{` + many.String() + `"k3":0}`: `key "k3" twice`,
		`{"n":1e400}`:                   "beyond a double",
		`{"n":-99999999999999999999}`:   "beyond a 64-bit integer",
		`{"a":1} {}`:                    "more after",
		`{"a":1,}`:                      "invalid character",
		`{"a" 1}`:                       "invalid character",
		`{"a":1`:                        "EOF",
		deep:                            "nested deeper than",
	} {
		if doc, err := jsonDocument([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40s: %v, %v; want an error with %q", in, doc, err, want)
		}
	}
	if _, err := jsonDocument([]byte(deep[len(`{"a":`) : len(deep)-1])); err != nil {
		t.Errorf("a session nested %d levels, as deep as decode reads: %v", maxNesting, err)
	}
}

// FuzzObjectSessionComesBackAsItsJSON: whatever jsonDocument accepts is
// valid JSON, stores, and decodes to JSON of the same value, which converts
// back to the same document.
func FuzzObjectSessionComesBackAsItsJSON(f *testing.F) {
	for _, s := range []string{
		`{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","path":"/"},"n":[1,1.5,-0,1e400,9007199254740993]}`,
		`{"":{"a$":[null,true,"\u00e9\ud800"]},"x":{"$numberLong":"5"}}`, `{"a":1,"a":2}`, `{"a":1,}`, `[]`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := jsonDocument(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		raw := sessionDocument(t, doc)
		got, _, err := decode(raw)
		if err != nil {
			t.Fatalf("%q stored, then decoded to an error: %v", data, err)
		}
		var in, out any
		if json.Unmarshal(data, &in) != nil || json.Unmarshal(got, &out) != nil || !reflect.DeepEqual(in, out) {
			t.Fatalf("%q came back as %q, another value", data, got)
		}
		again, err := jsonDocument(got)
		if err != nil || !bytes.Equal(sessionDocument(t, again), raw) {
			t.Fatalf("%q came back as %q, which converts to another document (%v)", data, got, err)
		}
	})
}

// A string whose length prefix is 0 (BSON counts the closing NUL, so the
// least is 1), as a session or inside a document session, is a malformed
// document: decode reports it, where it panicked in the driver's
// StringValue (found by FuzzDecodeGivesJSONOrAnError).
func TestMalformedStringInASessionIsAnErrorNotAPanic(t *testing.T) {
	// An element name: a string with the length prefix 0 and nothing after.
	emptyString := func(name string) []byte {
		return append(append([]byte{byte(bson.TypeString)}, name+"\x00"...), 0, 0, 0, 0)
	}
	document := func(elems ...[]byte) []byte {
		doc := []byte{0, 0, 0, 0} // the length, set below
		for _, e := range elems {
			doc = append(doc, e...)
		}
		doc = append(doc, 0)
		return bsoncore.UpdateLength(doc, 0, int32(len(doc)))
	}
	expires := bsoncore.AppendDateTimeElement(nil, fieldExpires, 0)
	for name, doc := range map[string][]byte{
		"string session":               document(expires, emptyString(fieldSession)),
		"string in a document session": document(expires, bsoncore.AppendDocumentElement(nil, fieldSession, document(emptyString("k")))),
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: decode panicked: %v", name, p)
				}
			}()
			if got, version, err := decode(bson.Raw(doc)); err == nil {
				t.Errorf("%s with a string of length 0: %q, %q; want an error", name, got, version)
			}
		}()
	}
}

// FuzzKeepTypesReadsBackAsTheNewJSON: whatever a compare-and-swap keeps of
// the stored session (prev, with the types the Node driver stores that
// JSON has no form for: here each ISO date string made a Date, each
// 24-digit hex string an ObjectId, each int32 a Long), the session it
// stores reads back as the JSON it was given, exactly as it does when
// nothing is kept.
func FuzzKeepTypesReadsBackAsTheNewJSON(f *testing.F) {
	const iso, oid = `"2026-11-22T09:59:00.123Z"`, `"6b0e635ee89075c14d84eb42"`
	for _, c := range [][2]string{
		{`{"a":` + iso + `,"b":1}`, `{"b":2,"a":` + iso + `}`},
		{`{"l":[` + iso + `,1,{"x":` + oid + `,"n":1}]}`, `{"l":[` + iso + `,1,{"x":` + oid + `,"n":2},3]}`},
		{`{"l":[` + iso + `,[` + oid + `]]}`, `{"l":[[` + oid + `],` + iso + `]}`},
		{`{"o":{"p":{"q":[1,{"r":` + iso + `}]}}}`, `{"o":{"p":{"q":[1,{"r":` + iso + `,"s":0}]}},"n":-0}`},
		{`{"a":[1,2]}`, `{"a":{"0":1,"1":2}}`},
	} {
		f.Add([]byte(c[0]), []byte(c[1]))
	}
	var many, changed strings.Builder // past keepTypesScan keys
	for i := range keepTypesScan + 4 {
		fmt.Fprintf(&many, `,"k%d":[%s,%d]`, i, iso, i)
		fmt.Fprintf(&changed, `,"k%d":[%s,%d]`, keepTypesScan+3-i, iso, i)
	}
	f.Add([]byte(`{"a":1`+many.String()+`}`), []byte(`{"a":2`+changed.String()+`}`))
	var typed func(v any) any // what the Node driver may have stored for v's JSON
	typed = func(v any) any {
		switch v := v.(type) {
		case bson.D:
			for i := range v {
				v[i].Value = typed(v[i].Value)
			}
		case bson.A:
			for i := range v {
				v[i] = typed(v[i])
			}
		case int32:
			return int64(v)
		case string:
			if t, err := time.Parse("2006-01-02T15:04:05.000Z", v); err == nil && jsISOString(t) == v {
				return bson.NewDateTimeFromTime(t)
			}
			if id, err := bson.ObjectIDFromHex(v); err == nil && id.Hex() == v {
				return id
			}
		}
		return v
	}
	stored := func(t *testing.T, doc bson.D) []byte {
		got, _, err := decode(sessionDocument(t, doc))
		if err != nil {
			t.Fatalf("stored %v, then decoded to an error: %v", doc, err)
		}
		return got
	}
	f.Fuzz(func(t *testing.T, prevJSON, next []byte) {
		prevDoc, err := jsonDocument(prevJSON)
		if err != nil {
			return
		}
		prev, err := bson.Marshal(typed(prevDoc))
		if err != nil {
			return
		}
		plain, err := jsonDocument(next)
		if err != nil {
			return
		}
		want := stored(t, plain)
		kept, _ := jsonDocument(next)
		keepTypes(kept, next, prev, 1)
		if got := stored(t, kept); !bytes.Equal(got, want) {
			t.Fatalf("over %s, %s was stored keeping types as %s, without as %s", prevJSON, next, got, want)
		}
	})
}
