package session

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// With several values that cannot be encoded, the save error always names
// the same key (the first in sorted order), whatever the order they were set in.
func TestEncodeErrorNamesTheFirstBadKeyEveryTime(t *testing.T) {
	for range 50 {
		var v values
		v.set("c", make(chan int))
		v.set("ok", 1)
		v.set("a", func() {})
		v.set("b", complex(1, 2))
		err := v.encode(documentValueDepth)
		if err == nil || !strings.Contains(err.Error(), `key "a"`) {
			t.Fatalf("encode() = %v, want the error about key \"a\"", err)
		}
	}
}

// Keys set in any order, some deleted again, come back from the store all
// there, in order, each with its value.
func TestManyKeysSurviveASaveAndALoad(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	keys := rand.Perm(500)
	b := newBrowser(t, m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		for _, k := range keys {
			s.Set(fmt.Sprintf("k%03d", k), k)
		}
		for k := 0; k < 500; k += 3 {
			s.Delete(fmt.Sprintf("k%03d", k))
		}
	})))
	b.get("/")
	var want []string
	for k := range 500 {
		if k%3 != 0 {
			want = append(want, fmt.Sprintf("k%03d", k))
		}
	}
	b.h = m.Handler(handle(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if got := s.Keys(); !slices.Equal(got, want) {
			t.Fatalf("keys after a load: %d, want %d in order", len(got), len(want))
		}
		for _, k := range want {
			if n, ok := GetAs[int](s, k); !ok || fmt.Sprintf("k%03d", n) != k {
				t.Fatalf("%s = %d, %v", k, n, ok)
			}
		}
	}))
	b.get("/")
}

// A document written by express has its keys in insertion order, and JSON
// allows a key twice: the last one counts, as in encoding/json.
func TestKeysOutOfOrderAndRepeatedLoadAsEncodingJSONReadsThem(t *testing.T) {
	var v values
	data := []byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"b":1,"a":2,"c":{"x":1},"b":3}`)
	if err := decodeJSONDocument(data, &Document{}, &cookieValues{}, &v); err != nil {
		t.Fatal(err)
	}
	if got := v.keys(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("keys %q", got)
	}
	if got, _ := v.get("b"); got != 3.0 {
		t.Fatalf("b = %v, want the last, 3", got)
	}
}
