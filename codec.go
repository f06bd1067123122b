package session

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/session/internal/jsondepth"
)

// Document is one session as the store keeps it: the express-session
// document, the session's own keys plus its cookie.
type Document struct {
	// Cookie is the session's cookie, the document's "cookie" key.
	Cookie DocumentCookie
	// Created is when the session was first created; zero if unknown (a
	// session written by an express app that never went through sessionkit).
	Created time.Time
	// Values are the session's keys, each as its JSON encoding. JSON is the
	// lingua franca with express; a Codec decides how the whole is laid out.
	Values map[string]json.RawMessage
}

// DocumentCookie is the stored form of a session's cookie, as express-session
// writes it.
type DocumentCookie struct {
	// OriginalMaxAge is the cookie's lifetime in milliseconds; nil for a
	// browser-session cookie.
	OriginalMaxAge *int64
	// Partitioned is the "partitioned" key; nil when the document has none.
	Partitioned *bool
	// Priority is the "priority" key as stored (the manager writes "low",
	// "medium" or "high"); "" writes no key.
	Priority string
	// Expires is nil for a browser-session cookie.
	Expires *time.Time
	// Secure is the "secure" key; nil when the document has none.
	Secure *bool
	// HTTPOnly is the "httpOnly" key, always written.
	HTTPOnly bool
	// Domain is the cookie's domain; "" writes no key.
	Domain string
	// Path is the cookie's path, always written.
	Path string
	// SameSite is "", "lax", "strict" or "none".
	SameSite string
}

// Codec turns a Document into the bytes a Store keeps, and back.
// Encode must not keep doc after it returns (the manager reuses it). Decode
// must not panic on any input, and returns an error for bytes that are not a
// document.
//
// JSONCodec, the express document, is the default and the only codec that
// keeps sessions shared with an Express app. The interface is there for
// tools that read stored sessions (sessionctl decodes with JSONCodec) and for
// an application with no Express peer that wants another layout; encryption
// at rest is better done by a Store wrapper, which sees the encoded bytes.
type Codec interface {
	// Encode returns the bytes to store for doc.
	Encode(doc *Document) ([]byte, error)
	// Decode returns the document that data holds.
	Decode(data []byte) (*Document, error)
}

// JSONCodec is the express-session document, as connect-redis and
// connect-mongo store it: {"cookie":{...},"key":value,...}. The creation time
// is kept under the top-level key CreatedKey, which express keeps as data.
type JSONCodec struct{}

// CreatedKey is the top-level document key that holds the session's creation
// time (an ISO-8601 string). It is reserved: Session.Set ignores it.
const CreatedKey = "__sessionkit_created"

// cookieKey is the document key of the session cookie, reserved like CreatedKey.
const cookieKey = "cookie"

// isoMillis is the layout of JavaScript's Date.prototype.toISOString.
const isoMillis = "2006-01-02T15:04:05.000Z"

// Encode writes doc as the express JSON document: the cookie first, with its
// keys in express order, then the creation time, then the keys in sorted order.
// A value that is not valid JSON, or that nests arrays and objects so deep
// that the document would be deeper than Decode reads (jsondepth.Max levels,
// the document the first), or a key that is not UTF-8 (which Decode would
// read back as another key), is an error naming its key.
func (JSONCodec) Encode(doc *Document) ([]byte, error) {
	vals := valuesOf(doc.Values)
	vals.list = slices.DeleteFunc(vals.list, func(e keyed[slot]) bool { return e.key == cookieKey || e.key == CreatedKey })
	for _, e := range vals.list {
		err := checkValue(e.v.raw, documentValueDepth)
		if err == nil && !utf8.ValidString(e.key) {
			err = errKeyNotUTF8
		}
		if err != nil { // the first in key order, so that the error is always the same
			return nil, fmt.Errorf("session: encode key %q: %w", e.key, err)
		}
	}
	return encodeJSONDocument(doc, &vals, nil), nil
}

// The depth at which a load reads a session's values, which scanValue
// bounds: JSONCodec's values are members of the document (depth 0), and a
// custom codec's are checked each on its own (checkedCodec).
const (
	documentValueDepth = 1
	customValueDepth   = 0
)

// checkValue returns an error unless raw is one JSON value that scanValue
// reads at depth: not valid JSON, or nested too deep for a load.
func checkValue(raw []byte, depth int) error {
	switch end := scanValue(raw, skipSpace(raw, 0), depth); {
	case end == scanTooDeep:
		return errTooDeep(depth)
	case end < 0 || skipSpace(raw, end) != len(raw):
		return errors.New("not valid JSON")
	}
	return nil
}

