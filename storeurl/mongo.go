package storeurl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/address"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/mongostore"
)

// The mongodb and mongodb+srv schemes open a mongostore:
//
//	mongodb://[user:pass@]host:27017[,host2:27017]/db
//
// The database is required. The store's query parameters, all optional,
// are those of mongoParams. Every other parameter is the driver's
// (replicaSet, authSource, tls, timeoutMS, ...; see the MongoDB connection
// string documentation), passed on in the URL's order for the driver to
// judge. The driver ignores an option it does not know, so a store
// parameter in the driver's camelCase (cleanupInterval, ttlIndex) or in
// another letter case is refused, naming the store's spelling, and so is
// any other parameter that neither the store nor the driver knows (a
// misspelt colection= opened the default collection). Open pings the server with its context, so a wrong address fails
// at once (once every host of the URL has refused the connection, where the
// driver would go on selecting a server for its serverSelectionTimeoutMS,
// 30 s; a URL that sets serverSelectionTimeoutMS waits that long for a
// server, one still starting, say), then finds nothing by _id in the collection and in the user
// index collection, so that a database or collection name the server
// refuses fails at once too, and with ttl_index=true creates the TTL
// indexes within it (mongostore.NewContext). The store deletes expired
// sessions every 15 minutes (mongostore.DefaultCleanupInterval), unless
// cleanup_interval says otherwise or ttl_index=true leaves it to the
// server. The returned closer stops the cleanup and
// disconnects the client, closing the connections in use (a request still
// running fails); it waits for the disconnection at most 5 seconds, then
// returns an error wrapping context.DeadlineExceeded and lets it go on in
// the background (on a server that stopped answering, the driver waits up
// to connectTimeoutMS for each check of its monitor).
func init() {
	register("mongodb", openMongo, mongoParams)
	register("mongodb+srv", openMongo, mongoParams)
}

// mongoURL is a parsed mongodb URL: the driver's connection string, and
// the store's database, collection and options.
type mongoURL struct {
	uri, db, collection string
	opts                []mongostore.Option
}

// mongoParams lists the store's query parameters, taken out of the URL
// before the driver parses it.
var mongoParams = paramTable[mongoURL]{
	stringParam("collection", "the collection (connect-mongo's default: sessions)", func(p *mongoURL, v string) error {
		if v == "" {
			return fmt.Errorf("empty collection name")
		}
		p.collection = v
		return nil
	}),
	durationParam("default_ttl", positive, "lifetime of a session without expiry", func(p *mongoURL, d time.Duration) error {
		return option(mongostore.WithDefaultTTL)(&p.opts, d)
	}),
	durationParam("cleanup_interval", zeroAllowed, "delete expired sessions this often (default 15m, none with ttl_index=true; 0 turns it off)", func(p *mongoURL, d time.Duration) error {
		return option(mongostore.WithCleanupInterval)(&p.opts, d)
	}),
	boolParam("ttl_index", "create a TTL index on expires, so that the server deletes expired sessions instead (not on FerretDB v1)", func(p *mongoURL, on bool) error {
		if on {
			p.opts = append(p.opts, mongostore.WithTTLIndex())
		}
		return nil
	}),
	boolParam("last_modified", "write lastModified, as connect-mongo with touchAfter", func(p *mongoURL, on bool) error {
		if on {
			p.opts = append(p.opts, mongostore.WithLastModified())
		}
		return nil
	}),
	boolParam("stringify", "false stores the session as a document, as connect-mongo with stringify: false", func(p *mongoURL, v bool) error {
		return option(mongostore.WithStringify)(&p.opts, v)
	}),
}

