package testserver

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PostgresTimeZone is the TimeZone setting of the PostgreSQL servers started
// here. It is not UTC on purpose (+05:45, without daylight saving time): a
// `timestamp without time zone` column, as connect-pg-simple's table has, holds
// wall-clock time in the session's TimeZone, and code that silently assumes
// UTC there would pass against a UTC server and fail against most others.
const PostgresTimeZone = "Asia/Kathmandu"

// PostgresUser is the superuser of the servers started here. Loopback
// connections are trusted: no password.
const PostgresUser = "postgres"

// Postgres is a PostgreSQL server on a loopback port. The embedded Server
// gives its address, Kill (SIGKILL to the postmaster and its backends, as a
// crash) and Restart on the same port; the data survives a restart (after
// PostgreSQL's crash recovery).
type Postgres struct {
	*Server
}

// DSN returns the connection URL of database db on this server, as pgx and
// node-postgres take it.
func (p *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", PostgresUser, p.Addr, db)
}

// exec runs sql in the "postgres" database with PostgreSQL's own psql, so
// that this package (which every store's tests import) needs no driver.
func (p *Postgres) exec(ctx context.Context, sql string) error {
	return psql(ctx, p.Addr, sql, execConnectTimeout)
}

// How long psql waits for a connection: a few seconds when polling
// whether the server is up, as long as a test's setup may take otherwise
// (a loaded machine has made a running server's connection take over 2 s).
const (
	readyConnectTimeout = "2"
	execConnectTimeout  = "30"
)

// psql runs sql against the "postgres" database of the server at addr,
// waiting up to connectTimeout seconds for the connection.
func psql(ctx context.Context, addr, sql, connectTimeout string) error {
	dir, err := postgresBinDir()
	if err != nil {
		return err
	}
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", host, "-p", port, "-U", PostgresUser, "-d", "postgres", "-c", sql)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT="+connectTimeout)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("psql: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NewDatabase creates an empty database of its own for this test and returns
// its DSN; the database is dropped in t.Cleanup (if the server still runs).
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d", sharedSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := p.exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testserver: create database %s on %s: %v", name, p.Addr, err)
	}
	t.Cleanup(func() {
		if !p.Running() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		// FORCE ends connections a test left open (a pool not closed).
		if err := p.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testserver: drop database %s: %v", name, err)
		}
	})
	return p.DSN(name)
}

// postgresReady reports whether the server at addr accepts a session (not
// just the TCP connection: PostgreSQL refuses sessions while it recovers).
func postgresReady(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return psql(ctx, addr, "SELECT 1", readyConnectTimeout)
}

// postgresLib is where Debian installs each PostgreSQL version's binaries,
// out of PATH: <postgresLib>/<version>/bin.
var postgresLib = "/usr/lib/postgresql"

// postgresBinDir returns the directory of initdb and postgres: the newest
// version's under postgresLib, else the one in PATH.
func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob(filepath.Join(postgresLib, "*", "bin"))
	version := func(dir string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		return n
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(version(b), version(a)) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		return "", &missingBinaryError{"initdb (or /usr/lib/postgresql/*/bin/initdb)", "postgresql"}
	}
	d := filepath.Dir(initdb)
	if !isExecutable(filepath.Join(d, "postgres")) {
		return "", &unavailableError{fmt.Sprintf("testserver: initdb found at %s, but no postgres beside it; install both with: apt-get install -y postgresql", initdb)}
	}
	return d, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// postgresCredential returns whom to run initdb and postgres as: nil (this
// process's user) unless this process is root, which both refuse; then the
// postgres user that Debian's package creates.
func postgresCredential() (*syscall.Credential, error) {
	return credentialFor(os.Geteuid(), "postgres")
}

