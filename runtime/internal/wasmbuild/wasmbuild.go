// Package wasmbuild builds guest directories to WebAssembly for tests, and
// caches the results so repeated test runs build nothing.
//
// A build is keyed by the SHA-256 of the Go sources of the guest's
// directory and of guests/sdk, and of the Go version; it lands in
// <user cache dir>/moonrelay-test/wasm (override with MOONRELAY_TEST_CACHE)
// under a temporary name and is renamed into place, so concurrent test
// binaries may build the same guest safely.
package wasmbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// CacheDir returns the shared directory for test build outputs and the
// wazero compilation cache of tests.
func CacheDir() (string, error) {
	if d := os.Getenv("MOONRELAY_TEST_CACHE"); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	d := filepath.Join(base, "moonrelay-test")
	return d, os.MkdirAll(d, 0o755)
}

// ModuleRoot returns the directory holding go.mod, searching up from the
// working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("wasmbuild: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Build compiles the guest in dir (relative to the module root, e.g.
// "guests/examples/echo" or "runtime/testdata/hostile") and returns the
// path of its .wasm, building only when no cached build matches.
func Build(dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version())
	for _, d := range []string{dir, "guests/sdk"} {
		if err := hashGoFiles(h, filepath.Join(root, d)); err != nil {
			return "", err
		}
	}
	out := filepath.Join(cache, "wasm", filepath.Base(dir)+"-"+hex.EncodeToString(h.Sum(nil))[:16]+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".build-*.wasm")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", tmp.Name(), "./"+filepath.ToSlash(dir))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("wasmbuild: go build ./%s: %v\n%s", dir, err, b)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

// hashGoFiles feeds the names and contents of dir's non-test .go files to h.
func hashGoFiles(h io.Writer, dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		b, err := os.ReadFile(n)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(n), len(b))
		h.Write(b)
	}
	return nil
}
