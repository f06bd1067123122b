package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy on a loopback port in front of a server, for tests of
// a network that misbehaves: it forwards traffic both ways, and on demand
// delays it, stalls it (a blackhole) or drops every connection. A client
// connects to Proxy.Addr instead of the server's address.
type Proxy struct {
	// Addr is the proxy's host:port, on 127.0.0.1.
	Addr string

	target string
	ln     net.Listener

	mu     sync.Mutex
	delay  time.Duration
	stall  chan struct{} // not nil while stalled; closed by Heal
	drop   bool
	closed bool
	conns  map[net.Conn]struct{}
	lose   *lostReply   // armed by LoseReply; taken by the request it matches
	losing *lostReplies // set by LoseReplies until Heal
	lost   atomic.Int64 // answers lost, by LoseReply and LoseReplies
	// dropping is set by LoseRequests until Heal; dropped counts the
	// requests it lost.
	dropping *lostReplies
	dropped  atomic.Int64
	stallAt  []byte // armed by StallAt (lower case); taken by the request it matches
	// connStall is StallConnAt armed (match not nil) or in force (heal
	// not nil, closed by Heal and Close).
	connStall struct {
		match   []byte
		arrived chan struct{}
		heal    chan struct{}
	}
	refuse  *refusal     // set by Refuse until Heal (refuse.go)
	refused atomic.Int64 // commands answered by Refuse
	wg      sync.WaitGroup
	active  atomic.Int64 // goroutines running
}

// StartProxy starts a proxy to target (host:port) and closes it in t.Cleanup.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: proxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.spawn(p.accept)
	t.Cleanup(p.Close)
	return p
}

// Delay forwards every chunk of data d late, in each direction, from now on
// (a request and its answer are 2*d slower). Heal ends it.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Stall holds all traffic from now on, as a network that silently loses
// packets does: connections stay open (new ones are accepted) but nothing
// goes through either way until Heal, which delivers what was held, as TCP
// retransmission would.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stall == nil {
		p.stall = make(chan struct{})
	}
}

// Drop closes every connection now and each new one at once, until Heal: a
// server that resets connections.
func (p *Proxy) Drop() {
	p.mu.Lock()
	p.drop = true
	conns := p.takeConns()
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// lostReply is a LoseReply armed: the request it waits for and what to do
// once the server has answered it.
type lostReply struct {
	match []byte
	then  func()
}

// LoseReply makes the proxy lose the server's answer to the next request
// whose bytes hold match (compared without case, within one chunk of data
// as the client sent it): once the server's answer starts to arrive, so
// the server has run the request, the proxy calls then (if not nil) and
// closes that connection without passing the answer on, as a connection
// reset after a write went out. The client's next try goes through as
// usual. then runs on the proxy's goroutine while the connection is held:
// it may use the server directly (not through the proxy's connection
// whose answer it holds).
func (p *Proxy) LoseReply(match string, then func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lose = &lostReply{match: bytes.ToLower([]byte(match)), then: then}
}

// StallAt makes the proxy [Proxy.Stall] at the next request whose bytes
// hold match (compared without case, within one chunk of data as the
// client sent it), that request included: what went before passes, and
// that request, its answer and all later traffic are held until Heal. A
// server that stops answering in the middle of a client's work (after its
// connection and handshake), at a point the test chooses.
func (p *Proxy) StallAt(match string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stallAt = bytes.ToLower([]byte(match))
}

// StallConnAt makes the proxy stall the connection that carries the next
// request whose bytes hold match (compared without case, within one chunk
// of data as the client sent it), that request included: that
// connection's later traffic, both ways, is held until Heal (then
// delivered, as TCP retransmission would), while other connections, and
// new ones, go on as usual. A connection that went silently dead (its
// packets dropped, no reset) in the middle of a client's request. The
// channel returned is closed when the request arrives, and is held.
func (p *Proxy) StallConnAt(match string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.connStall.match = bytes.ToLower([]byte(match))
	p.connStall.arrived = make(chan struct{})
	return p.connStall.arrived
}

// stallConnIfMatch takes the stall armed by StallConnAt if request
// matches it, and returns the channel that ends it (nil otherwise).
func (p *Proxy) stallConnIfMatch(request []byte) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := &p.connStall
	if cs.match == nil || !bytes.Contains(bytes.ToLower(request), cs.match) {
		return nil
	}
	cs.match = nil
	close(cs.arrived)
	if p.closed { // Close released the stalls already
		ended := make(chan struct{})
		close(ended)
		return ended
	}
	if cs.heal == nil {
		cs.heal = make(chan struct{})
	}
	return cs.heal
}

