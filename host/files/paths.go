package files

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/moonrelay/moonrelay/host/server"
)

// Root is one folder clients may reach.
type Root struct {
	// Name is the root's name in the API ("gcodes", "config").
	Name string
	// Path is the absolute folder.
	Path string
}

// cleanRel checks a client-supplied relative path and returns it with
// forward slashes, no leading or trailing slash and no empty segments.
func cleanRel(rel string) (string, error) {
	if strings.ContainsRune(rel, 0) {
		return "", server.BadRequest("Invalid path %q: it contains a NUL byte", strings.ReplaceAll(rel, "\x00", `\0`))
	}
	rel = strings.ReplaceAll(rel, `\`, "/")
	if strings.HasPrefix(rel, "/") {
		return "", server.BadRequest("Invalid path %q: give a path relative to the root, without a leading /", rel)
	}
	var parts []string
	for _, seg := range strings.Split(rel, "/") {
		switch seg {
		case "", ".":
			continue
		case "..":
			return "", server.BadRequest("Invalid path %q: '..' is not allowed", rel)
		}
		parts = append(parts, seg)
	}
	return strings.Join(parts, "/"), nil
}

// resolve returns the absolute path of rel inside root. It refuses paths
// that leave the root, including through symlinks (the deepest existing
// ancestor is resolved and must stay inside the root).
func (r Root) resolve(rel string) (string, string, error) {
	clean, err := cleanRel(rel)
	if err != nil {
		return "", "", err
	}
	abs := filepath.Join(r.Path, filepath.FromSlash(clean))
	rootReal, err := filepath.EvalSymlinks(r.Path)
	if err != nil {
		return "", "", &server.Error{Code: http.StatusInternalServerError, Message: "the " + r.Name + " folder is missing", Err: err}
	}
	// Walk up to the deepest part that exists and resolve its symlinks.
	probe := abs
	for {
		real, err := filepath.EvalSymlinks(probe)
		if err == nil {
			if !within(rootReal, real) {
				return "", "", server.Errorf(http.StatusForbidden, "Access denied: %s/%s leads outside the %s folder", r.Name, clean, r.Name)
			}
			break
		}
		if _, lerr := os.Lstat(probe); lerr == nil || !errors.Is(err, fs.ErrNotExist) {
			// A symlink whose target is missing (or unreadable) could
			// still lead anywhere once written through.
			return "", "", server.Errorf(http.StatusForbidden, "Access denied: %s/%s is a link that cannot be followed safely", r.Name, clean)
		}
		parent := filepath.Dir(probe)
		if parent == probe {
			break
		}
		probe = parent
	}
	return abs, clean, nil
}

func within(root, p string) bool {
	if p == root {
		return true
	}
	return strings.HasPrefix(p, root+string(os.PathSeparator))
}
