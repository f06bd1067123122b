package session

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// GetAs returns the value of key as a T. A value set by this request is
// returned as is when it is a T; a value loaded from the store (JSON) is
// decoded into a T, so GetAs[int] reads a counter and GetAs[Cart] a struct.
// ok is false when the key is missing or does not convert.
func GetAs[T any](s *Session, key string) (v T, ok bool) {
	if s == nil {
		return v, false
	}
	s.mu.Lock()
	sl, ok := s.values.lookup(key)
	s.mu.Unlock()
	x, isVal, raw, isRaw := sl.val, ok && sl.hasVal, sl.raw, ok && sl.raw != nil
	// A loaded value of a memstore's is the store's own bytes (memshare),
	// which an UnmarshalJSON of T's must not be given: it may write into
	// its input.
	shared := isRaw && s.rs != nil && s.rs.m.shared != nil
	if isVal {
		if t, isT := x.(T); isT {
			return t, true
		}
	}
	if isRaw {
		if t, ok := decodeScalar[T](raw); ok {
			return t, true
		}
	} else if isVal {
		var err error
		if raw, err = json.Marshal(x); err != nil {
			return v, false
		}
	} else {
		return v, false
	}
	if shared {
		raw = bytes.Clone(raw)
	}
	return decodeJSON[T](raw)
}

// decodeScalar decodes the common scalar types without encoding/json.
func decodeScalar[T any](raw []byte) (T, bool) {
	var v T
	switch p := any(&v).(type) {
	case *int:
		n, err := strconv.Atoi(string(raw))
		*p = n
		return v, err == nil
	case *int64:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		*p = n
		return v, err == nil
	case *float64:
		f, err := strconv.ParseFloat(string(raw), 64)
		*p = f
		return v, err == nil
	case *bool:
		b, ok := jsonBool(raw)
		*p = b
		return v, ok
	case *string:
		// A string without escapes, in UTF-8 (encoding/json replaces bad
		// bytes), and nothing after it: a custom Codec's value may have
		// white space around it.
		if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
			if body := raw[1 : n-1]; bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
				*p = string(body)
				return v, true
			}
		}
	}
	return v, false
}

// decodeJSON decodes raw into a T.
func decodeJSON[T any](raw []byte) (v T, ok bool) {
	if err := json.Unmarshal(raw, &v); err != nil {
		var zero T
		return zero, false
	}
	return v, true
}
