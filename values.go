package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// values holds a session's keys, sorted, each in two layers: the raw JSON
// as loaded from the store (slices of the loaded bytes, not copied), and the
// Go value, set by this request or decoded from raw on first read. A key set
// by this request has no raw until the next save encodes it, so raw is
// always the stored form of the current value when present.
type values struct {
	list sortedKeys[slot]
}

// slot is one key's value in its two layers.
type slot struct {
	raw    json.RawMessage // nil: set by this request, not encoded yet
	val    any
	hasVal bool // val holds the value (raw, if any, decoded)
}

func (v *values) has(k string) bool {
	_, ok := v.list.find(k)
	return ok
}

// lookup returns k's slot as it is.
func (v *values) lookup(k string) (slot, bool) {
	if i, ok := v.list.find(k); ok {
		return v.list[i].v, true
	}
	return slot{}, false
}

// raw returns k's stored JSON, or nil.
func (v *values) raw(k string) json.RawMessage {
	sl, _ := v.lookup(k)
	return sl.raw
}

// get returns the value of k, decoding its raw JSON on first read.
func (v *values) get(k string) (any, bool) {
	i, ok := v.list.find(k)
	if !ok {
		return nil, false
	}
	sl := &v.list[i].v
	if !sl.hasVal {
		x, err := decodeAny(sl.raw)
		if err != nil {
			return nil, false
		}
		sl.val, sl.hasVal = x, true
	}
	return sl.val, true
}

// same reports whether the slot's value is sameScalar with v, so that
// setting v over it changes nothing. A stored number or plain string is
// compared as its JSON, without decoding it into an any (an allocation
// each), and a stored value is not decoded at all for a v that no value
// is sameScalar with (a struct, a map).
func (sl *slot) same(v any) bool {
	if sl.hasVal {
		return sameScalar(sl.val, v)
	}
	switch b := v.(type) {
	case int, float64:
		if n, ok := plainInt(sl.raw); ok {
			return sameScalar(float64(n), v) // as decodeAny reads it
		}
	case string:
		if body, ok := plainStringBody(sl.raw); ok {
			return string(body) == b
		}
	case bool, nil:
	default:
		return false
	}
	old, err := decodeAny(sl.raw)
	return err == nil && sameScalar(old, v)
}

// set makes x the value of k; its raw JSON is made at the next save.
func (v *values) set(k string, x any) {
	v.list.put(k, slot{val: x, hasVal: true})
}

// putRaw sets k's stored JSON, as a load finds it.
func (v *values) putRaw(k string, raw json.RawMessage) {
	v.list.put(k, slot{raw: raw})
}

func (v *values) del(k string) {
	v.list.remove(k)
}

// keys returns every key, sorted, in a slice of the caller's.
func (v *values) keys() []string {
	keys := make([]string, len(v.list))
	for i, e := range v.list {
		keys[i] = e.key
	}
	return keys
}

// encode makes the raw JSON of the values set by this request, so that
// every key has its raw. depth is where a load reads the values
// (documentValueDepth, or customValueDepth): a value nested deeper than that
// load would read back is an error, as one json.Marshal refuses, since its
// stored session would be read as corrupt, its data lost. (Loaded values
// were read at that depth.) If some values cannot be encoded, the error is
// about the first of their keys in order, so that it is always the same.
func (v *values) encode(depth int) error {
	for i := range v.list {
		sl := &v.list[i].v
		if sl.raw != nil {
			continue
		}
		raw, err := marshalValue(sl.val)
		if err == nil && mayBeTooDeep(raw, depth) {
			err = checkValue(raw, depth)
		}
		if err == nil && !utf8.ValidString(v.list[i].key) {
			err = errKeyNotUTF8 // stored with U+FFFD for its bad bytes, it would load as another key
		}
		if str, ok := sl.val.(string); ok && err == nil && !utf8.ValidString(str) {
			err = errStringNotUTF8 // json.Marshal would store U+FFFD for its bad bytes
		}
		if err != nil {
			return fmt.Errorf("session: encode key %q: %w", v.list[i].key, err)
		}
		sl.raw = raw
	}
	return nil
}

