package pgstore_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/session/internal/testserver"
	"github.com/sessionkit/session/pgstore"
)

// CreateTableSQL, run by a migration, makes the tables WithCreateTable
// makes, in the same schema, with the same index names: for a schema of
// the store's own, and for a table name holding a dot, which is one
// identifier (as connect-pg-simple's tableName is), not a schema and a
// table, so both tables go to the search_path's schema.
func TestCreateTableSQLMakesWhatWithCreateTableMakes(t *testing.T) {
	for _, c := range []struct{ schema, table, inSchema string }{
		{"", "session", "public"},
		{"web app", "session", "web app"},
		{"", "web.sessions", "public"},
		{"web", `my "sessions"`, "web"},
	} {
		t.Run(c.schema+"/"+c.table, func(t *testing.T) {
			t.Parallel()
			byNew := poolOn(t, testserver.SharedPostgres(t).NewDatabase(t), nil)
			st, err := pgstore.New(byNew, pgstore.WithSchema(c.schema), pgstore.WithTable(c.table), pgstore.WithCreateTable(), pgstore.WithCleanupInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			bySQL := poolOn(t, testserver.SharedPostgres(t).NewDatabase(t), nil)
			exec(t, bySQL, pgstore.CreateTableSQL(c.schema, c.table))
			wantTable, wantUsers := pgx.Identifier{c.inSchema, c.table}.Sanitize(), pgx.Identifier{c.inSchema, c.table + "_users"}.Sanitize()
			if c.schema == "" {
				wantTable, wantUsers = pgx.Identifier{c.table}.Sanitize(), pgx.Identifier{c.table + "_users"}.Sanitize()
			}
			if st.Table() != wantTable || st.UsersTable() != wantUsers {
				t.Errorf("Table() = %s, UsersTable() = %s; want %s, %s", st.Table(), st.UsersTable(), wantTable, wantUsers)
			}
			for _, table := range []string{c.table, c.table + "_users"} {
				made := describeTable(t, byNew, c.inSchema, table)
				if len(made) == 0 {
					t.Fatalf("WithCreateTable made no table %q in schema %q", table, c.inSchema)
				}
				if printed := describeTable(t, bySQL, c.inSchema, table); !slices.Equal(made, printed) {
					t.Errorf("table %q in %q made by WithCreateTable:\n%s\nby CreateTableSQL:\n%s", table, c.inSchema, strings.Join(made, "\n"), strings.Join(printed, "\n"))
				}
			}
		})
	}
}
