package interop

// The differential suite's flash scenarios: connect-flash 0.1.1 on the
// Express side (req.flash, after express-session), Session.Flash and
// Session.Flashes on the Go side, through the routes flash?kind=K&msg=M
// and flashes?kind=K of peer/diff.js and diffHandler. Adding and reading
// messages are the same decisions on both sides; reading none is not
// (#21: connect-flash's req.flash(kind) makes "flash": {} in the session,
// a change, where Flashes with no messages changes nothing, and Go deletes
// the key its last message leaves empty).
func init() {
	// The stored document with "flash": {} beside a's value, if any.
	const emptyFlash = `{"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/"},"flash":{}}`
	const emptyFlashA = `{"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/"},"a":"1","flash":{}}`
	diffScenarios = append(diffScenarios, []diffScenario{
		{"a flash message is stored and sent", "", "flash?kind=info&msg=hi; read", ""},
		{"flash messages of two kinds, one kind read", "", "flash?kind=info&msg=a; flash?kind=error&msg=b; flashes?kind=info; read", ""},
		{"a flash message is read once", "", "flash?kind=info&msg=hi; flashes?kind=info; flashes?kind=info",
			`#21: 2.body={"data":{"flash":{}},"msgs":["hi"]}/{"data":{},"msgs":["hi"]} 3.body={"data":{"flash":{}},"msgs":[]}/{"data":{},"msgs":[]} ` +
				`2.doc=` + emptyFlash + `/{"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/"}} ` +
				`3.doc=` + emptyFlash + `/{"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/"}}`},
		{"reading flash messages of a loaded session without any", "", "set?k=a&v=1; flashes?kind=info; read",
			`#21: 2.body={"data":{"a":"1","flash":{}},"msgs":[]}/{"data":{"a":"1"},"msgs":[]} 2.cookie=set/- 2.set=1/0 2.touch=0/1 3.body={"data":{"a":"1","flash":{}}}/{"data":{"a":"1"}} ` +
				`2.doc=` + emptyFlashA + `/{"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/"},"a":"1"} ` +
				`3.doc=` + emptyFlashA + `/{"cookie":{"originalMaxAge":N,"expires":"T","httpOnly":true,"path":"/"},"a":"1"}`},
		{"reading flash messages of a new session", "", "flashes?kind=info; read",
			`#21: 1.body={"data":{"flash":{}},"msgs":[]}/{"data":{},"msgs":[]} 1.cookie=set/- 1.set=1/0 2.body={"data":{"flash":{}}}/{"data":{}} 2.get=1/0 2.touch=1/0 ` +
				`1.doc=` + emptyFlash + `/- 1.docexpires=set/- 1.maxage=set/- 1.ttl=set/- 2.doc=` + emptyFlash + `/- 2.docexpires=set/- 2.maxage=set/- 2.ttl=set/-`},
	}...)
	loadTouchDifferences = append(loadTouchDifferences, []loadTouchDifference{
		{"flash messages of two kinds, one kind read", "", "touched, then saved", "2.touch=0/1 3.touch=0/1"},
		{"a flash message is read once", "", "touched, then saved", "2.touch=0/1"},
	}...)
}
