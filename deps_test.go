package session

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOneStoreBringsOnlyItsOwnDriver keeps the one-module layout honest: an
// application that imports the root package and one store builds, and with
// `go mod tidy` downloads, that store's driver and nothing else. (Tests of
// the packages it imports count too, for go mod tidy: internal/testserver
// must not import a driver.)
func TestOneStoreBringsOnlyItsOwnDriver(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	drivers := map[string]string{
		"./memstore":       "",
		"./redisstore":     "github.com/redis/go-redis/v9",
		"./boltstore":      "go.etcd.io/bbolt",
		"./memcachedstore": "github.com/bradfitz/gomemcache",
		"./pgstore":        "github.com/jackc/pgx/v5",
		"./mongostore":     "go.mongodb.org/mongo-driver/v2",
	}
	for pkg, own := range drivers {
		out, err := exec.Command("go", "list", "-test", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", ".", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, other := range drivers {
			if other != "" && other != own && strings.Contains(string(out), other+"\n") {
				t.Errorf("the root package and %s (with their tests) depend on %s", pkg, other)
			}
		}
	}
}
