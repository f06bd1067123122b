package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// values holds a session's keys in two layers: the raw JSON as loaded from
// the store (the decoded document's own map, not copied), and Go values, set
// by this request or decoded from raw on first read. A key set by this
// request has no raw until the next save encodes it, so raw is always the
// stored form of the current value when present.
type values struct {
	raw map[string]json.RawMessage
	val map[string]any
}

func (v *values) has(k string) bool {
	if _, ok := v.raw[k]; ok {
		return true
	}
	_, ok := v.val[k]
	return ok
}

// get returns the value of k, decoding its raw JSON on first read.
func (v *values) get(k string) (any, bool) {
	if x, ok := v.val[k]; ok {
		return x, true
	}
	raw, ok := v.raw[k]
	if !ok {
		return nil, false
	}
	x, err := decodeAny(raw)
	if err != nil {
		return nil, false
	}
	v.cache(k, x)
	return x, true
}

func (v *values) cache(k string, x any) {
	if v.val == nil {
		v.val = make(map[string]any, 4)
	}
	v.val[k] = x
}

// set makes x the value of k; its raw JSON is made at the next save.
func (v *values) set(k string, x any) {
	delete(v.raw, k)
	v.cache(k, x)
}

func (v *values) del(k string) {
	delete(v.raw, k)
	delete(v.val, k)
}

// keys returns every key, sorted.
func (v *values) keys() []string {
	keys := make([]string, 0, len(v.raw)+len(v.val))
	for k := range v.raw {
		keys = append(keys, k)
	}
	for k := range v.val {
		if _, dup := v.raw[k]; !dup {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// encoded encodes the values set by this request and returns the raw map,
// which then holds every key. If some values cannot be encoded, the error is
// about the first of their keys in sorted order, so that it is always the same.
func (v *values) encoded() (map[string]json.RawMessage, error) {
	var badKey string
	var badErr error
	for k, x := range v.val {
		if _, ok := v.raw[k]; ok {
			continue
		}
		raw, err := json.Marshal(x)
		if err != nil {
			if badErr == nil || k < badKey {
				badKey, badErr = k, err
			}
			continue
		}
		if v.raw == nil {
			v.raw = make(map[string]json.RawMessage, len(v.val))
		}
		v.raw[k] = raw
	}
	if badErr != nil {
		return nil, fmt.Errorf("session: encode key %q: %w", badKey, badErr)
	}
	return v.raw, nil
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
		if len(raw) >= 2 && raw[len(raw)-1] == '"' {
			if body := raw[1 : len(raw)-1]; plainASCII(body) && bytes.IndexByte(body, '"') < 0 {
				return string(body), nil
			}
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