// credentialFor is postgresCredential for a process of effective uid euid
// and the user called name.
func credentialFor(euid int, name string) (*syscall.Credential, error) {
	if euid != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, &unavailableError{fmt.Sprintf("testserver: this process runs as root, which initdb and postgres refuse, and there is no user %q to run them as; create it (useradd --system --user-group %s; Debian's postgresql package does), or run the tests not as root", name, name)}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("testserver: user %s has uid %q, gid %q", name, u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// postgresDir makes a new temporary directory that cred's user owns. It is
// made in this test binary's base directory (sharedBase), which another user
// may pass through, not in a test's directory, which only this process's
// user may enter; the path stays short enough for the Unix socket inside
// it. Should this process die before removing it, the next test binary
// removes it with the base directory.
func postgresDir(cred *syscall.Credential) (string, error) {
	base, err := sharedBase()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(base, "pg-")
	if err != nil {
		return "", fmt.Errorf("testserver: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("testserver: %w", err)
		}
	}
	return dir, nil
}

// runAs runs a command to completion as cred's user, in dir.
func runAs(cred *syscall.Credential, dir, bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("testserver: %s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return nil
}

// PostgresAvailable returns nil when [StartPostgres] and [SharedPostgres]
// find the binaries and the user to run them as, and otherwise the reason
// they would skip (or fail) the test: for a benchmark that runs its
// PostgreSQL parts only where PostgreSQL is installed. It starts nothing.
func PostgresAvailable() error {
	if _, err := postgresBinDir(); err != nil {
		return err
	}
	_, err := postgresCredential()
	return err
}

// postgresSetup is what every server of this test binary starts from: the
// binaries, the user to run them as, and a data directory made by initdb
// once, which each server copies (initdb takes seconds; a copy, milliseconds).
type postgresSetup struct {
	bin      string
	cred     *syscall.Credential
	template string // a data directory straight from initdb
}

var sharedPostgresSetup once[*postgresSetup]

func getPostgresSetup(t testing.TB) *postgresSetup {
	t.Helper()
	return sharedPostgresSetup.get(t, func(string) (*postgresSetup, error) {
		bin, err := postgresBinDir()
		if err != nil {
			return nil, err
		}
		cred, err := postgresCredential()
		if err != nil {
			return nil, err
		}
		dir, err := postgresDir(cred)
		if err != nil {
			return nil, err
		}
		onStop(func() { os.RemoveAll(dir) })
		data := filepath.Join(dir, "data")
		if err := runAs(cred, dir, filepath.Join(bin, "initdb"),
			"-D", data, "-U", PostgresUser, "--auth=trust", "-E", "UTF8", "--locale=C",
			"--no-sync", "--no-instructions"); err != nil {
			return nil, err
		}
		return &postgresSetup{bin: bin, cred: cred, template: data}, nil
	})
}

// newPostgres starts a server on a copy of the template data directory, in a
// directory of its own, which remove deletes once the server is stopped.
func newPostgres(setup *postgresSetup) (p *Postgres, remove func(), err error) {
	dir, err := postgresDir(setup.cred)
	if err != nil {
		return nil, nil, err
	}
	remove = func() { os.RemoveAll(dir) }
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	// cp -a keeps the owner and the 0700 mode that postgres insists on.
	if out, err := exec.Command("cp", "-a", setup.template, data).CombinedOutput(); err != nil {
		return nil, remove, fmt.Errorf("testserver: copy the PostgreSQL data directory: %v\n%s", err, out)
	}
	if err := os.Mkdir(sock, 0o700); err != nil {
		return nil, remove, fmt.Errorf("testserver: %w", err)
	}
	if setup.cred != nil {
		if err := os.Chown(sock, int(setup.cred.Uid), int(setup.cred.Gid)); err != nil {
			return nil, remove, fmt.Errorf("testserver: %w", err)
		}
	}
	s, err := launchAs(setup.cred, "postgres", filepath.Join(setup.bin, "postgres"), dir, func(port int) ([]string, error) {
		return []string{
			"-D", data,
			"-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories=" + sock,
			"-c", "timezone=" + PostgresTimeZone,
			"-c", "log_timezone=UTC",
			"-c", "max_connections=300",
			"-c", "shared_buffers=32MB",
			// A test server holds nothing worth a flush to disk. Commits
			// still reach the OS before they return (synchronous_commit stays
			// on), so what a test wrote survives a Kill and Restart.
			"-c", "fsync=off",
			"-c", "full_page_writes=off",
		}, nil
	}, postgresReady)
	if err != nil {
		return nil, remove, err
	}
	return &Postgres{Server: s}, remove, nil
}

var sharedPostgres once[*Postgres]

// SharedPostgres returns a PostgreSQL server shared by every test of this
// test binary (stopped by [Main]). Tests should work in a database of their
// own, from [Postgres.NewDatabase].
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	setup := getPostgresSetup(t)
	return sharedPostgres.get(t, func(string) (*Postgres, error) {
		p, remove, err := newPostgres(setup)
		if remove != nil {
			onStop(remove) // stops run last first: after the Kill below
		}
		if p != nil {
			onStop(p.Kill)
		}
		return p, err
	})
}

// StartPostgres starts a PostgreSQL server for this test alone, to be killed
// and restarted, and stops it (and removes its data) in t.Cleanup.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	setup := getPostgresSetup(t)
	p, remove, err := newPostgres(setup)
	if remove != nil {
		t.Cleanup(remove)
	}
	if p != nil {
		t.Cleanup(p.Kill)
	}
	check(t, err)
	return p
}
