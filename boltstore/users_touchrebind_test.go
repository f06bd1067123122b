package boltstore_test

import (
	"testing"

	"github.com/sessionkit/session/storetest"
)

// A request that only touches a session of ada's while another request
// rebinds it leaves no index entry of ada's (storetest.TouchOfReboundSession).
// On boltstore, which had no GetAndTouch, the touch recorded ada's entry
// again after the rebinding save had removed it; the touch of a user's
// session is now a GetAndTouch (boltstore is a session.DurableGetToucher:
// never on the load), which tells the manager the session is no longer
// ada's.
func TestTouchOfASessionReboundMeanwhileLeavesNoEntryForTheFormerUser(t *testing.T) {
	storetest.TouchOfReboundSession(t, func(t *testing.T) storetest.UserIndexStore {
		return newUserStore(t) // a bbolt file in t.TempDir()
	})
}