// marshalValue is json.Marshal(x), the same bytes, with what a session
// value most often is written without reflection: nil, a bool, an int or
// int64, a float64 that holds an integer (a counter read back from JSON),
// a string that needs no escaping.
func marshalValue(x any) ([]byte, error) {
	switch x := x.(type) {
	case nil:
		return []byte("null"), nil
	case bool:
		return strconv.AppendBool(nil, x), nil
	case int:
		return strconv.AppendInt(nil, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(nil, x, 10), nil
	case float64:
		// encoding/json writes these in full ('f' format), as the
		// integer they hold, but for -0, which keeps its sign there.
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 && (x != 0 || !math.Signbit(x)) {
			return strconv.AppendInt(nil, int64(x), 10), nil
		}
	case string:
		if plainJSONString(x) {
			b := make([]byte, 0, len(x)+2)
			b = append(b, '"')
			b = append(b, x...)
			return append(b, '"'), nil
		}
	}
	return json.Marshal(x)
}

// errKeyNotUTF8 refuses a key that a JSON document cannot hold as it is.
var errKeyNotUTF8 = errors.New("the key is not valid UTF-8")

// errStringNotUTF8 refuses a string value that JSON cannot hold as it is
// (string(randomBytes)): it would read back with U+FFFD for its bad bytes.
// Encode such bytes (base64, or store a []byte, which JSON holds in base64).
var errStringNotUTF8 = errors.New("the string is not valid UTF-8: JSON would store it changed; store a []byte or base64 instead")

// rawMap returns every key's raw JSON as a Document's Values, after encode.
func (v *values) rawMap() map[string]json.RawMessage {
	if len(v.list) == 0 {
		return nil
	}
	m := make(map[string]json.RawMessage, len(v.list))
	for _, e := range v.list {
		m[e.key] = e.v.raw
	}
	return m
}

// valuesOf returns the values of a Document's Values map.
func valuesOf(raw map[string]json.RawMessage) values {
	var v values
	keys := slices.Sorted(maps.Keys(raw))
	v.list = make(sortedKeys[slot], len(keys))
	for i, k := range keys {
		v.list[i] = keyed[slot]{key: k, v: slot{raw: raw[k]}}
	}
	return v
}

// sortedKeys is a small map from string keys, held as a slice sorted by key:
// a session has few keys, which one allocation holds and a binary search
// finds, and a save writes them in order without sorting.
type sortedKeys[V any] []keyed[V]

type keyed[V any] struct {
	key string
	v   V
}

// find returns where k is, or where it would go, and whether it is there.
func (s sortedKeys[V]) find(k string) (int, bool) {
	lo, hi := 0, len(s)
	for lo < hi {
		if m := int(uint(lo+hi) >> 1); s[m].key < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(s) && s[lo].key == k
}

// put sets k to x.
func (s *sortedKeys[V]) put(k string, x V) {
	i, ok := s.find(k)
	switch {
	case ok:
		(*s)[i].v = x
	case *s == nil:
		*s = append(make(sortedKeys[V], 0, 4), keyed[V]{k, x})
	default:
		*s = slices.Insert(*s, i, keyed[V]{k, x})
	}
}

func (s *sortedKeys[V]) remove(k string) {
	if i, ok := s.find(k); ok {
		*s = slices.Delete(*s, i, i+1)
	}
}

// decodeAny decodes raw JSON (validated by the codec, see checkedCodec) as
// json.Unmarshal into an any does, with the scalars done directly. It never
// panics: bytes that are not JSON are an error.
func decodeAny(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: empty value", ErrCorrupt)
	}
	switch c := raw[0]; {
	case c == '"':
		if body, ok := plainStringBody(raw); ok {
			return string(body), nil
		}
	case c == '-' || ('0' <= c && c <= '9'):
		if n, ok := plainInt(raw); ok {
			return float64(n), nil
		}
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
			return f, nil
		}
	case string(raw) == "true":
		return true, nil
	case string(raw) == "false":
		return false, nil
	case string(raw) == "null":
		return nil, nil
	}
	var v any
	err := json.Unmarshal(raw, &v)
	return v, err
}

// plainStringBody returns the bytes between the quotes of raw, a JSON
// string that needs no decoding (printable ASCII, no escapes), which are
// its value.
func plainStringBody(raw []byte) ([]byte, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		if body := raw[1 : len(raw)-1]; plainASCII(body) && bytes.IndexByte(body, '"') < 0 {
			return body, true
		}
	}
	return nil, false
}

// checkedCodec checks what a custom Codec decodes, since the manager and
// Session trust a decoded document: a nil document, or a value that is not
// one JSON value, is ErrCorrupt, so that the manager logs it and the
// request gets a fresh session instead of a panic or a wrong value in Get.
// JSONCodec validates as it parses and is not wrapped.
type checkedCodec struct{ Codec }

func (c checkedCodec) Decode(data []byte) (*Document, error) {
	doc, err := c.Codec.Decode(data)
	if err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, fmt.Errorf("%w: the codec returned no document and no error", ErrCorrupt)
	}
	bad := ""
	for k, raw := range doc.Values {
		end := scanValue(raw, skipSpace(raw, 0), 0)
		if (end < 0 || skipSpace(raw, end) != len(raw)) && (bad == "" || k < bad) {
			bad = k // the first in key order, so that the error is always the same
		}
	}
	if bad != "" {
		return nil, fmt.Errorf("%w: the codec returned a value that is not JSON for key %q", ErrCorrupt, bad)
	}
	return doc, nil
}