func openMongo(ctx context.Context, u *url.URL) (session.Store, io.Closer, error) {
	p, err := parseMongoURL(u)
	if err != nil {
		return nil, nil, err
	}
	copts := options.Client().ApplyURI(p.uri)
	pingCtx, stopPing := context.WithCancelCause(ctx)
	defer stopPing(nil)
	refused := newRefusals(copts.Hosts, stopPing)
	if copts.ServerSelectionTimeout == nil {
		// A URL that sets serverSelectionTimeoutMS asks to wait that
		// long for a server, say one that is still starting.
		copts.SetServerMonitor(&event.ServerMonitor{ServerHeartbeatFailed: refused.heartbeatFailed})
	}
	client, err := mongo.Connect(copts)
	if err != nil {
		return nil, nil, err
	}
	if err := client.Ping(pingCtx, readpref.Primary()); err != nil {
		_ = disconnectWithin(ctx, ctx, client)
		if cause := context.Cause(pingCtx); errors.Is(cause, errRefused) {
			err = cause
		}
		return nil, nil, fmt.Errorf("ping: %w", err)
	}
	refused.done()
	coll := client.Database(p.db).Collection(p.collection)
	if err := checkNamespace(ctx, coll); err != nil {
		_ = disconnectWithin(ctx, ctx, client)
		return nil, nil, err
	}
	st, err := mongostore.NewContext(ctx, coll, p.opts...)
	if err != nil {
		_ = disconnectWithin(ctx, ctx, client)
		return nil, nil, err
	}
	// The user index collection only matters once the app logs users in,
	// and a role may grant the sessions' collection alone: only a name
	// the server refuses fails Open.
	var se mongo.ServerError
	if err := checkNamespace(ctx, coll.Database().Collection(st.UsersCollection())); errors.As(err, &se) && se.HasErrorCode(invalidNamespace) {
		_ = st.Close()
		_ = disconnectWithin(ctx, ctx, client)
		return nil, nil, fmt.Errorf("%w (the user index collection: the collection's name plus %q)", err, strings.TrimPrefix(st.UsersCollection(), p.collection))
	}
	return st, closerFunc(func() error {
		_ = st.Close()
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		// Disconnect's own context has no deadline: the driver then
		// closes the connections in use at once (with a deadline it
		// would wait for them, polling without pause, until it passed).
		if err := disconnectWithin(ctx, context.Background(), client); err != nil {
			return fmt.Errorf("storeurl: disconnect the mongodb client: %w", err)
		}
		return nil
	}), nil
}

// errRefused is the cause with which refusals ends Open's ping.
var errRefused = errors.New("every host of the URL refused the connection")

// refusals ends Open's ping (stop) once every host of the URL has refused
// the connection, as the other schemes' Open fails at once then: the
// driver would go on selecting a server, its heartbeats refused every half
// second, until Open's deadline or its serverSelectionTimeoutMS (30 s),
// saying nothing meanwhile. A host that answers, or fails otherwise (a
// timeout, a name that does not resolve), leaves the ping to the driver.
// Hosts are the URL's, matched with the host of a heartbeat's connection id
// ("host:port[-n]"), both in the driver's canonical form; a mongodb+srv
// URL's, resolved by the driver, are matched the same way.
type refusals struct {
	hosts []string
	stop  context.CancelCauseFunc

	mu      sync.Mutex
	over    bool
	refused map[string]bool
}

// newRefusals watches hosts, which it takes in the driver's canonical form
// (lower case, with the default port when the URL gives none), as the
// driver names them.
func newRefusals(hosts []string, stop context.CancelCauseFunc) *refusals {
	r := &refusals{stop: stop}
	for _, h := range hosts {
		r.hosts = append(r.hosts, address.Address(h).String())
	}
	return r
}

// heartbeatFailed is the client's ServerHeartbeatFailed monitor.
func (r *refusals) heartbeatFailed(e *event.ServerHeartbeatFailedEvent) {
	if !errors.Is(e.Failure, syscall.ECONNREFUSED) {
		return
	}
	host := e.ConnectionID
	if i := strings.LastIndex(host, "[-"); i >= 0 {
		host = host[:i]
	}
	host = address.Address(host).String()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.over || !slices.Contains(r.hosts, host) {
		return
	}
	if r.refused == nil {
		r.refused = make(map[string]bool)
	}
	r.refused[host] = true
	if len(r.refused) == len(r.hosts) {
		r.over = true
		r.stop(fmt.Errorf("%w: %w", errRefused, e.Failure))
	}
}

