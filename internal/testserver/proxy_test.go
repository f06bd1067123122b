package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// echoServer answers every line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	return recordingEchoServer(t, nil)
}

// recordingEchoServer is echoServer, calling got (if not nil) with each
// line it receives before it answers it.
func recordingEchoServer(t *testing.T, got func(line string)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if got != nil {
						got(line[:len(line)-1])
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dial connects to addr, closing the connection in t.Cleanup, and returns
// it with a reader of its answers.
func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// echo sends line on c and reads the answer within wait.
func echo(c net.Conn, r *bufio.Reader, line string, wait time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return got[:len(got)-1], nil
}

func TestProxyForwardsStallsHealsAndDrops(t *testing.T) {
	p := StartProxy(t, echoServer(t))
	c, r := dial(t, p.Addr)
	if got, err := echo(c, r, "one", 5*time.Second); err != nil || got != "one" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}

	p.Stall()
	if got, err := echo(c, r, "two", 100*time.Millisecond); err == nil {
		t.Fatalf("a stalled proxy let %q through", got)
	}
	p.Heal()
	// What was held is delivered after the heal, as TCP would.
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "two\n" {
		t.Fatalf("after the heal: %q, %v; want the held line", got, err)
	}

	p.Delay(50 * time.Millisecond)
	start := time.Now()
	if got, err := echo(c, r, "three", 5*time.Second); err != nil || got != "three" {
		t.Fatalf("delayed: %q, %v", got, err)
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Fatalf("a round trip through a 50ms delay each way took %v", took)
	}
	p.Heal()

	p.Drop()
	if _, err := echo(c, r, "four", 5*time.Second); err == nil {
		t.Fatal("a dropped connection still answered")
	}
	if c2, err := net.Dial("tcp", p.Addr); err == nil {
		c2.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c2.Read(make([]byte, 1)); err == nil {
			t.Fatal("a new connection while dropping was not closed")
		}
		c2.Close()
	}
	p.Heal()
	c3, r3 := dial(t, p.Addr)
	if got, err := echo(c3, r3, "five", 5*time.Second); err != nil || got != "five" {
		t.Fatalf("after healing the drop: %q, %v", got, err)
	}
}

func TestProxyLosesTheReplyToTheMatchingRequestOnly(t *testing.T) {
	p := StartProxy(t, echoServer(t))
	c, r := dial(t, p.Addr)
	ran := make(chan struct{}, 1)
	p.LoseReply("WRITE", func() { ran <- struct{}{} })
	if got, err := echo(c, r, "read", 5*time.Second); err != nil || got != "read" {
		t.Fatalf("a request that does not match: %q, %v; want its answer", got, err)
	}
	if got, err := echo(c, r, "a write", 5*time.Second); err == nil {
		t.Fatalf("the matching request got %q; want its answer lost with the connection", got)
	}
	select {
	case <-ran:
	default:
		t.Fatal("then did not run before the connection closed")
	}
	c2, r2 := dial(t, p.Addr)
	if got, err := echo(c2, r2, "a write", 5*time.Second); err != nil || got != "a write" {
		t.Fatalf("the next matching request: %q, %v; want its answer (the loss is used up)", got, err)
	}
}

// StallAt lets through what comes before the matching request, then holds
// it and everything after, on every connection, until Heal.
func TestProxyStallsAtTheMatchingRequest(t *testing.T) {
	p := StartProxy(t, echoServer(t))
	c, r := dial(t, p.Addr)
	p.StallAt("WRITE")
	if got, err := echo(c, r, "read", 5*time.Second); err != nil || got != "read" {
		t.Fatalf("a request before the matching one: %q, %v; want its answer", got, err)
	}
	if got, err := echo(c, r, "a write", 100*time.Millisecond); err == nil {
		t.Fatalf("the matching request got %q; want it held", got)
	}
	c2, r2 := dial(t, p.Addr)
	if got, err := echo(c2, r2, "read", 100*time.Millisecond); err == nil {
		t.Fatalf("a request after the stall, on another connection, got %q; want it held", got)
	}
	p.Heal()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "a write\n" {
		t.Fatalf("after the heal: %q, %v; want the held request's answer", got, err)
	}
	// The stall is used up: the next matching request goes through.
	if got, err := echo(c, r, "another write", 5*time.Second); err != nil || got != "another write" {
		t.Fatalf("the next matching request: %q, %v; want its answer", got, err)
	}
}

// StallConnAt holds the matching request and everything after on its
// connection alone, until Heal; other connections, old and new, go on.
func TestProxyStallsTheConnectionOfTheMatchingRequestOnly(t *testing.T) {
	p := StartProxy(t, echoServer(t))
	c, r := dial(t, p.Addr)
	other, otherR := dial(t, p.Addr)
	arrived := p.StallConnAt("WRITE")
	if got, err := echo(c, r, "read", 5*time.Second); err != nil || got != "read" {
		t.Fatalf("a request before the matching one: %q, %v; want its answer", got, err)
	}
	select {
	case <-arrived:
		t.Fatal("the channel closed before the matching request arrived")
	default:
	}
	if got, err := echo(c, r, "a write", 100*time.Millisecond); err == nil {
		t.Fatalf("the matching request got %q; want it held", got)
	}
	select {
	case <-arrived:
	default:
		t.Fatal("the channel is still open after the matching request arrived")
	}
	if got, err := echo(other, otherR, "a write too", 5*time.Second); err != nil || got != "a write too" {
		t.Fatalf("another connection: %q, %v; want its answer", got, err)
	}
	c2, r2 := dial(t, p.Addr)
	if got, err := echo(c2, r2, "read", 5*time.Second); err != nil || got != "read" {
		t.Fatalf("a new connection: %q, %v; want its answer", got, err)
	}
	p.Heal()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "a write\n" {
		t.Fatalf("after the heal: %q, %v; want the held request's answer", got, err)
	}
	if got, err := echo(c, r, "another write", 5*time.Second); err != nil || got != "another write" {
		t.Fatalf("the next matching request: %q, %v; want its answer (the stall is used up)", got, err)
	}
}

func TestProxyLosesEveryNthMatchingReplyUntilHealed(t *testing.T) {
	p := StartProxy(t, echoServer(t))
	var c net.Conn
	var r *bufio.Reader
	redial := func() {
		if c != nil {
			c.Close()
		}
		c, r = dial(t, p.Addr)
	}
	redial()
	p.LoseReplies("WRITE", 3)
	var lost []int
	for i := 1; i <= 9; i++ {
		if got, err := echo(c, r, "read", 5*time.Second); err != nil || got != "read" {
			t.Fatalf("a request that does not match, before write %d: %q, %v; want its answer", i, got, err)
		}
		line := fmt.Sprintf("write %d", i)
		got, err := echo(c, r, line, 5*time.Second)
		switch {
		case err != nil:
			lost = append(lost, i)
			redial() // the loss closed the connection
		case got != line:
			t.Fatalf("write %d answered %q", i, got)
		}
	}
	if want := []int{3, 6, 9}; !slices.Equal(lost, want) {
		t.Fatalf("lost the answers to writes %v; want %v (every third)", lost, want)
	}
	if n := p.LostReplies(); n != 3 {
		t.Fatalf("LostReplies() = %d; want 3", n)
	}
	p.Heal()
	for i := 10; i <= 15; i++ {
		line := fmt.Sprintf("write %d", i)
		if got, err := echo(c, r, line, 5*time.Second); err != nil || got != line {
			t.Fatalf("after the heal, write %d: %q, %v; want its answer", i, got, err)
		}
	}
	if n := p.LostReplies(); n != 3 {
		t.Fatalf("LostReplies() after the heal = %d; want 3", n)
	}
}

func TestProxyLosesEveryNthMatchingRequestBeforeTheServerSeesIt(t *testing.T) {
	var mu sync.Mutex
	var received []string
	p := StartProxy(t, recordingEchoServer(t, func(line string) {
		mu.Lock()
		defer mu.Unlock()
		received = append(received, line)
	}))
	p.LoseRequests("WRITE", 2)
	var lost []int
	for i := 1; i <= 4; i++ {
		c, r := dial(t, p.Addr)
		if got, err := echo(c, r, "read", 5*time.Second); err != nil || got != "read" {
			t.Fatalf("a request that does not match, before write %d: %q, %v; want its answer", i, got, err)
		}
		line := fmt.Sprintf("write %d", i)
		if got, err := echo(c, r, line, 5*time.Second); err != nil {
			lost = append(lost, i)
		} else if got != line {
			t.Fatalf("write %d answered %q", i, got)
		}
		c.Close()
	}
	if want := []int{2, 4}; !slices.Equal(lost, want) {
		t.Fatalf("lost writes %v; want %v (every second)", lost, want)
	}
	if n := p.LostRequests(); n != 2 {
		t.Fatalf("LostRequests() = %d; want 2", n)
	}
	if n := p.LostReplies(); n != 0 {
		t.Fatalf("LostReplies() = %d; want 0: the server answered every request it got", n)
	}
	mu.Lock()
	got := slices.Clone(received)
	mu.Unlock()
	if want := []string{"read", "write 1", "read", "read", "write 3", "read"}; !slices.Equal(got, want) {
		t.Fatalf("the server received %q; want %q (the lost writes never reached it)", got, want)
	}
	p.Heal()
	c, r := dial(t, p.Addr)
	for i := 5; i <= 6; i++ {
		line := fmt.Sprintf("write %d", i)
		if got, err := echo(c, r, line, 5*time.Second); err != nil || got != line {
			t.Fatalf("after the heal, write %d: %q, %v; want its answer", i, got, err)
		}
	}
}

// The address of a server that is down refuses connections, and holds its
// port: no listener can be given it while the test runs.
func TestRefusingAddrRefusesAndKeepsItsPort(t *testing.T) {
	addr := RefusingAddr(t)
	if l, err := net.Listen("tcp", addr); err == nil {
		l.Close()
		t.Fatalf("a listener could bind %s", addr)
	}
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
		t.Fatalf("a connection to %s was accepted", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
}
