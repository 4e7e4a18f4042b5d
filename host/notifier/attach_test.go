package notifier

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
)

type localFiles struct{ root string }

func (l localFiles) LocalFile(p string) (string, error) {
	if !strings.HasPrefix(p, l.root) {
		return "", fmt.Errorf("only files inside %s can be attached", l.root)
	}
	return p, nil
}
func (localFiles) Thumbnail(string) string { return "" }

func TestFetchAttachments(t *testing.T) {
	jpeg := []byte("\xff\xd8\xff\xe0fake-jpeg")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "Apprise" {
			t.Errorf("attachment fetched with User-Agent %q", r.Header.Get("User-Agent"))
		}
		switch r.URL.Path {
		case "/webcam/":
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write(jpeg)
		case "/named":
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Content-Disposition", `attachment; filename="cam.png"`)
			w.Write([]byte("png"))
		case "/page.html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<html>login</html>")
		case "/big":
			w.Write(make([]byte, maxAttachment+10))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	local := filepath.Join(dir, "thumb.png")
	os.WriteFile(local, []byte("\x89PNG\r\n\x1a\nthumb"), 0o644)
	m := &Manager{d: Deps{HTTPClient: srv.Client(), Attachments: localFiles{dir}}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	anyG := runtime.GuestInfo{Manifest: sdk.Manifest{Name: "json", Attachments: "any"}}
	imgG := runtime.GuestInfo{Manifest: sdk.Manifest{Name: "pover", Attachments: "images"}}
	noneG := runtime.GuestInfo{Manifest: sdk.Manifest{Name: "gotify", Attachments: "none"}}

	atts, problems := m.fetchAttachments(context.Background(), anyG, []string{
		srv.URL + "/webcam/?action=snapshot",
		srv.URL + "/named",
		srv.URL + "/webcam/?action=snapshot&name=snap.jpg",
		local,
		srv.URL + "/missing.jpg",
		"/etc/passwd",
		srv.URL + "/big",
	})
	var names []string
	for _, a := range atts {
		names = append(names, a.Name+"|"+a.MIME)
	}
	if got := strings.Join(names, ","); got != "apprise-attachment.jpg|image/jpeg,cam.png|image/png,snap.jpg|image/jpeg,thumb.png|image/png" {
		t.Errorf("attachments %s", got)
	}
	if string(atts[0].Data) != string(jpeg) {
		t.Errorf("snapshot bytes %q", atts[0].Data)
	}
	joined := strings.Join(problems, "\n")
	for _, want := range []string{"missing.jpg left out: the server answered 404 Not Found", "/etc/passwd left out: only files inside", "/big left out: larger than 10 MiB"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems %q lack %q", problems, want)
		}
	}

	atts, problems = m.fetchAttachments(context.Background(), imgG, []string{srv.URL + "/page.html", srv.URL + "/webcam/?action=snapshot"})
	if len(atts) != 1 || len(problems) != 1 || !strings.Contains(problems[0], "is text/html, not an image, and pover only sends images (check the snapshot URL)") {
		t.Errorf("images-only guest: %d attachments, problems %q", len(atts), problems)
	}
	atts, problems = m.fetchAttachments(context.Background(), noneG, []string{srv.URL + "/webcam/"})
	if len(atts) != 0 || len(problems) != 1 || !strings.Contains(problems[0], "gotify does not support attachments") {
		t.Errorf("no-attachment guest: %d attachments, problems %q", len(atts), problems)
	}
}
