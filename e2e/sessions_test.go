package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestLogOutOtherSessionsInChromium logs one user in from two browsers with
// separate profiles (two devices, as far as cookies go), ends the other
// session from the first browser's "Your sessions" section, and checks that
// the second browser is logged out on its next request while the first
// stays logged in.
func TestLogOutOtherSessionsInChromium(t *testing.T) {
	chromium := findChromium(t)
	base := startDemo(t)
	laptop := &tab{t: t, ctx: startBrowser(t, chromium), base: base}
	phone := &tab{t: t, ctx: startBrowser(t, chromium), base: base}

	for _, b := range []*tab{laptop, phone} {
		b.do("open the demo", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("visits")))
		b.do("fill in the name", chromedp.SendKeys(chromedp.ID("name"), "Grace"))
		b.submit("log in", chromedp.Click(chromedp.ID("login")))
		if u := b.text("user"); u != "Grace" {
			t.Fatalf("after login: user shows %q, want Grace", u)
		}
	}
	laptop.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("sessions")))
	if n := laptop.count("tr.user-session"); n != 2 {
		t.Fatalf("Your sessions lists %d sessions, want the laptop's and the phone's", n)
	}
	if n := laptop.count("tr.user-session.current"); n != 1 {
		t.Fatalf("%d sessions marked as this one, want 1", n)
	}
	phoneID := phone.text("session-id")

	laptop.submit("log out other sessions", chromedp.Click(chromedp.ID("logout-others")))
	if u := laptop.text("user"); u != "Grace" {
		t.Errorf("after logging out the others: the laptop shows user %q, want still Grace", u)
	}
	if n := laptop.count("tr.user-session"); n != 1 {
		t.Errorf("after logging out the others: %d sessions listed, want only this one", n)
	}

	phone.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("visits")))
	if n := phone.count("#user"); n != 0 {
		t.Errorf("the phone is still logged in as %q", phone.text("user"))
	}
	if id := phone.text("session-id"); id == phoneID {
		t.Errorf("the phone still has its ended session %s", id)
	}
}
