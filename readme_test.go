package session_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readmeSnippet is one ```go block of README.md: its lines, and the line
// number of the first.
type readmeSnippet struct {
	line  int
	lines []string
}

// readmeSnippets returns the ```go blocks of the Markdown file at path.
func readmeSnippets(t *testing.T, path string) []readmeSnippet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		snippets []readmeSnippet
		cur      *readmeSnippet
		n        int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &readmeSnippet{line: n + 1}
		case cur != nil && strings.TrimSpace(line) == "```":
			snippets = append(snippets, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: a ```go block that never ends", path, cur.line-1)
	}
	return snippets
}

// readmeImports are the packages a README snippet may use without importing
// them, by the name it uses.
var readmeImports = map[string]string{
	"context":        "context",
	"errors":         "errors",
	"fmt":            "fmt",
	"log":            "log",
	"slog":           "log/slog",
	"http":           "net/http",
	"time":           "time",
	"session":        "github.com/sessionkit/session",
	"memstore":       "github.com/sessionkit/session/memstore",
	"boltstore":      "github.com/sessionkit/session/boltstore",
	"redisstore":     "github.com/sessionkit/session/redisstore",
	"memcachedstore": "github.com/sessionkit/session/memcachedstore",
	"mongostore":     "github.com/sessionkit/session/mongostore",
	"pgstore":        "github.com/sessionkit/session/pgstore",
	"storeurl":       "github.com/sessionkit/session/storeurl",
	"redis":          "github.com/redis/go-redis/v9",
	"memcache":       "github.com/bradfitz/gomemcache/memcache",
	"bbolt":          "go.etcd.io/bbolt",
	"mongo":          "go.mongodb.org/mongo-driver/v2/mongo",
	"options":        "go.mongodb.org/mongo-driver/v2/mongo/options",
	"pgxpool":        "github.com/jackc/pgx/v5/pgxpool",
}

// readmeFreeVars are the variables a README snippet may use without
// declaring them: what the surrounding code of an application would have.
// (T is a type, for session.GetAs[T].)
const readmeFreeVars = `ctx context.Context, w http.ResponseWriter, r *http.Request,
	client redis.UniversalClient, mux *http.ServeMux, addr string, secrets []string,
	m *session.Manager, s *session.Session, user struct{ ID string }, userID string,
	k string, v any, t time.Time`

// readmeSnippetSource makes a Go file of a README snippet, with //line
// directives so that a compile error names README.md's line. A snippet that
// starts with a package clause is the file as written. Otherwise the
// snippet's top-level declarations (func, type, at the start of a line) stay
// at the top level; its statements go into a function that has
// readmeFreeVars and returns an error when a statement returns a value.
// Variables the snippet declares, which an application would go on to use,
// are used.
func readmeSnippetSource(file string, sn readmeSnippet) ([]byte, error) {
	for i, line := range sn.lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "package ") {
			// A whole file: compiled as written.
			return fmt.Appendf(nil, "//line %s:%d\n%s\n", file, sn.line+i, strings.Join(sn.lines[i:], "\n")), nil
		}
		break
	}
	var decls, stmts strings.Builder
	inDecl, inImport := false, false
	for i, line := range sn.lines {
		// The imports are computed below.
		if inImport {
			inImport = line != ")"
			continue
		}
		if strings.HasPrefix(line, "import ") {
			inImport = strings.HasSuffix(strings.TrimSpace(line), "(")
			continue
		}
		directive := fmt.Sprintf("//line %s:%d\n", file, sn.line+i)
		if !inDecl && (strings.HasPrefix(line, "func ") || strings.HasPrefix(line, "type ")) {
			inDecl = strings.HasSuffix(strings.TrimSpace(stripLineComment(line)), "{")
			decls.WriteString(directive + line + "\n")
			continue
		}
		if inDecl {
			decls.WriteString(directive + line + "\n")
			inDecl = line != "}"
			continue
		}
		stmts.WriteString(directive + line + "\n")
	}

	// Parse once without imports to see what the statements return and
	// declare, and which packages the snippet names.
	body := stmts.String()
	probe := "package p\n" + decls.String() + "func _() {\n{\n" + body + "}\n}\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", probe, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				if _, known := readmeImports[id.Name]; known {
					used[id.Name] = true
				}
			}
		}
		return true
	})
	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if d, ok := d.(*ast.FuncDecl); ok && d.Name.Name == "_" {
			fn = d
		}
	}
	block := fn.Body.List[0].(*ast.BlockStmt)
	returnsValue := false
	ast.Inspect(block, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			if len(n.Results) > 0 {
				returnsValue = true
			}
		}
		return true
	})
	var declared []string
	for _, st := range block.List {
		if as, ok := st.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
			for _, l := range as.Lhs {
				if id, ok := l.(*ast.Ident); ok && id.Name != "_" && !slices.Contains(declared, id.Name) {
					declared = append(declared, id.Name)
				}
			}
		}
	}

	// The free variables' own packages are always imported.
	for _, name := range []string{"context", "http", "redis", "session", "time"} {
		used[name] = true
	}
	var src strings.Builder
	src.WriteString("package snippet\n\nimport (\n")
	for name := range used {
		fmt.Fprintf(&src, "\t%s %q\n", name, readmeImports[name])
	}
	src.WriteString(")\n\ntype T = struct{ Name string }\n\n")
	src.WriteString(decls.String())
	result, end := "", ""
	if returnsValue {
		result, end = " error", "\treturn nil\n"
	}
	fmt.Fprintf(&src, "\nfunc _(%s)%s {\n{\n%s", readmeFreeVars, result, body)
	src.WriteString("//line readme_test.go:1\n")
	for _, name := range declared {
		fmt.Fprintf(&src, "_ = %s\n", name)
	}
	src.WriteString("}\n" + end + "}\n")
	return []byte(src.String()), nil
}

// stripLineComment drops a // comment from a line of Go (one that has no
// string holding "//").
func stripLineComment(line string) string {
	if i := strings.Index(line, "//"); i >= 0 {
		return line[:i]
	}
	return line
}

// TestREADMEGoSnippetsCompile compiles every ```go block of README.md, each
// as a package of its own, with the variables an application around it
// would have (readmeFreeVars), so that the quick start and the store
// snippets keep up with the API. A compile error names the README's line.
func TestREADMEGoSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	snippets := readmeSnippets(t, "README.md")
	if len(snippets) == 0 {
		t.Fatal("README.md has no ```go block; the quick start at least is one")
	}
	// Each snippet is a package under a directory that does not exist,
	// given to go build as an overlay: nothing is written into the module.
	overlay := map[string]string{}
	var pkgs []string
	tmp := t.TempDir()
	for i, sn := range snippets {
		src, err := readmeSnippetSource(filepath.Join(root, "README.md"), sn)
		if err != nil {
			t.Errorf("README.md:%d: the ```go block does not parse: %v", sn.line, err)
			continue
		}
		dir := filepath.Join(root, "internal", "readmesnippets", fmt.Sprintf("s%d", i+1))
		file := filepath.Join(tmp, fmt.Sprintf("s%d.go", i+1))
		if err := os.WriteFile(file, src, 0o600); err != nil {
			t.Fatal(err)
		}
		overlay[filepath.Join(dir, "snippet.go")] = file
		pkgs = append(pkgs, dir)
	}
	if len(pkgs) == 0 {
		return
	}
	ov, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		t.Fatal(err)
	}
	ovFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovFile, ov, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"build", "-overlay", ovFile, "-o", os.DevNull}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("a Go snippet of README.md does not compile (%v):\n%s", err, out)
	}
}
