package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moonrelay/moonrelay/host/server"
	"github.com/valyala/fasthttp"
)

// maxFieldSize bounds a non-file form field.
const maxFieldSize = 64 << 10

// errTooLarge marks an upload over max_upload_size.
var errTooLarge = errors.New("upload too large")

// capReader fails with errTooLarge once more than n bytes were read.
type capReader struct {
	r io.Reader
	n int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.n+1 {
		p = p[:c.n+1]
	}
	k, err := c.r.Read(p)
	c.n -= int64(k)
	if c.n < 0 {
		return k, errTooLarge
	}
	return k, err
}

// Upload is the result of a successful upload, in Moonraker's shape.
type Upload struct {
	Item         Item   `json:"item"`
	PrintStarted bool   `json:"print_started"`
	PrintQueued  bool   `json:"print_queued"`
	Action       string `json:"action"`
}

// handleUpload serves POST /server/files/upload (multipart/form-data).
func (m *Manager) handleUpload(ctx *fasthttp.RequestCtx) {
	res, err := m.receive(ctx)
	if err != nil {
		if e := (*server.Error)(nil); errors.As(err, &e) && e.Code == http.StatusRequestEntityTooLarge {
			server.DrainTooLarge(ctx)
		}
		server.WriteError(ctx, err)
		return
	}
	loc := fmt.Sprintf("http://%s/server/files/%s/%s", ctx.Host(), res.Item.Root, escapePath(res.Item.Path))
	ctx.Response.Header.Set("Location", loc)
	server.WriteJSON(ctx, http.StatusCreated, res)
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// Receive reads a multipart upload from an HTTP request into its root; the
// OctoPrint emulation uses it too. root is the default root when the form
// does not name one.
func (m *Manager) Receive(ctx *fasthttp.RequestCtx) (*Upload, error) { return m.receive(ctx) }

func (m *Manager) receive(ctx *fasthttp.RequestCtx) (*Upload, error) {
	limit := m.opts.MaxUploadSize
	tooLarge := server.Errorf(http.StatusRequestEntityTooLarge, "File is larger than max_upload_size (%d MiB): raise [server] max_upload_size in moonrelay.toml", limit>>20)
	if cl := ctx.Request.Header.ContentLength(); cl > 0 && int64(cl) > limit+1<<20 {
		return nil, tooLarge
	}
	mt, params, err := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, server.BadRequest("Uploads must be multipart/form-data with a 'file' field")
	}
	var body io.Reader
	if ctx.Request.IsBodyStream() {
		body = ctx.RequestBodyStream()
	} else {
		body = bytes.NewReader(ctx.Request.Body())
	}
	// The form's own overhead is allowed on top of the file size.
	mr := multipart.NewReader(&capReader{r: body, n: limit + 1<<20}, params["boundary"])

	fields := map[string]string{}
	var tmp *os.File
	var filename, sum string
	var size int64
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, uploadReadErr(err, tooLarge)
		}
		name := part.FormName()
		if name == "file" {
			if tmp != nil {
				return nil, server.BadRequest("The upload has more than one 'file' field; send one file per request")
			}
			filename = rawFilename(part)
			if filename == "" {
				return nil, server.BadRequest("The 'file' field has no file name")
			}
			tmp, err = os.CreateTemp(m.opts.Staging, "upload-*")
			if err != nil {
				return nil, fmt.Errorf("create temporary upload file: %w", err)
			}
			h := sha256.New()
			buf := make([]byte, 256<<10)
			size, err = io.CopyBuffer(io.MultiWriter(tmp, h), part, buf)
			if err != nil {
				return nil, uploadReadErr(err, tooLarge)
			}
			if size > limit {
				return nil, tooLarge
			}
			sum = hex.EncodeToString(h.Sum(nil))
			continue
		}
		val, err := io.ReadAll(io.LimitReader(part, maxFieldSize+1))
		if err != nil {
			return nil, uploadReadErr(err, tooLarge)
		}
		if len(val) > maxFieldSize {
			return nil, server.BadRequest("Form field %q is too long", name)
		}
		fields[name] = string(val)
	}
	if tmp == nil {
		return nil, server.BadRequest("No file was uploaded: the form needs a 'file' field")
	}
	rootName := fields["root"]
	if rootName == "" {
		rootName = "gcodes"
	}
	root, err := m.Root(rootName)
	if err != nil {
		return nil, err
	}
	abs, rel, err := root.resolve(path.Join(strings.ReplaceAll(fields["path"], `\`, "/"), strings.ReplaceAll(filename, `\`, "/")))
	if err != nil {
		return nil, err
	}
	// path.Join cleans ".." away: check the parts as the client sent them.
	if _, err := cleanRel(fields["path"]); err != nil {
		return nil, err
	}
	if _, err := cleanRel(filename); err != nil {
		return nil, err
	}
	if rel == "" {
		return nil, server.BadRequest("Invalid file name %q", filename)
	}
	if want := strings.ToLower(strings.TrimSpace(fields["checksum"])); want != "" && want != sum {
		return nil, server.Errorf(http.StatusUnprocessableEntity, "File checksum mismatch: expected %s, calculated %s; the upload was discarded", want, sum)
	}
	if m.isActive(rootName, rel) {
		return nil, server.Errorf(http.StatusForbidden, "File %s/%s is being printed and cannot be overwritten; upload it under another name or cancel the print", rootName, rel)
	}
	if st, err := os.Stat(abs); err == nil && st.IsDir() {
		return nil, server.BadRequest("%s/%s is a folder", rootName, rel)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("save upload: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("create folder for %s/%s: %w", rootName, rel, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("save upload: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return nil, fmt.Errorf("save upload: %w", err)
	}
	if err := os.Rename(tmp.Name(), abs); err != nil {
		return nil, fmt.Errorf("move upload into %s/%s: %w", rootName, rel, err)
	}
	tmp = nil
	st, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	res := &Upload{Item: itemFor(rootName, rel, st), Action: "create_file"}
	m.log.Info("file uploaded", "root", rootName, "path", rel, "size", size)
	m.notify("create_file", res.Item)
	if strings.EqualFold(fields["print"], "true") && rootName == "gcodes" {
		res.PrintStarted = m.startPrint(rel)
	}
	return res, nil
}

// startPrint starts the uploaded file if a printer is connected and idle.
func (m *Manager) startPrint(rel string) bool {
	p := m.getPrinter()
	if p == nil {
		m.log.Warn("print after upload requested, but no printer is connected", "path", rel)
		return false
	}
	if active := p.ActiveFile(); active != "" {
		m.log.Warn("print after upload refused: a print is in progress", "path", rel, "printing", active)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.StartPrint(ctx, rel); err != nil {
		m.log.Warn("print after upload failed", "path", rel, "err", err)
		return false
	}
	return true
}

func uploadReadErr(err error, tooLarge error) error {
	if errors.Is(err, errTooLarge) {
		return tooLarge
	}
	return server.BadRequest("The upload was cut off or is not valid multipart data (%v); nothing was saved", err)
}

// rawFilename returns the file name as the client sent it (Go's FileName
// strips folders, which would hide a traversal attempt); RFC 5987
// filename*=UTF-8” names are decoded by mime.ParseMediaType.
func rawFilename(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["filename"]
}
