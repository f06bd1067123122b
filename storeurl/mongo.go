package storeurl

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/mongostore"
)

// The mongodb and mongodb+srv schemes open a mongostore:
//
//	mongodb://[user:pass@]host:27017[,host2:27017]/db
//
// The database is required. These query parameters are the store's, all
// optional:
//
//	collection=sessions     the collection (connect-mongo's default)
//	default_ttl=24h         lifetime of a session without expiry
//	cleanup_interval=10m    delete expired sessions this often (0, the default: off)
//	ttl_index=true          create a TTL index on expires instead (not on FerretDB v1)
//	last_modified=true      write lastModified, as connect-mongo with touchAfter
//	stringify=false         store the session as a document, as connect-mongo with stringify: false
//
// Every other parameter is the driver's (replicaSet, authSource, tls,
// timeoutMS, ...; see the MongoDB connection string documentation).
// Open pings the server with its context, so a wrong address fails at once.
// The returned closer stops the cleanup and disconnects the client.
func init() {
	register("mongodb", openMongo)
	register("mongodb+srv", openMongo)
}

// mongoParams are the store's parameters, taken out of the URL before the
// driver parses it.
var mongoParams = map[string]func(v string) (mongostore.Option, error){
	"default_ttl": func(v string) (mongostore.Option, error) {
		d, err := parseDuration(v, false)
		return mongostore.WithDefaultTTL(d), err
	},
	"cleanup_interval": func(v string) (mongostore.Option, error) {
		d, err := parseDuration(v, true)
		return mongostore.WithCleanupInterval(d), err
	},
	"ttl_index":     flagParam(mongostore.WithTTLIndex),
	"last_modified": flagParam(mongostore.WithLastModified),
	"stringify": func(v string) (mongostore.Option, error) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("not true or false")
		}
		return mongostore.WithStringify(b), nil
	},
}

// flagParam parses a boolean parameter turning on option; false gives a nil
// option, which parseMongoURL drops.
func flagParam(option func() mongostore.Option) func(v string) (mongostore.Option, error) {
	return func(v string) (mongostore.Option, error) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("not true or false")
		}
		if !b {
			return nil, nil
		}
		return option(), nil
	}
}

type mongoURL struct {
	uri, db, collection string
	opts                []mongostore.Option
}

func openMongo(ctx context.Context, u *url.URL) (session.Store, io.Closer, error) {
	p, err := parseMongoURL(u)
	if err != nil {
		return nil, nil, err
	}
	client, err := mongo.Connect(options.Client().ApplyURI(p.uri))
	if err != nil {
		return nil, nil, err
	}
	disconnect := func() error { return client.Disconnect(context.Background()) }
	if err := client.Ping(ctx, readpref.Primary()); err != nil {
		_ = disconnect()
		return nil, nil, fmt.Errorf("ping: %w", err)
	}
	st, err := mongostore.New(client.Database(p.db).Collection(p.collection), p.opts...)
	if err != nil {
		_ = disconnect()
		return nil, nil, err
	}
	return st, closerFunc(func() error {
		_ = st.Close()
		return disconnect()
	}), nil
}

// parseMongoURL splits u into the driver's connection string and the
// store's database, collection and options.
func parseMongoURL(u *url.URL) (*mongoURL, error) {
	const form = "mongodb://host:27017/db?collection=sessions"
	db := strings.Trim(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, fmt.Errorf("the path must name the database (%s)", form)
	}
	q := u.Query()
	p := &mongoURL{db: db, collection: "sessions"}
	ours := url.Values{}
	for k, v := range q {
		if k == "collection" || mongoParams[k] != nil {
			ours[k] = v
			q.Del(k)
		}
	}
	if c, ok := ours["collection"]; ok {
		if len(c) != 1 || c[0] == "" {
			return nil, fmt.Errorf("parameter collection: want one non-empty name")
		}
		p.collection = c[0]
		delete(ours, "collection")
	}
	opts, err := parseParams(ours, mongoParams)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		if o != nil {
			p.opts = append(p.opts, o)
		}
	}
	driver := *u
	driver.RawQuery = q.Encode()
	p.uri = driver.String()
	return p, nil
}
