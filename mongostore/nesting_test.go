package mongostore

import (
	"bytes"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/jsondepth"
)

// A session may nest as deep in an embedded document as the manager's codec
// reads, and no deeper: one the codec reads (jsondepth.Max levels, the
// document itself the first) the store converts to a document and reads back
// as the same JSON; one level more, which the codec refuses as corrupt, the
// store refuses to write and reads as unreadable. Each side is asked, not the
// constant, so that the test fails if either bound drifts from the other.
func TestObjectSessionNestsExactlyAsDeepAsTheManagersCodecReads(t *testing.T) {
	for _, levels := range []int{jsondepth.Max - 1, jsondepth.Max, jsondepth.Max + 1} {
		// The document (with its cookie, which the codec requires), then
		// levels-1 more.
		in := []byte(`{"cookie":{},"a":` + strings.Repeat(`{"a":`, levels-2) + `{"n":1}` + strings.Repeat("}", levels-1))
		_, codecErr := session.JSONCodec{}.Decode(in)
		if reads := codecErr == nil; reads != (levels <= jsondepth.Max) {
			t.Errorf("the codec on a session nested %d levels: %v; want it read only up to %d levels", levels, codecErr, jsondepth.Max)
		}

		doc, writeErr := jsonDocument(in)
		if (writeErr == nil) != (codecErr == nil) {
			t.Errorf("a session nested %d levels: the store converts it to a document with error %v, the codec reads it with error %v; want both to take it or both to refuse it", levels, writeErr, codecErr)
		}
		if writeErr == nil {
			raw, err := bson.Marshal(bson.D{{Key: fieldExpires, Value: bson.DateTime(0)}, {Key: fieldSession, Value: doc}})
			if err != nil {
				t.Fatal(err)
			}
			if got, _, err := decode(raw); err != nil || !bytes.Equal(got, in) {
				t.Errorf("a session nested %d levels, written as a document, reads back as %.40q..., %v; want the JSON written", levels, got, err)
			}
		}

		got, _, readErr := decode(nested(levels - 1)) // nested(d) has d+1 levels
		if (readErr == nil) != (codecErr == nil) {
			t.Errorf("a stored document nested %d levels: the store reads %.40q..., %v, the codec reads its JSON with error %v; want both to read it or neither", levels, got, readErr, codecErr)
		}
	}
}