// endConnStalls releases the connections StallConnAt stalled; p.mu is held.
func (p *Proxy) endConnStalls() {
	if p.connStall.heal != nil {
		close(p.connStall.heal)
		p.connStall.heal = nil
	}
}

// stallIfMatch starts the stall armed by StallAt if request matches it,
// disarming it.
func (p *Proxy) stallIfMatch(request []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stallAt == nil || !bytes.Contains(bytes.ToLower(request), p.stallAt) {
		return
	}
	p.stallAt = nil
	if p.stall == nil {
		p.stall = make(chan struct{})
	}
}

// lostReplies is LoseReplies or LoseRequests in force: the requests it
// counts and how many of them it has seen.
type lostReplies struct {
	match       []byte
	every, seen int
}

// LoseReplies makes the proxy lose the answer to every nth request whose
// bytes hold match (as LoseReply does for one: compared without case,
// within one chunk as the client sent it; the server runs the request and
// the proxy closes that connection instead of passing the answer on), from
// now until Heal. The first request lost is the nth matching one from now.
// An armed LoseReply takes its request first. LostReplies counts the
// answers lost.
func (p *Proxy) LoseReplies(match string, n int) {
	if n < 1 {
		panic("testserver: LoseReplies of every n < 1 requests")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.losing = &lostReplies{match: bytes.ToLower([]byte(match)), every: n}
}

// LostReplies returns the number of answers the proxy has lost, by
// LoseReply and LoseReplies, since it started.
func (p *Proxy) LostReplies() int { return int(p.lost.Load()) }

// LoseRequests makes the proxy lose every nth request whose bytes hold
// match (counted as LoseReplies counts them, on a count of its own), from
// now until Heal: it closes that connection instead of passing the request
// on, so the server never sees it, as a connection reset before the write
// went out. A client cannot tell that from a lost answer. A request that
// LoseRequests takes is not passed on, and so not counted by LoseReply or
// LoseReplies. LostRequests counts the requests lost.
func (p *Proxy) LoseRequests(match string, n int) {
	if n < 1 {
		panic("testserver: LoseRequests of every n < 1 requests")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropping = &lostReplies{match: bytes.ToLower([]byte(match)), every: n}
}

// LostRequests returns the number of requests LoseRequests has lost since
// the proxy started.
func (p *Proxy) LostRequests() int { return int(p.dropped.Load()) }

// nth reports whether lower, a request in lower case, is the nth that l
// counts. p.mu is held.
func (l *lostReplies) nth(lower []byte) bool {
	if l == nil || !bytes.Contains(lower, l.match) {
		return false
	}
	l.seen++
	return l.seen%l.every == 0
}

// takeRequest decides, under one lock and on one lower-case copy, what
// becomes of request: drop if LoseRequests loses it (then no loss counts
// it), else loss, the armed LoseReply if request matches it, disarming it,
// or a loss of LoseReplies if request is the nth that matches it.
func (p *Proxy) takeRequest(request []byte) (drop bool, loss *lostReply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dropping == nil && p.lose == nil && p.losing == nil {
		return false, nil
	}
	lower := bytes.ToLower(request)
	if p.dropping.nth(lower) {
		return true, nil
	}
	if p.lose != nil && bytes.Contains(lower, p.lose.match) {
		l := p.lose
		p.lose = nil
		return false, l
	}
	if p.losing.nth(lower) {
		return false, &lostReply{}
	}
	return false, nil
}

// Heal ends Delay, Stall, StallConnAt's stall, Drop, LoseReplies,
// LoseRequests and Refuse: traffic flows normally again. (An armed
// LoseReply stays armed.)
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay, p.drop, p.losing, p.dropping, p.refuse = 0, false, nil, nil, nil
	p.endConnStalls()
	if p.stall != nil {
		close(p.stall)
		p.stall = nil
	}
}

// Conns returns the number of open connections through the proxy (each
// counts its two sides once).
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Close stops the proxy, closes every connection and waits for its
// goroutines. Closing twice does nothing.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.endConnStalls()
	if p.stall != nil {
		close(p.stall)
		p.stall = nil
	}
	conns := p.takeConns()
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	p.wg.Wait()
}

