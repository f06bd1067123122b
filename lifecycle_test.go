package session

import (
	"testing"
	"time"
)

// TestDecideMakesExpressSessionsDecisions pins the end-of-request decision,
// row by row, as express-session 1.19's shouldSave, shouldTouch,
// shouldSetCookie and shouldDestroy make it. decisions_test.go checks the
// same rows end to end, through the middleware and a store.
func TestDecideMakesExpressSessionsDecisions(t *testing.T) {
	const id, other = "current", "cookie"
	loaded := loadedState(id, time.Time{}, "1", true, false).marks               // resave false
	loadedResave := loadedState(id, time.Time{}, "1", true, true).marks          // resave true
	fresh := newState(id, time.Time{}).marks                                     // no cookie, or nothing stored
	touchedAlready := loaded | markStoreTouched                                  // the commit before the headers touched it
	modifiedLoaded := (loaded | markModified) &^ markClean                       // loaded, then a key set
	modifiedFresh := (fresh | markModified) &^ markClean                         // new, then a key set
	savedFresh := fresh | markModified | markSavedOnce | markClean | markInStore // new, saved by Save
	for _, c := range []struct {
		name string
		in   decisionInput
		want decision
	}{
		{"SaveUninitializedStoresAndSendsAnUntouchedNewSession",
			decisionInput{phase: phaseNew, marks: fresh, id: id, originalID: id, saveUninitialized: true},
			decision{save: true, setCookie: true}},
		{"SaveUninitializedDoesNotSaveAnUnmodifiedLoadedSession",
			decisionInput{phase: phaseLoaded, marks: loaded, id: id, originalID: id, cookieID: id, saveUninitialized: true},
			decision{touch: true}},
		{"WithoutSaveUninitializedAnUntouchedNewSessionIsNeitherStoredNorSent",
			decisionInput{phase: phaseNew, marks: fresh, id: id, originalID: id},
			decision{}},
		{"ResaveFalseOnlyTouchesAnUnmodifiedSession",
			decisionInput{phase: phaseLoaded, marks: loaded, id: id, originalID: id, cookieID: id},
			decision{touch: true}},
		{"ResaveTrueWritesAnUnmodifiedSessionBack",
			decisionInput{phase: phaseLoaded, marks: loadedResave, id: id, originalID: id, cookieID: id},
			decision{save: true}},
		{"TouchHappensOncePerRequest",
			decisionInput{phase: phaseLoaded, marks: touchedAlready, id: id, originalID: id, cookieID: id},
			decision{}},
		{"ModifiedNewSessionIsStoredAndSent",
			decisionInput{phase: phaseNew, marks: modifiedFresh, id: id, originalID: id},
			decision{save: true, setCookie: true}},
		{"NewSessionSavedDuringTheRequestIsNotSavedAgain",
			decisionInput{phase: phaseNew, marks: savedFresh, id: id, originalID: id},
			decision{setCookie: true}},
		{"ForgedOrUnknownCookieGetsANewSession",
			decisionInput{phase: phaseNew, marks: modifiedFresh, id: id, originalID: id, cookieID: other},
			decision{save: true, setCookie: true}},
		{"UnmodifiedSessionSendsNoCookieWithoutRolling",
			decisionInput{phase: phaseLoaded, marks: loaded, id: id, originalID: id, cookieID: id, hasExpiry: true},
			decision{touch: true}},
		{"RollingSendsTheCookieOnEveryResponse",
			decisionInput{phase: phaseLoaded, marks: loaded, id: id, originalID: id, cookieID: id, rolling: true},
			decision{touch: true, setCookie: true}},
		{"ModifiedSessionWithExpirySendsTheCookie",
			decisionInput{phase: phaseLoaded, marks: modifiedLoaded, id: id, originalID: id, cookieID: id, hasExpiry: true},
			decision{save: true, setCookie: true}},
		{"BrowserSessionCookieIsNotResentWhenOnlyDataChanges",
			decisionInput{phase: phaseLoaded, marks: modifiedLoaded, id: id, originalID: id, cookieID: id},
			decision{save: true}},
		{"RenewedSessionIsSavedAndItsCookieSent",
			decisionInput{phase: phaseRenewed, marks: modifiedFresh, id: "new", originalID: id, cookieID: id},
			decision{save: true, setCookie: true}},
		{"DestroyWithSaveUninitializedClearsTheCookieAndStoresNothing",
			decisionInput{phase: phaseDestroyed, marks: fresh, id: "new", originalID: "new", cookieID: id, saveUninitialized: true},
			decision{clearCookie: true}},
		{"DestroyWithoutSaveUninitializedClearsTheCookie",
			decisionInput{phase: phaseDestroyed, marks: fresh, id: "new", originalID: "new", cookieID: id},
			decision{clearCookie: true}},
		{"DestroyWithoutACookieSendsNothing",
			decisionInput{phase: phaseDestroyed, marks: fresh, id: "new", originalID: "new"},
			decision{}},
		{"ChangedAfterDestroyIsANewSession",
			decisionInput{phase: phaseDestroyed, marks: modifiedFresh, id: "new", originalID: "new", cookieID: id},
			decision{save: true, setCookie: true}},
		// sessionkit's own: the empty session after a login that a newer
		// one ended is gone, changed or not (markLoginLost).
		{"ChangedAfterALostLoginIsNeitherStoredNorSent",
			decisionInput{phase: phaseDestroyed, marks: modifiedFresh | markLoginLost, id: "new", originalID: "new", cookieID: id, saveUninitialized: true},
			decision{}},
		// sessionkit's own: a Destroy after a login that a newer one
		// ended, whose cookie the client may hold (markClientGone).
		{"DestroyAfterALostLoginKeepsTheClientsCookie",
			decisionInput{phase: phaseDestroyed, marks: fresh | markClientGone, id: "new", originalID: "new", cookieID: id},
			decision{}},
		{"ChangedAfterDestroyAfterALostLoginIsANewSession",
			decisionInput{phase: phaseDestroyed, marks: modifiedFresh | markClientGone, id: "new", originalID: "new", cookieID: id},
			decision{save: true, setCookie: true}},
		// sessionkit's own: the empty session after a login that failed
		// at its trim after RenewID, which left the client's session.
		{"AFailedLoginKeepsTheClientsCookie",
			decisionInput{phase: phaseDestroyed, marks: fresh, id: "new", originalID: "new", cookieID: id, clientKept: true},
			decision{}},
		{"ChangedAfterAFailedLoginIsANewSession",
			decisionInput{phase: phaseDestroyed, marks: modifiedFresh, id: "new", originalID: "new", cookieID: id, clientKept: true},
			decision{save: true, setCookie: true}},
		{"UnsetKeepLeavesTheStoredSession",
			decisionInput{phase: phaseUnset, marks: modifiedLoaded, id: id, originalID: id, cookieID: id, rolling: true},
			decision{}},
		{"UnsetDestroyDeletesTheStoredSession",
			decisionInput{phase: phaseUnset, marks: loaded, id: id, originalID: id, cookieID: id, unsetDestroy: true},
			decision{destroy: true}},
		{"UnsetDestroyDeletesOnlyOnce",
			decisionInput{phase: phaseUnset, marks: loaded | markUnsetDestroyed, id: id, originalID: id, cookieID: id, unsetDestroy: true},
			decision{}},
		{"UnsetDestroyOfASessionNeverStoredDeletesNothing",
			decisionInput{phase: phaseUnset, marks: fresh, id: id, originalID: id, unsetDestroy: true},
			decision{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := decide(c.in); got != c.want {
				t.Errorf("decide(%+v)\n = %+v\nwant %+v", c.in, got, c.want)
			}
		})
	}
}

// TestSessionStateMovesOnlyForward checks the state changes that the
// decision relies on: a save makes the session clean and stored, a change
// makes it dirty, a renewal forgets the store.
func TestSessionStateMovesOnlyForward(t *testing.T) {
	st := loadedState("a", time.Time{}, "1", true, false)
	st.changed()
	if !st.has(markModified) || st.has(markClean) {
		t.Fatalf("after a change: marks %b, want modified and not clean", st.marks)
	}
	st.saved("2")
	if !st.has(markClean|markInStore|markSavedOnce|markStoreTouched) || st.version != "2" || !st.has(markKnowVersion) {
		t.Fatalf("after a save: marks %b version %q", st.marks, st.version)
	}
	st.saved("")
	if st.has(markKnowVersion) {
		t.Fatal("a save that returned no version left the old one as known")
	}
	st.renewed("b", time.Unix(1, 0))
	if st.phase != phaseRenewed || st.id != "b" || st.originalID != "a" || st.has(markInStore) || st.has(markClean) || !st.has(markKnowVersion) || st.version != "" {
		t.Fatalf("after a renewal: %+v", st)
	}
}
