package demo

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// loadOrCreateSecret returns the secret kept in the file at path, creating
// the file (mode 0600) with 32 random bytes, hex-encoded, if it does not
// exist. created reports whether this call wrote it. Two processes starting
// at once end up with the same secret: the file appears atomically, and
// whoever comes second reads the first one's.
func loadOrCreateSecret(path string) (secret string, created bool, err error) {
	if s, err := readSecret(path); !errors.Is(err, fs.ErrNotExist) {
		return s, false, err
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", false, fmt.Errorf("generate secret: %w", err)
	}
	secret = hex.EncodeToString(buf)

	// Write a temporary file, then link it into place: the secret file is
	// either absent or complete, never half written.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sessiondemo-secret-*")
	if err != nil {
		return "", false, fmt.Errorf("write secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", false, fmt.Errorf("write secret: %w", err)
	}
	if _, err := tmp.WriteString(secret + "\n"); err != nil {
		tmp.Close()
		return "", false, fmt.Errorf("write secret: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", false, fmt.Errorf("write secret: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", false, fmt.Errorf("write secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			s, err := readSecret(path)
			return s, false, err
		}
		return "", false, fmt.Errorf("write secret: %w", err)
	}
	return secret, true, nil
}

// readSecret reads a secret file written by loadOrCreateSecret (or by hand).
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("read secret: %s is empty; delete it to generate a new secret", path)
	}
	return s, nil
}
