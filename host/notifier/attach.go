package notifier

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moonrelay/moonrelay/runtime"
)

// maxAttachment caps one attachment, fetched or read; attachTimeout bounds
// one download.
const (
	maxAttachment = 10 << 20
	attachTimeout = 5 * time.Second
)

// fetchAttachments turns a notification's attach items into bytes. Each
// item that cannot be used is reported and skipped; the message still
// goes out.
func (m *Manager) fetchAttachments(ctx context.Context, g runtime.GuestInfo, items []string) ([]runtime.Attachment, []string) {
	if len(items) == 0 {
		return nil, nil
	}
	var out []runtime.Attachment
	var problems []string
	if g.Attachments == "" || g.Attachments == "none" {
		return nil, []string{fmt.Sprintf("%s does not support attachments: %d left out", g.Name, len(items))}
	}
	for _, it := range items {
		var a runtime.Attachment
		var err error
		if strings.HasPrefix(it, "http://") || strings.HasPrefix(it, "https://") {
			a, err = m.fetchURL(ctx, it)
		} else {
			a, err = m.readLocal(it)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("attachment %s left out: %v", it, err))
			continue
		}
		if g.Attachments == "images" && !strings.HasPrefix(a.MIME, "image/") {
			problems = append(problems, fmt.Sprintf("attachment %s left out: it is %s, not an image, and %s only sends images (check the snapshot URL)", it, a.MIME, g.Name))
			continue
		}
		out = append(out, a)
	}
	for _, p := range problems {
		m.log.Warn("attachment problem", "guest", g.Name, "problem", p)
	}
	return out, problems
}

// fetchURL downloads an http(s) attachment as Apprise does: name= and mime=
// query options override the file name and type and are not sent.
func (m *Manager) fetchURL(ctx context.Context, raw string) (runtime.Attachment, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return runtime.Attachment{}, err
	}
	q := u.Query()
	forceName, forceMIME := q.Get("name"), q.Get("mime")
	q.Del("name")
	q.Del("mime")
	q.Del("cache")
	q.Del("verify")
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return runtime.Attachment{}, err
	}
	req.Header.Set("User-Agent", "Apprise")
	resp, err := m.d.HTTPClient.Do(req)
	if err != nil {
		return runtime.Attachment{}, fmt.Errorf("download failed: %v", unwrapURLErr(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return runtime.Attachment{}, fmt.Errorf("the server answered %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAttachment+1))
	if err != nil {
		return runtime.Attachment{}, fmt.Errorf("download failed: %v", err)
	}
	if len(data) > maxAttachment {
		return runtime.Attachment{}, fmt.Errorf("larger than %d MiB", maxAttachment>>20)
	}
	mt := forceMIME
	if mt == "" {
		mt, _, _ = mime.ParseMediaType(resp.Header.Get("Content-Type"))
	}
	name := forceName
	if name == "" {
		if _, p, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
			name = p["filename"]
		}
	}
	if name == "" {
		// The last path segment; empty for /webcam/?action=snapshot.
		name = u.Path[strings.LastIndexByte(u.Path, '/')+1:]
	}
	if name == "" {
		name = "apprise-attachment" + extFor(mt)
	}
	if mt == "" {
		mt = mime.TypeByExtension(path.Ext(name))
	}
	if mt == "" {
		mt = "application/octet-stream"
	}
	return runtime.Attachment{Name: name, MIME: mt, Data: data}, nil
}

func extFor(mt string) string {
	switch mt {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "":
		return ".obj"
	}
	if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
		return exts[0]
	}
	return ".obj"
}

func unwrapURLErr(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// readLocal reads a local attachment, which must lie inside a registered
// root (gcodes, config).
func (m *Manager) readLocal(p string) (runtime.Attachment, error) {
	if m.d.Attachments == nil {
		return runtime.Attachment{}, fmt.Errorf("local files are not available")
	}
	abs, err := m.d.Attachments.LocalFile(p)
	if err != nil {
		return runtime.Attachment{}, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return runtime.Attachment{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAttachment+1))
	if err != nil {
		return runtime.Attachment{}, err
	}
	if len(data) > maxAttachment {
		return runtime.Attachment{}, fmt.Errorf("larger than %d MiB", maxAttachment>>20)
	}
	mt := mime.TypeByExtension(filepath.Ext(abs))
	if mt == "" {
		mt = http.DetectContentType(data)
	}
	mt, _, _ = mime.ParseMediaType(mt)
	return runtime.Attachment{Name: filepath.Base(abs), MIME: mt, Data: data}, nil
}