// errTooDeep is the error for a value that a load at depth would refuse,
// its stored session then read as corrupt and its data lost.
func errTooDeep(depth int) error {
	if depth == documentValueDepth {
		return fmt.Errorf("arrays and objects nested more than %d levels deep: with the stored document's own level, deeper than the %d levels a load reads back", maxDepth-depth, maxDepth)
	}
	return fmt.Errorf("arrays and objects nested more than %d levels deep, deeper than a load reads back", maxDepth-depth)
}

// mayBeTooDeep reports whether raw is long enough to nest too deep for a
// load at depth: each level takes two bytes, so that a value shorter than
// twice one level more than a load allows, as a session's values nearly
// always are, is not scanned again.
func mayBeTooDeep(raw []byte, depth int) bool {
	return len(raw) >= 2*(maxDepth-depth+1)
}

// encodeJSONDocument writes doc's cookie and creation time, and the raw
// JSON of vals, in key order: Encode of a document whose values are valid
// JSON. The manager's saves, whose values were validated when they were
// loaded or made by json.Marshal, skip Encode's check and its map. It
// writes into dst (from its start) when the document fits there, as it
// nearly always does in a buffer that held an earlier document, or into a
// slice of its own otherwise.
func encodeJSONDocument(doc *Document, vals *values, dst []byte) []byte {
	size := 200 + len(CreatedKey)
	for _, e := range vals.list {
		size += len(e.key) + len(e.v.raw) + 4
	}
	if cap(dst) < size {
		dst = make([]byte, 0, size)
	}
	b := append(dst[:0], `{"cookie":`...)
	b = doc.Cookie.appendJSON(b)
	if !doc.Created.IsZero() {
		b = append(b, `,"`+CreatedKey+`":"`...)
		b = appendISOTime(b, doc.Created)
		b = append(b, '"')
	}
	for _, e := range vals.list {
		b = append(b, ',')
		b = appendJSONString(b, e.key)
		b = append(b, ':')
		b = append(b, e.v.raw...)
	}
	return append(b, '}')
}

