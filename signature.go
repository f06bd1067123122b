package session

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxCookieValue bounds the cookie value we are willing to verify. Ids are
// 32 characters; express ids are too. Anything much longer is not ours.
const maxCookieValue = 1024

// sigLen is the length of base64(HMAC-SHA256) without padding.
const sigLen = 43

// maxCookieBytes is what browsers keep of a cookie: its name and value
// together may not exceed 4096 bytes (RFC 6265 section 6.1; RFC 6265bis
// makes browsers drop a longer one).
const maxCookieBytes = 4096

// maxIDLen is the longest id whose signed value ("s:" + id + "." +
// signature) verifyValue accepts.
const maxIDLen = maxCookieValue - len("s:.") - sigLen

// cookieBytes is the length of the session cookie's name=value pair for
// id, as cookieValue encodes it, with the signature's worst encoding (each
// of its characters that encodeURIComponent escapes, + and /, takes three).
func cookieBytes(name, id string) int {
	n := len(name) + len("=s%3A") + len(".") + 3*sigLen
	for i := 0; i < len(id); i++ {
		if uriUnreserved[id[i]] {
			n++
		} else {
			n += 3
		}
	}
	return n
}

// idCookieError says why id cannot make a session cookie that a browser
// keeps and that verifies when it comes back, or is nil.
func idCookieError(name, id string) error {
	switch {
	case !utf8.ValidString(id):
		// appendURIDecoded, as express's decodeURIComponent, refuses
		// escapes that are not UTF-8: the cookie would never verify.
		return errors.New("the id is not UTF-8, which the cookie's percent-encoding cannot carry back")
	case len(id) > maxIDLen:
		return fmt.Errorf("id of %d bytes is longer than the %d a session cookie carries", len(id), maxIDLen)
	}
	if n := cookieBytes(name, id); n > maxCookieBytes {
		return fmt.Errorf("id of %d bytes makes a cookie of up to %d bytes with its name %q; browsers keep at most %d", len(id), n, name, maxCookieBytes)
	}
	return nil
}

// signer signs and verifies session ids as cookie-signature does:
// "s:" + id + "." + base64(HMAC-SHA256(secret, id)) without "=" padding.
type signer struct {
	pools []sync.Pool // one pool of *macState per secret; [0] signs
}

// macState is a reusable HMAC with its scratch buffers, so that signing
// and verifying allocate nothing.
type macState struct {
	h   hash.Hash
	in  []byte
	sum []byte
}

func newSigner(secrets []string) *signer {
	s := &signer{pools: make([]sync.Pool, len(secrets))}
	for i, secret := range secrets {
		key := []byte(secret)
		s.pools[i].New = func() any {
			return &macState{h: hmac.New(sha256.New, key), in: make([]byte, 0, 64), sum: make([]byte, 0, sha256.Size)}
		}
	}
	return s
}

// mac writes base64(HMAC(secret i, id)) into dst.
func (s *signer) mac(i int, id []byte, dst *[sigLen]byte) {
	st := s.pools[i].Get().(*macState)
	st.h.Reset()
	st.in = append(st.in[:0], id...)
	st.h.Write(st.in)
	st.sum = st.h.Sum(st.sum[:0])
	base64.RawStdEncoding.Encode(dst[:], st.sum)
	s.pools[i].Put(st)
}

// cookieValue returns the signed value percent-encoded as encodeURIComponent
// would (what express-session sends): "s%3A" + id + "." + signature.
func (s *signer) cookieValue(id string) string {
	var sig [sigLen]byte
	var buf [64]byte
	s.mac(0, append(buf[:0], id...), &sig)
	return string(appendCookieValue(make([]byte, 0, 4+3*len(id)+1+3*sigLen), id, sig[:]))
}

// appendCookieValue appends the cookie value of id signed with sig, as
// cookieValue makes it, to b.
func appendCookieValue[T string | []byte](b []byte, id T, sig []byte) []byte {
	b = append(b, "s%3A"...)
	b = appendURIEncoded(b, id)
	b = append(b, '.')
	return appendURIEncoded(b, sig)
}

// unsign returns the id carried by a cookie value, which may be percent-encoded
// or raw. ok is false for anything that is not "s:<id>.<sig>" signed by one of
// the secrets; such a value is treated exactly as no cookie.
func (s *signer) unsign(value string) (id string, ok bool) {
	id, _, ok = s.verifyValue(value)
	return id, ok
}

// verifyValue is unsign that also tells whether value is current: exactly
// what cookieValue(id) returns (signed with the first secret, encoded as it
// encodes), so that a response can send it back without signing again.
func (s *signer) verifyValue(value string) (id string, current, ok bool) {
	if len(value) > 3*maxCookieValue {
		return "", false, false
	}
	// As express's cookie parser: decode the escapes; if that fails (a
	// malformed escape, or escapes that are not UTF-8), verify the raw value.
	// The decoded form goes to its own buffer, so that a decode that fails
	// half-way cannot overwrite the raw value it falls back to.
	var rawBuf, decBuf [128]byte
	v := append(rawBuf[:0], value...)
	if strings.IndexByte(value, '%') >= 0 {
		if dec, ok := appendURIDecoded(decBuf[:0], value); ok {
			v = dec
		}
	}
	if len(v) > maxCookieValue || len(v) < 2 || v[0] != 's' || v[1] != ':' {
		return "", false, false
	}
	v = v[2:]
	dot := bytes.LastIndexByte(v, '.')
	if dot <= 0 {
		return "", false, false
	}
	rawID, sig := v[:dot], v[dot+1:]
	if len(sig) != sigLen {
		return "", false, false
	}
	var want [sigLen]byte
	for i := range s.pools {
		s.mac(i, rawID, &want)
		if subtle.ConstantTimeCompare(want[:], sig) == 1 {
			if i == 0 {
				var buf [160]byte
				current = string(appendCookieValue(buf[:0], rawID, sig)) == value
			}
			return string(rawID), current, true
		}
	}
	return "", false, false
}

// uriUnreserved marks the bytes encodeURIComponent leaves alone:
// A-Z a-z 0-9 - _ . ! ~ * ' ( )
var uriUnreserved = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-_.!~*'()" {
		t[c] = true
	}
	return t
}()

// appendURIEncoded appends s, percent-encoded as encodeURIComponent does, to b.
func appendURIEncoded[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if uriUnreserved[c] {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// appendURIDecoded appends s, with its %XX escapes decoded, to b. Like
// JavaScript's decodeURIComponent, it fails on a malformed escape and on
// escapes that do not decode to UTF-8 (each run of consecutive escapes must
// be valid UTF-8 on its own). On failure, what it appended to b is garbage.
func appendURIDecoded(b []byte, s string) ([]byte, bool) {
	for {
		pct := strings.IndexByte(s, '%')
		if pct < 0 {
			return append(b, s...), true
		}
		b = append(b, s[:pct]...)
		s = s[pct:]
		run := len(b)
		for len(s) > 0 && s[0] == '%' {
			if len(s) < 3 {
				return nil, false
			}
			hi, ok1 := unhex(s[1])
			lo, ok2 := unhex(s[2])
			if !ok1 || !ok2 {
				return nil, false
			}
			b = append(b, hi<<4|lo)
			s = s[3:]
		}
		if !utf8.Valid(b[run:]) {
			return nil, false
		}
	}
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
