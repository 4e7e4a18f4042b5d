// Package transporttest is the test kit for transport guests: it builds a
// guest, loads it into a real runtime.Engine, sends to a capture server on
// loopback that records the exact request, and compares the request with a
// golden file. Fixed-host services (api.telegram.org …) are redirected to
// the capture server, so a test never reaches a real service.
//
// A transport's test is a few lines:
//
//	cap := transporttest.NewCapture(t)
//	eng := transporttest.Engine(t, map[string]string{"api.telegram.org": cap.URL}, transporttest.Guest(t, "."))
//	res, err := transporttest.Send(t, eng, "tgram", sdk.SendRequest{URL: "tgram://123:abc/456", Body: "hi"})
//	transporttest.Golden(t, "testdata/basic.golden", cap.Dump(cap.Last(t)))
package transporttest

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/internal/wasmbuild"
)

var update = flag.Bool("update", false, "rewrite golden files with the requests the guests make now")

// UserAgent is what moonrelay sends for transports, as Apprise does.
const UserAgent = "Apprise"

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// Guest returns the .wasm of the guest in dir (a path such as "." inside a
// guest's own test): from MOONRELAY_GUESTS (set by `make test`) when it
// holds <dir name>.wasm, else built and cached by wasmbuild.
func Guest(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := os.Getenv("MOONRELAY_GUESTS"); d != "" {
		p := filepath.Join(d, filepath.Base(abs)+".wasm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[abs]; ok {
		return p
	}
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := wasmbuild.Build(rel)
	if err != nil {
		t.Fatalf("build guest %s: %v", abs, err)
	}
	built[abs] = p
	return p
}

// Engine returns an engine with the given guests loaded, sharing the test
// compilation cache. redirect maps fixed service hosts to capture servers.
func Engine(t testing.TB, redirect map[string]string, wasm ...string) *runtime.Engine {
	t.Helper()
	cache, err := wasmbuild.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, w := range wasm {
		if err := os.Symlink(w, filepath.Join(dir, filepath.Base(w))); err != nil {
			t.Fatal(err)
		}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx := context.Background()
	eng, err := runtime.New(ctx, runtime.Options{
		CacheDir:  filepath.Join(cache, "wazero"),
		Logger:    logger,
		UserAgent: UserAgent,
		Redirect:  redirect,
		Limits:    runtime.Limits{CallTimeout: 20 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	if err := eng.LoadDir(ctx, dir); err != nil {
		t.Fatal(err)
	}
	return eng
}

// Send delivers req through guest with the attachments, in the scope
// "test", and returns the guest's result.
func Send(t testing.TB, eng *runtime.Engine, guest string, req sdk.SendRequest, atts ...runtime.Attachment) (*sdk.SendResult, error) {
	t.Helper()
	for i, a := range atts {
		size := int64(len(a.Data))
		if a.Data == nil {
			size = a.Size
		}
		req.Attachments = append(req.Attachments, sdk.AttachmentInfo{ID: uint32(i + 1), Name: a.Name, MIME: a.MIME, Size: size})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return eng.Send(ctx, guest, req, runtime.Call{Scope: "test", Attachments: atts})
}

// Request is one request the capture server received.
type Request struct {
	Method   string
	Host     string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
}

// Response is what the capture server answers.
type Response struct {
	Status int
	Header map[string]string
	Body   string
}

// Capture is an HTTP server on 127.0.0.1 that records every request.
type Capture struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []Request
	replies []Response // answered in order; the last one repeats
}

// NewCapture starts a capture server answering 200 {} until told otherwise.
func NewCapture(t testing.TB) *Capture {
	c := &Capture{replies: []Response{{Status: 200, Body: "{}", Header: map[string]string{"Content-Type": "application/json"}}}}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Close)
	return c
}

func (c *Capture) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.reqs = append(c.reqs, Request{Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	resp := c.replies[0]
	if len(c.replies) > 1 {
		c.replies = c.replies[1:]
	}
	c.mu.Unlock()
	for k, v := range resp.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.Status)
	_, _ = io.WriteString(w, resp.Body)
}

// Reply sets the answers, in order; the last one repeats.
func (c *Capture) Reply(rs ...Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replies = rs
}

// Host returns the server's host:port.
func (c *Capture) Host() string { return strings.TrimPrefix(c.URL, "http://") }

// Requests returns every request received so far.
func (c *Capture) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.reqs...)
}

// Last returns the last request, failing the test if there was none.
func (c *Capture) Last(t testing.TB) Request {
	t.Helper()
	rs := c.Requests()
	if len(rs) == 0 {
		t.Fatal("the capture server received no request")
	}
	return rs[len(rs)-1]
}

// volatile headers differ between runs or Go versions and are left out of
// dumps.
var volatile = map[string]bool{"Accept-Encoding": true, "Content-Length": true}

// Dump writes a request as stable text for golden files (see Dump), with
// the capture server's own host:port, which changes every run, written as
// CAPTURE.
func (c *Capture) Dump(r Request) []byte {
	return bytes.ReplaceAll(Dump(r), []byte(c.Host()), []byte("CAPTURE"))
}

// Dump writes a request as stable text for golden files: the request
// line, the headers sorted (multipart boundaries replaced by BOUNDARY) and
// the body.
func Dump(r Request) []byte {
	var b bytes.Buffer
	target := r.Path
	if r.RawQuery != "" {
		target += "?" + r.RawQuery
	}
	fmt.Fprintf(&b, "%s %s\nHost: %s\n", r.Method, target, r.Host)
	body := r.Body
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		if !volatile[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			if k == "Content-Type" {
				if mt, params, err := mime.ParseMediaType(v); err == nil && params["boundary"] != "" {
					body = bytes.ReplaceAll(body, []byte(params["boundary"]), []byte("BOUNDARY"))
					v = mt + "; boundary=BOUNDARY"
				}
			}
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	b.Write(body)
	if len(body) > 0 && body[len(body)-1] != '\n' {
		b.WriteString("\n")
	}
	return b.Bytes()
}

// Golden compares got with the file at path; with -update it rewrites the
// file instead.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test with -update to create it, then review it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("request differs from %s:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