// appendJSON appends the cookie with express's key order: originalMaxAge,
// partitioned, priority, expires, secure, httpOnly, domain, path, sameSite.
func (c *DocumentCookie) appendJSON(b []byte) []byte {
	b = append(b, `{"originalMaxAge":`...)
	if c.OriginalMaxAge == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *c.OriginalMaxAge, 10)
	}
	if c.Partitioned != nil {
		b = append(b, `,"partitioned":`...)
		b = strconv.AppendBool(b, *c.Partitioned)
	}
	if c.Priority != "" {
		b = append(b, `,"priority":`...)
		b = appendJSONString(b, c.Priority)
	}
	b = append(b, `,"expires":`...)
	if c.Expires == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = appendISOTime(b, *c.Expires)
		b = append(b, '"')
	}
	if c.Secure != nil {
		b = append(b, `,"secure":`...)
		b = strconv.AppendBool(b, *c.Secure)
	}
	b = append(b, `,"httpOnly":`...)
	b = strconv.AppendBool(b, c.HTTPOnly)
	if c.Domain != "" {
		b = append(b, `,"domain":`...)
		b = appendJSONString(b, c.Domain)
	}
	b = append(b, `,"path":`...)
	b = appendJSONString(b, c.Path)
	if c.SameSite != "" {
		b = append(b, `,"sameSite":`...)
		b = appendJSONString(b, c.SameSite)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	if plainJSONString(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	// A string always marshals. A copy goes to Marshal, which keeps its
	// argument as far as escape analysis knows, so that s and the document
	// it is read from stay on a save's stack.
	q, _ := json.Marshal(strings.Clone(s))
	return append(b, q...)
}

// plainJSONString reports whether s needs no escaping inside JSON quotes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// ErrCorrupt reports stored bytes that are not a session document.
var ErrCorrupt = errors.New("session: corrupt stored session")

// errNotObject is the error for stored bytes that are not a JSON object,
// as an encrypted session is (connect-mongo's crypto and cryptoAdapter
// options store a base64 string): the log line that reports the session
// unreadable says what the usual causes are.
var errNotObject = fmt.Errorf("%w: not a JSON object, so not an express-session document (is it encrypted, as by connect-mongo's crypto option, or written by a custom serializer?)", ErrCorrupt)

// errNoCookie is the error for a JSON object without the "cookie" key,
// which every document express-session stores has (its store's get fails
// on one, reading cookie.expires): such an object is something else, most
// likely a session that an Express store's custom serializer wrapped
// (connect-redis's serializer option, connect-mongo's serialize), and
// taking its keys for the session's data would hide that, and a save would
// write a document the Express side cannot read.
var errNoCookie = fmt.Errorf("%w: a JSON object without the \"cookie\" key, so not an express-session document (does the Express store wrap it: a custom serializer?)", ErrCorrupt)

// Decode parses the express JSON document. Values stay as raw JSON; they are
// decoded when the application reads them.
func (JSONCodec) Decode(data []byte) (*Document, error) {
	d := new(struct {
		Document
		cookieValues
	})
	var vals values
	if err := decodeJSONDocument(data, &d.Document, &d.cookieValues, &vals); err != nil {
		return nil, err
	}
	d.Values = vals.rawMap()
	c := &d.Cookie
	c.Expires, c.OriginalMaxAge, c.Secure, c.Partitioned = d.pointers()
	return &d.Document, nil
}

// decodeJSONDocument is JSONCodec.Decode into a Document the caller
// provides, with what its cookie's pointer fields would point to in cv
// (they are left nil), and its values into vals (doc.Values is left nil):
// the manager's loads decode without an allocation for the cookie or a
// map. The cookie object is validated as it is read, so that its bytes are
// scanned once.
func decodeJSONDocument(data []byte, doc *Document, cv *cookieValues, vals *values) error {
	return decodeJSONDocumentSpare(data, doc, cv, vals, nil)
}

// decodeJSONDocumentSpare is decodeJSONDocument that puts vals' list in
// spare when the values fit (full: a key added later takes a slice of its
// own), rather than in a slice of their own.
func decodeJSONDocumentSpare(data []byte, doc *Document, cv *cookieValues, vals *values, spare []keyed[slot]) error {
	*doc = Document{}
	// The values are sorted into an array on the stack first, and copied
	// into a slice of their number once all are read, so that a session
	// of a key or two does not take a slice for four. Past the array,
	// they go to vals directly.
	if i := skipSpace(data, 0); i >= len(data) || data[i] != '{' {
		return errNotObject
	}
	var stack [8]keyed[slot]
	list, spilled, sawCookie := sortedKeys[slot](stack[:0]), false, false
	end, err := walkObject(data, 0, func(key []byte, i int) (int, error) {
		if string(key) == cookieKey {
			sawCookie = true
			return doc.Cookie.decodeAt(data, i, cv)
		}
		if string(key) == CreatedKey {
			if t, end, ok := isoTimeAt(data, i); ok {
				doc.Created = t
				return end, nil
			}
		}
		raw, err := rawValueAt(data, i, 1)
		if err != nil {
			return 0, err
		}
		if string(key) == CreatedKey {
			if t, ok := parseISOTime(raw); ok {
				doc.Created = t
			}
			return i + len(raw), nil
		}
		if spilled {
			vals.putRaw(string(key), raw)
			return i + len(raw), nil
		}
		// As sortedKeys.put, in place: the last of a repeated key counts.
		switch j, found := list.find(string(key)); {
		case found:
			list[j].v = slot{raw: raw}
		case len(list) < cap(list):
			list = list[:len(list)+1]
			copy(list[j+1:], list[j:])
			list[j] = keyed[slot]{string(key), slot{raw: raw}}
		default:
			vals.list = append(make(sortedKeys[slot], 0, 2*len(list)), list...)
			vals.putRaw(string(key), raw)
			spilled = true
		}
		return i + len(raw), nil
	})
	if err != nil {
		return err
	}
	if !sawCookie {
		return errNoCookie
	}
	if !spilled && len(list) > 0 {
		if len(list) <= len(spare) {
			vals.list = spare[:len(list):len(list)]
		} else {
			vals.list = make(sortedKeys[slot], len(list))
		}
		copy(vals.list, list)
	}
	return trailing(data, end)
}

// decodeAt reads and validates the stored cookie object that starts at
// data[i], and returns the index just past it; what c's pointer fields
// would point to goes to cv. Unknown keys are ignored; originalMaxAge and
// expires may be null or false (no expiry); sameSite may be a
// string or a boolean (express accepts true for "strict"); secure may be a
// boolean or "auto".
func (c *DocumentCookie) decodeAt(data []byte, i int, cv *cookieValues) (int, error) {
	*c, *cv = DocumentCookie{HTTPOnly: true}, cookieValues{}
	if i >= len(data) || data[i] != '{' {
		return 0, fmt.Errorf("%w: cookie is not an object", ErrCorrupt)
	}
	return walkObject(data, i, func(key []byte, i int) (int, error) {
		if string(key) == "expires" {
			if t, end, ok := isoTimeAt(data, i); ok {
				cv.expires, cv.hasExpires = t, true
				return end, nil
			}
		}
		v, err := rawValueAt(data, i, 2)
		if err != nil {
			return 0, err
		}
		end := i + len(v)
		// null, or false: Connect's idiom for a browser-session cookie,
		// req.session.cookie.expires = false, which express-session still
		// keeps as one and stores as false in both keys.
		null := string(v) == "null" || string(v) == "false"
		switch string(key) {
		case "originalMaxAge":
			if null {
				return end, nil
			}
			ms, ok := jsonMillis(v)
			if !ok {
				return 0, fmt.Errorf("%w: cookie originalMaxAge %s", ErrCorrupt, v)
			}
			cv.maxAge, cv.hasMaxAge = ms, true
		case "expires":
			if null {
				return end, nil
			}
			t, ok := parseISOTime(v)
			if !ok {
				return 0, fmt.Errorf("%w: cookie expires %s", ErrCorrupt, v)
			}
			cv.expires, cv.hasExpires = t, true
		case "partitioned":
			if b, ok := jsonBool(v); ok {
				cv.partitioned, cv.hasPartitioned = b, true
			}
		case "secure":
			if b, ok := jsonBool(v); ok {
				cv.secure, cv.hasSecure = b, true
			}
		case "httpOnly":
			if b, ok := jsonBool(v); ok {
				c.HTTPOnly = b
			}
		case "priority":
			c.Priority = jsonString(v)
		case "domain":
			c.Domain = jsonString(v)
		case "path":
			c.Path = jsonString(v)
		case "sameSite":
			if b, ok := jsonBool(v); ok {
				if b {
					c.SameSite = "strict"
				}
			} else {
				c.SameSite = strings.ToLower(jsonString(v))
			}
		}
		return end, nil
	})
}

func jsonBool(v []byte) (value, ok bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// jsonMillis reads a JSON number of milliseconds (express writes an
// integer; a fraction is truncated toward zero).
func jsonMillis(v []byte) (int64, bool) {
	if n, ok := plainInt(v); ok {
		return n, true
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return int64(f), err == nil
}

// plainInt reads a JSON integer of at most 15 digits, which a float64 holds
// exactly, without strconv; ok is false for anything else (and for "-0",
// which is not the integer 0 as a float64).
func plainInt(v []byte) (n int64, ok bool) {
	digits := v
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 15 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(digits) < len(v) {
		if n == 0 {
			return 0, false
		}
		n = -n
	}
	return n, true
}

// jsonString returns the string in v, or "" if v is not a JSON string.
// The common cookie path "/" costs no allocation.
func jsonString(v []byte) string {
	if string(v) == `"/"` {
		return "/"
	}
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1])
	}
	return unquote(v)
}