// done ends the watch once the ping has succeeded: a refusal later (a
// restart of the server) is the driver's business.
func (r *refusals) done() {
	r.mu.Lock()
	r.over = true
	r.mu.Unlock()
}

// checkNamespace asks the server for a document of coll (by _id, which
// finds nothing and creates nothing), so that a database or collection
// name it refuses (a dot, a space or a $ in a database name, a $ in a
// collection name, a name over its length limit) fails Open, where the
// store opened and then failed every request, or every login for the user
// index collection's name alone.
func checkNamespace(ctx context.Context, coll *mongo.Collection) error {
	// Any error fails the sessions' collection, which every request reads.
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: ""}}).Err()
	if err == nil || errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	return fmt.Errorf("database %q, collection %q: %w", coll.Database().Name(), coll.Name(), err)
}

// invalidNamespace is the server's code for a database or collection name
// it refuses.
const invalidNamespace = 73

// disconnectWithin disconnects client with dctx, waiting no longer than
// ctx, and returns Disconnect's error, or ctx's once it ends first: the
// driver's Disconnect may wait for its monitor's check of a server that
// stopped answering (up to connectTimeoutMS, 30 s by default, for each of
// its checks: a minute was seen), whatever its context says. Past ctx the
// disconnection goes on in the background.
func disconnectWithin(ctx, dctx context.Context, client *mongo.Client) error {
	return within(ctx, "the disconnection", func() error { return client.Disconnect(dctx) })
}

// parseMongoURL splits u into the driver's connection string and the
// store's database, collection and options.
func parseMongoURL(u *url.URL) (*mongoURL, error) {
	const form = "mongodb://host:27017/db?collection=sessions"
	db := strings.Trim(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, fmt.Errorf("the path must name the database (%s)", form)
	}
	p := &mongoURL{db: db, collection: "sessions"}
	driverQuery, err := applyOwnParams(p, u, mongoParams)
	if err != nil {
		return nil, err
	}
	if unknown := driverUnknown(driverQuery); len(unknown) > 0 {
		var errs paramErrors
		for _, name := range unknown {
			errs = append(errs, fmt.Errorf("unknown parameter %q: neither the store's (known: %s) nor one the MongoDB driver knows (see the connection string options in MongoDB's documentation)", hideCredentials(name), strings.Join(mongoParams.sortedNames(), ", ")))
		}
		return nil, errs
	}
	driver := *u
	driver.RawQuery = driverQuery
	p.uri = driver.String()
	return p, nil
}

// driverUnknown returns the names, as the URL spells them, of the
// parameters of the driver's raw query that the MongoDB driver does not
// know: it would ignore them in silence, so that a misspelt store
// parameter (colection=app_sessions) opened the default collection. It
// parses the query under a plain mongodb URL, which looks nothing up in
// DNS, without the two SRV-only options, which that would refuse; a query
// the driver cannot parse is left to the driver's own error at Open.
func driverUnknown(driverQuery string) []string {
	if driverQuery == "" {
		return nil
	}
	var keep, names []string
	for _, pair := range strings.Split(driverQuery, "&") {
		name, _, _ := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			if strings.EqualFold(n, "srvMaxHosts") || strings.EqualFold(n, "srvServiceName") {
				continue
			}
			name = n
		}
		keep, names = append(keep, pair), append(names, name)
	}
	cs, err := connstring.Parse("mongodb://localhost/?" + strings.Join(keep, "&"))
	if err != nil || len(cs.UnknownOptions) == 0 {
		return nil
	}
	var unknown []string
	for _, name := range names {
		if _, ok := cs.UnknownOptions[strings.ToLower(name)]; ok && !slices.Contains(unknown, name) {
			unknown = append(unknown, name)
		}
	}
	return unknown
}
