package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/moonrelay/moonrelay/host/server"
)

// Printer is what the file manager needs from the printer link: which file
// is being printed, and starting a print after an upload.
type Printer interface {
	// ActiveFile returns the gcodes-relative file being printed or paused,
	// or "" when no job is active.
	ActiveFile() string
	// StartPrint starts printing a gcodes-relative file.
	StartPrint(ctx context.Context, filename string) error
}

// Broadcaster sends notify_* messages to websocket clients.
type Broadcaster interface {
	Broadcast(method string, params ...any) error
}

// Options configure a Manager.
type Options struct {
	// Gcodes and Config are the two root folders.
	Gcodes, Config string
	// Staging is a folder on the same file system for uploads in progress.
	Staging string
	// MaxUploadSize limits one upload in bytes.
	MaxUploadSize int64
	// Logger receives the component's logs.
	Logger *slog.Logger
	// Broadcaster announces changes (may be nil in tests).
	Broadcaster Broadcaster
}

// Manager is the file manager component.
type Manager struct {
	opts  Options
	log   *slog.Logger
	roots map[string]Root

	mu      sync.Mutex
	printer Printer
}

// Item describes one file, in Moonraker's shape.
type Item struct {
	Path        string  `json:"path"`
	Root        string  `json:"root"`
	Modified    float64 `json:"modified"`
	Size        int64   `json:"size"`
	Permissions string  `json:"permissions"`
}

// New returns a Manager over the roots; the folders must exist.
func New(opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Manager{opts: opts, log: opts.Logger.With("component", "file_manager"), roots: map[string]Root{}}
	for name, p := range map[string]string{"gcodes": opts.Gcodes, "config": opts.Config} {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("file_manager: %s folder %s is missing", name, abs)
		}
		m.roots[name] = Root{Name: name, Path: abs}
	}
	if err := os.MkdirAll(opts.Staging, 0o755); err != nil {
		return nil, fmt.Errorf("file_manager: upload folder: %w", err)
	}
	m.cleanStaging()
	return m, nil
}

// cleanStaging removes uploads left by a crash.
func (m *Manager) cleanStaging() {
	entries, _ := os.ReadDir(m.opts.Staging)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "upload-") {
			_ = os.Remove(filepath.Join(m.opts.Staging, e.Name()))
		}
	}
}

// Name is the component's name.
func (m *Manager) Name() string { return "file_manager" }

// Start does nothing: the manager only serves requests.
func (m *Manager) Start(context.Context) error { return nil }

// Close does nothing.
func (m *Manager) Close() error { return nil }

// SetPrinter connects the printer link (print after upload, refusing to
// overwrite the active file).
func (m *Manager) SetPrinter(p Printer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.printer = p
}

func (m *Manager) getPrinter() Printer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.printer
}

// RootNames lists the registered roots for server.info.
func (m *Manager) RootNames() []string { return []string{"config", "gcodes"} }

// Root returns the named root.
func (m *Manager) Root(name string) (Root, error) {
	r, ok := m.roots[name]
	if !ok {
		return Root{}, server.BadRequest("Invalid root %q: use one of gcodes, config", name)
	}
	return r, nil
}

// Resolve returns the absolute path of rel inside the named root.
func (m *Manager) Resolve(root, rel string) (string, error) {
	r, err := m.Root(root)
	if err != nil {
		return "", err
	}
	abs, _, err := r.resolve(rel)
	return abs, err
}

