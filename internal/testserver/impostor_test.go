package testserver

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
)

// impostor listens on addr ("127.0.0.1:0" for a free port) and answers, as
// any server of this package would, the readiness probes of Redis (PING)
// and memcached (version), and accepts FerretDB's (a connection): another
// test's server that got the port first.
func impostor(t *testing.T, addr string) int {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch strings.TrimSpace(line) {
					case "PING":
						c.Write([]byte("+PONG\r\n"))
					case "version":
						c.Write([]byte("VERSION 1.6.0\r\n"))
					}
				}
			})
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

// pickPortsFirst makes launch try port first, then free ports as usual.
func pickPortsFirst(t *testing.T, port int) {
	var once sync.Once
	pickPort = func() (int, error) {
		p := 0
		once.Do(func() { p = port })
		if p != 0 {
			return p, nil
		}
		return freePort()
	}
	t.Cleanup(func() { pickPort = freePort })
}

// A port found free can be taken by another server (another test binary's)
// before the new server binds it. The new server then exits, but the
// readiness probe reached the other server and said ready: the test went on
// with a dead server's Server, talking to someone else's data.
func TestStartDoesNotTakeAnotherServerOnItsPortForItsOwn(t *testing.T) {
	for _, c := range []struct {
		name  string
		start func(t *testing.T) *Server
	}{
		{"redis", func(t *testing.T) *Server { return StartRedis(t) }},
		{"memcached", func(t *testing.T) *Server { return StartMemcached(t) }},
		{"ferretdb", func(t *testing.T) *Server { return StartMongo(t).Server }},
	} {
		t.Run(c.name, func(t *testing.T) {
			taken := impostor(t, "127.0.0.1:0")
			pickPortsFirst(t, taken)
			s := c.start(t)
			if s.Port == taken {
				t.Fatalf("%s started on port %d, which another server holds (running: %v)", c.name, taken, s.Running())
			}
			if !s.Running() {
				t.Fatalf("%s on %s is not running", c.name, s.Addr)
			}
		})
	}
}

// Restart on the same port, which another server took meanwhile, must fail
// rather than report the other server as the restarted one.
func TestRestartFailsWhenAnotherServerTookThePort(t *testing.T) {
	s := StartRedis(t)
	s.Kill()
	impostor(t, s.Addr)
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Restart(r)
	}()
	<-done
	if r.failed == "" {
		t.Fatalf("Restart on %s, held by another server, succeeded (running: %v)", s.Addr, s.Running())
	}
	if s.Running() {
		t.Errorf("a redis-server runs after the failed Restart")
	}
	t.Logf("Restart failed as it should: %s", r.failed)
}