// plainASCII reports whether b holds printable ASCII without backslashes.
func plainASCII(b []byte) bool {
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if specialBytes(x)|x&highs != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// unquote decodes the JSON string in v, or returns "".
func unquote(v []byte) string {
	var s string
	json.Unmarshal(v, &s)
	return s
}

// parseISOTime parses a JSON string holding an ISO-8601 time, fast for
// JavaScript's toISOString layout (2026-11-22T10:00:00.000Z), and the form
// it takes for a year outside 0 to 9999 (+010000-01-01T00:00:00.000Z).
func parseISOTime(v []byte) (time.Time, bool) {
	if len(v) == len(isoMillis)+2 && v[0] == '"' && v[len(v)-1] == '"' {
		if t, ok := parseISOMillis((*[len(isoMillis)]byte)(v[1 : len(v)-1])); ok {
			return t, true
		}
	}
	if len(v) == len(isoMillis)+5 && v[0] == '"' && v[len(v)-1] == '"' {
		if t, ok := parseISOExpanded(v[1 : len(v)-1]); ok { // a year past 9999, or before 0
			return t, true
		}
	}
	t, err := time.Parse(time.RFC3339Nano, unquote(v))
	return t, err == nil
}

// isoTimeAt reads the JSON string that starts at data[i] when it holds a
// time in the isoMillis layout, as the manager and express write one, and
// returns the index just past it: its bytes are then all plain, so that
// the time is read without scanning the string first (rawValueAt). ok is
// false for anything else, which the caller reads as it reads any value.
func isoTimeAt(data []byte, i int) (t time.Time, end int, ok bool) {
	end = i + len(isoMillis) + 2
	if i < 0 || end > len(data) || data[i] != '"' || data[end-1] != '"' {
		return time.Time{}, 0, false
	}
	t, ok = parseISOMillis((*[len(isoMillis)]byte)(data[i+1 : end-1]))
	return t, end, ok
}

// parseISOMillis parses the isoMillis layout, digit by digit.
func parseISOMillis(d *[len(isoMillis)]byte) (time.Time, bool) {
	if d[4] != '-' || d[7] != '-' || d[10] != 'T' || d[13] != ':' || d[16] != ':' || d[19] != '.' || d[23] != 'Z' {
		return time.Time{}, false
	}
	bad := 0 // negative once a byte is not a digit
	digit := func(i int) int {
		c := int(d[i] - '0')
		bad |= 9 - c
		return c
	}
	y := digit(0)*1000 + digit(1)*100 + digit(2)*10 + digit(3)
	mo, dd := digit(5)*10+digit(6), digit(8)*10+digit(9)
	h, mi, sec := digit(11)*10+digit(12), digit(14)*10+digit(15), digit(17)*10+digit(18)
	ms := digit(20)*100 + digit(21)*10 + digit(22)
	if bad < 0 || mo < 1 || mo > 12 || dd < 1 || dd > 31 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	secs := daysSinceEpoch(y, mo, dd)*86400 + int64(h*3600+mi*60+sec)
	return time.Unix(secs, int64(ms)*int64(time.Millisecond)).UTC(), true
}

// maxDepth bounds the nesting of a stored document, as encoding/json does:
// jsondepth.Max, which mongostore's embedded documents share.
const maxDepth = jsondepth.Max

// eachMember validates the JSON object that is the whole of data and calls
// fn for each of its members, with the member's unquoted key and its raw
// value. It accepts exactly what json.Valid accepts (and is an object).
func eachMember(data []byte, fn func(key, raw []byte) error) error {
	end, err := walkObject(data, 0, func(key []byte, i int) (int, error) {
		raw, err := rawValueAt(data, i, 1)
		if err != nil {
			return 0, err
		}
		return i + len(raw), fn(key, raw)
	})
	if err != nil {
		return err
	}
	return trailing(data, end)
}

// rawValueAt validates the JSON value that starts at data[i], a member of
// an object at depth-1, and returns its bytes.
func rawValueAt(data []byte, i, depth int) ([]byte, error) {
	end := scanValue(data, i, depth)
	if end < 0 {
		return nil, invalidAt(i)
	}
	return data[i:end:end], nil
}

// walkObject walks the object that starts at data[i] (after white space):
// member is called with each member's unquoted key and the index of its
// value, reads the value, and returns the index just past it. walkObject
// returns the index just past the object.
func walkObject(data []byte, i int, member func(key []byte, i int) (int, error)) (int, error) {
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != '{' {
		return 0, fmt.Errorf("%w: not a JSON object", ErrCorrupt)
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		end, plain := scanString(data, i)
		if end < 0 {
			return 0, invalidAt(i)
		}
		key := data[i+1 : end-1]
		if !plain {
			// Escapes, or UTF-8 (perhaps invalid, which JSON replaces with
			// U+FFFD): decode as encoding/json does, so keys round-trip.
			key = []byte(unquote(data[i:end]))
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return 0, invalidAt(i)
		}
		end, err := member(key, skipSpace(data, i+1))
		if err != nil {
			return 0, err
		}
		i = skipSpace(data, end)
		switch {
		case i < len(data) && data[i] == '}':
			return i + 1, nil
		case i < len(data) && data[i] == ',':
			i = skipSpace(data, i+1)
		default:
			return 0, invalidAt(i)
		}
	}
}

func invalidAt(i int) error { return fmt.Errorf("%w: invalid JSON at byte %d", ErrCorrupt, i) }

// trailing checks that only whitespace follows the value that ends at i.
func trailing(data []byte, i int) error {
	if skipSpace(data, i) != len(data) {
		return fmt.Errorf("%w: data after the JSON object", ErrCorrupt)
	}
	return nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// What scanValue returns for a value it refuses: not JSON, or (valid so
// far) nested deeper than maxDepth.
const (
	scanInvalid = -1
	scanTooDeep = -2
)

// scanValue validates the JSON value that starts at data[i] and returns
// the index just past it; scanInvalid if it is not valid JSON, and
// scanTooDeep if, valid up to there, it opens an array or object at
// maxDepth (json.Valid refuses it too). Anything negative is a refusal.
func scanValue(data []byte, i, depth int) int {
	if i >= len(data) {
		return scanInvalid
	}
	switch c := data[i]; {
	case c == '"':
		end, _ := scanString(data, i)
		return end
	case c == '-' || ('0' <= c && c <= '9'):
		return scanNumber(data, i)
	case c == 't':
		return scanLiteral(data, i, "true")
	case c == 'f':
		return scanLiteral(data, i, "false")
	case c == 'n':
		return scanLiteral(data, i, "null")
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return scanTooDeep
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == closing {
			return i + 1
		}
		for {
			if c == '{' {
				if i, _ = scanString(data, i); i < 0 {
					return scanInvalid
				}
				if i = skipSpace(data, i); i >= len(data) || data[i] != ':' {
					return scanInvalid
				}
				i = skipSpace(data, i+1)
			}
			if i = scanValue(data, i, depth+1); i < 0 {
				return i
			}
			i = skipSpace(data, i)
			switch {
			case i < len(data) && data[i] == closing:
				return i + 1
			case i < len(data) && data[i] == ',':
				i = skipSpace(data, i+1)
			default:
				return scanInvalid
			}
		}
	}
	return scanInvalid
}

// scanString validates the JSON string that starts at data[i] and returns
// the index just past it (-1 if invalid), and whether it is plain: ASCII
// without escapes, so that the bytes between its quotes are its value.
func scanString(data []byte, i int) (end int, plain bool) {
	if i >= len(data) || data[i] != '"' {
		return -1, false
	}
	plain = true
	for i++; i < len(data); {
		// Move i to the next quote, backslash or control byte, or, while
		// the string is plain, the next byte past ASCII: eight bytes at a
		// time, to the first flagged byte of the word (the lowest flag is
		// exact), then byte by byte in the last seven.
		for i+8 <= len(data) {
			x := binary.LittleEndian.Uint64(data[i : i+8])
			stop := specialBytes(x)
			if plain {
				stop |= x & highs
			}
			if stop != 0 {
				i += bits.TrailingZeros64(stop) / 8
				break
			}
			i += 8
		}
		if i >= len(data) {
			return -1, false
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, plain
		case c < 0x20:
			return -1, false
		case c != '\\':
			plain = plain && c < 0x80
			i++
			continue
		case i+1 >= len(data):
			return -1, false
		case strings.IndexByte(`"\\/bfnrt`, data[i+1]) >= 0:
			i += 2
		case data[i+1] == 'u':
			if i+6 > len(data) {
				return -1, false
			}
			for _, h := range data[i+2 : i+6] {
				if _, ok := unhex(h); !ok {
					return -1, false
				}
			}
			i += 6
		default:
			return -1, false
		}
		plain = false
	}
	return -1, false
}

// Word-at-a-time byte tests (eight bytes in a uint64): a byte below n, a
// zero byte. From "Bit Twiddling Hacks"; exact for n <= 128.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func byteBelow(x uint64, n byte) uint64 { return (x - ones*uint64(n)) & ^x & highs }
func zeroByte(x uint64) uint64          { return (x - ones) & ^x & highs }

// specialBytes flags (in their high bits) the bytes of eight that end a run
// of plain string bytes: a quote, a backslash or a control character. The
// lowest flag is exact; above it, a flag may be false.
func specialBytes(x uint64) uint64 {
	return byteBelow(x, 0x20) | zeroByte(x^(ones*'"')) | zeroByte(x^(ones*'\\'))
}

// scanNumber validates the JSON number that starts at data[i].
func scanNumber(data []byte, i int) int {
	digits := func(i int) int {
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
		return i
	}
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i = digits(i)
	default:
		return -1
	}
	if i < len(data) && data[i] == '.' {
		if j := digits(i + 1); j > i+1 {
			i = j
		} else {
			return -1
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if j := digits(i); j > i {
			i = j
		} else {
			return -1
		}
	}
	return i
}

func scanLiteral(data []byte, i int, lit string) int {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}