// CheckGcode returns a 400 naming the file when gcodes/name does not exist
// or is not a file.
func (m *Manager) CheckGcode(name string) error {
	abs, err := m.Resolve("gcodes", name)
	if err != nil {
		return err
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() {
		return server.BadRequest("File %s does not exist in the gcodes folder; upload it first", name)
	}
	return nil
}

// activeFile reports whether root/rel is the file being printed.
func (m *Manager) isActive(root, rel string) bool {
	p := m.getPrinter()
	if root != "gcodes" || p == nil {
		return false
	}
	active := strings.TrimPrefix(path.Clean("/"+p.ActiveFile()), "/")
	return active != "" && active == rel
}

func itemFor(root, rel string, st os.FileInfo) Item {
	return Item{
		Path:        rel,
		Root:        root,
		Modified:    float64(st.ModTime().UnixNano()) / 1e9,
		Size:        st.Size(),
		Permissions: "rw",
	}
}

func (m *Manager) notify(action string, item Item) {
	if m.opts.Broadcaster == nil {
		return
	}
	_ = m.opts.Broadcaster.Broadcast("notify_filelist_changed", map[string]any{"action": action, "item": item})
}

// Register adds the file endpoints to s.
func (m *Manager) Register(s *server.Server) error {
	eps := []server.Endpoint{
		{Path: "/server/files/roots", Handler: m.handleRoots},
		{Path: "/server/files/list", Handler: m.handleList},
		{Path: "/server/files/upload", Methods: []string{"POST"}, Raw: m.handleUpload, MaxBodySize: m.opts.MaxUploadSize},
		{Path: "/server/files/{root}/{path:*}", Methods: []string{"GET"}, Raw: m.handleDownload},
		{Path: "/server/files/{root}/{path:*}", Methods: []string{"DELETE"}, Handler: m.handleDelete, RPCNames: []string{"server.files.delete_file"}},
	}
	for _, e := range eps {
		if err := s.Register(e); err != nil {
			return err
		}
	}
	for _, n := range m.RootNames() {
		s.AddDirectory(n)
	}
	return nil
}

func (m *Manager) handleRoots(context.Context, *server.Request) (any, error) {
	out := []map[string]string{}
	for _, n := range m.RootNames() {
		out = append(out, map[string]string{"name": n, "path": m.roots[n].Path, "permissions": "rw"})
	}
	return out, nil
}

// handleList lists every file under a root (hidden files and folders are
// skipped, as in Moonraker), sorted by path.
func (m *Manager) handleList(_ context.Context, r *server.Request) (any, error) {
	name, err := r.StringOr("root", "gcodes")
	if err != nil {
		return nil, err
	}
	root, err := m.Root(name)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	err = filepath.WalkDir(root.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if p != root.Path && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		st, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root.Path, p)
		out = append(out, map[string]any{
			"path":        filepath.ToSlash(rel),
			"modified":    float64(st.ModTime().UnixNano()) / 1e9,
			"size":        st.Size(),
			"permissions": "rw",
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["path"].(string) < out[j]["path"].(string) })
	return out, nil
}

// splitRootPath reads root and path from HTTP path parameters, or from an
// RPC "path" of the form "gcodes/sub/file.gcode".
func splitRootPath(r *server.Request) (string, string, error) {
	p, err := r.String("path")
	if err != nil {
		return "", "", err
	}
	if root, ok := r.Args["root"].(string); ok && r.Transport == server.TransportHTTP {
		return root, p, nil
	}
	root, rest, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !ok || rest == "" {
		return "", "", server.BadRequest("Invalid path %q: write it as <root>/<file>, e.g. gcodes/benchy.gcode", p)
	}
	return root, rest, nil
}

func (m *Manager) handleDelete(_ context.Context, r *server.Request) (any, error) {
	rootName, rel, err := splitRootPath(r)
	if err != nil {
		return nil, err
	}
	root, err := m.Root(rootName)
	if err != nil {
		return nil, err
	}
	abs, clean, err := root.resolve(rel)
	if err != nil {
		return nil, err
	}
	if clean == "" {
		return nil, server.BadRequest("Invalid path: name a file to delete")
	}
	if m.isActive(rootName, clean) {
		return nil, server.Errorf(http.StatusForbidden, "File %s/%s is being printed and cannot be deleted", rootName, clean)
	}
	st, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, server.NotFound("File %s/%s does not exist", rootName, clean)
	}
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, server.BadRequest("%s/%s is a folder, not a file", rootName, clean)
	}
	if err := os.Remove(abs); err != nil {
		return nil, fmt.Errorf("delete %s/%s: %w", rootName, clean, err)
	}
	item := itemFor(rootName, clean, st)
	m.log.Info("file deleted", "root", rootName, "path", clean)
	m.notify("delete_file", item)
	return map[string]any{"item": item, "action": "delete_file"}, nil
}
