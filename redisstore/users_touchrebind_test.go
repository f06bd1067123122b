package redisstore_test

import (
	"testing"

	"github.com/sessionkit/session/storetest"
)

// A request that only touches a session of ada's while another request
// rebinds it leaves no index entry of ada's (storetest.TouchOfReboundSession):
// its touch recorded ada's entry again after the rebinding save had removed
// it, and DestroyUserSessions(ada) from a manager that cannot read the
// session ended it.
func TestTouchOfASessionReboundMeanwhileLeavesNoEntryForTheFormerUser(t *testing.T) {
	client := standalone(t)
	storetest.TouchOfReboundSession(t, func(t *testing.T) storetest.UserIndexStore {
		return newStore(client)
	})
}