// takeConns empties the set of open connections and returns them; p.mu is held.
func (p *Proxy) takeConns() []net.Conn {
	out := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	clear(p.conns)
	return out
}

// track adds c to the open connections, or reports false when it must be
// closed at once (dropping, or closed).
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drop || p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

// spawn runs f in a goroutine that Close waits for and Goroutines counts.
func (p *Proxy) spawn(f func()) {
	p.wg.Add(1)
	p.active.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.active.Add(-1)
		f()
	}()
}

// Goroutines returns the number of the proxy's goroutines, for a test that
// counts its own process's goroutines without the proxy's.
func (p *Proxy) Goroutines() int { return int(p.active.Load()) }

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				fmt.Printf("testserver: proxy accept: %v\n", err)
			}
			return
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		p.spawn(func() { p.serve(c) })
	}
}

// serve connects c to the target and pumps both ways until either side ends.
func (p *Proxy) serve(c net.Conn) {
	if err := p.gate(); err != nil { // a stalled network does not connect either
		p.untrack(c)
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil || !p.track(up) {
		p.untrack(c)
		c.Close()
		if up != nil {
			up.Close()
		}
		return
	}
	done := make(chan struct{}, 2)
	var pending atomic.Pointer[lostReply]  // a request of c's whose answer is to be lost
	var held atomic.Pointer[chan struct{}] // this connection's StallConnAt, until it ends
	pump := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if src == c {
					p.stallIfMatch(buf[:n]) // before the gate, which then holds it
				}
				if p.gate() != nil {
					break
				}
				if src == c && held.Load() == nil {
					if h := p.stallConnIfMatch(buf[:n]); h != nil {
						held.Store(&h)
					}
				}
				if h := held.Load(); h != nil {
					<-*h // until Heal or Close
				}
				if src == c {
					if reply := p.refusalOf(buf[:n]); reply != nil {
						p.refused.Add(1)
						if _, werr := c.Write(reply); werr != nil || err != nil {
							break
						}
						continue // the server never sees the request
					}
					drop, l := p.takeRequest(buf[:n])
					if drop {
						p.dropped.Add(1)
						break // the request is lost with the connection
					}
					if l != nil {
						pending.Store(l)
					}
				} else if l := pending.Swap(nil); l != nil {
					if l.then != nil {
						l.then()
					}
					p.lost.Add(1)
					break // the answer is lost with the connection
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}
	p.spawn(func() { pump(up, c) })
	p.spawn(func() { pump(c, up) })
	<-done
	c.Close()
	up.Close()
	<-done
	p.untrack(c, up)
}

// errProxyClosed stops a pump when the proxy closes during a stall.
var errProxyClosed = errors.New("testserver: proxy closed")

// gate waits while traffic is stalled, then sleeps the delay. It returns
// errProxyClosed when the proxy closed meanwhile.
func (p *Proxy) gate() error {
	for {
		p.mu.Lock()
		stall, delay, closed := p.stall, p.delay, p.closed
		p.mu.Unlock()
		if closed {
			return errProxyClosed
		}
		if stall != nil {
			<-stall
			continue
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		return nil
	}
}
