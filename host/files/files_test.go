package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/moonrelay/moonrelay/host/servertest"
)

// form builds a multipart body; file parts use the raw filename given.
type form struct {
	fields   [][2]string
	filename string
	content  []byte
	noFile   bool
	rawDisp  string // overrides the file part's Content-Disposition
}

func (f form) encode(t *testing.T) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, kv := range f.fields {
		w.WriteField(kv[0], kv[1])
	}
	if !f.noFile {
		h := textproto.MIMEHeader{}
		disp := f.rawDisp
		if disp == "" {
			disp = fmt.Sprintf(`form-data; name="file"; filename="%s"`, f.filename)
		}
		h.Set("Content-Disposition", disp)
		h.Set("Content-Type", "application/octet-stream")
		p, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		p.Write(f.content)
	}
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

func upload(t *testing.T, base string, f form) (int, map[string]any, http.Header) {
	t.Helper()
	ct, body := f.encode(t)
	resp, err := http.Post(base+"/server/files/upload", ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("upload reply is not JSON: %q", raw)
	}
	return resp.StatusCode, m, resp.Header
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestUploadListDownloadDelete(t *testing.T) {
	srv := servertest.Start(t, "")
	ws, _, err := websocket.DefaultDialer.Dial(srv.WS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	content := []byte("G28\nG1 X10 E1\n")
	sum := sha256.Sum256(content)
	status, body, hdr := upload(t, srv.URL, form{
		fields:   [][2]string{{"path", "sub/dir"}, {"checksum", hex.EncodeToString(sum[:])}},
		filename: "bénchy.gcode",
		content:  content,
	})
	if status != 201 {
		t.Fatalf("upload: %d %v", status, body)
	}
	item := body["item"].(map[string]any)
	if item["path"] != "sub/dir/bénchy.gcode" || item["root"] != "gcodes" || item["size"] != float64(len(content)) ||
		item["permissions"] != "rw" || body["action"] != "create_file" || body["print_started"] != false || body["print_queued"] != false {
		t.Errorf("upload body %v", body)
	}
	if _, wrapped := body["result"]; wrapped {
		t.Errorf("upload reply must not be wrapped in result")
	}
	if loc := hdr.Get("Location"); !strings.HasSuffix(loc, "/server/files/gcodes/sub/dir/b%C3%A9nchy.gcode") {
		t.Errorf("Location %q", loc)
	}
	// notify_filelist_changed reached the websocket.
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, note, err := ws.ReadMessage()
	if err != nil || !strings.Contains(string(note), `"method":"notify_filelist_changed"`) || !strings.Contains(string(note), `"action":"create_file"`) {
		t.Errorf("notification %s %v", note, err)
	}
	// Listed, downloadable, byte for byte.
	_, list := get(t, srv.URL+"/server/files/list?root=gcodes")
	if !strings.Contains(string(list), `"path":"sub/dir/bénchy.gcode"`) {
		t.Errorf("list %s", list)
	}
	code, got := get(t, srv.URL+"/server/files/gcodes/sub/dir/b%C3%A9nchy.gcode")
	if code != 200 || !bytes.Equal(got, content) {
		t.Errorf("download %d %q", code, got)
	}
	_, roots := get(t, srv.URL+"/server/files/roots")
	if !strings.Contains(string(roots), `"name":"gcodes"`) || !strings.Contains(string(roots), `"name":"config"`) {
		t.Errorf("roots %s", roots)
	}
	// Delete over JSON-RPC.
	msg := `{"jsonrpc":"2.0","method":"server.files.delete_file","params":{"path":"gcodes/sub/dir/bénchy.gcode"},"id":1}`
	ws.WriteMessage(websocket.TextMessage, []byte(msg))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), `"id":1`) {
			if !strings.Contains(string(data), `"action":"delete_file"`) {
				t.Errorf("delete reply %s", data)
			}
			break
		}
	}
	if code, _ := get(t, srv.URL+"/server/files/gcodes/sub/dir/b%C3%A9nchy.gcode"); code != 404 {
		t.Errorf("download after delete: %d", code)
	}
	req, _ := http.NewRequest("DELETE", srv.URL+"/server/files/gcodes/nope.gcode", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("delete missing file: %d", resp.StatusCode)
	}
}

func TestUploadRefusals(t *testing.T) {
	srv := servertest.Start(t, "[server]\nmax_upload_size = \"1MiB\"\n")
	data := filepath.Join(srv.Dir, "data")
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(data, "gcodes", "escape")); err != nil {
		t.Fatal(err)
	}
	os.Symlink(filepath.Join(outside, "missing"), filepath.Join(data, "gcodes", "dangling.gcode"))
	tests := []struct {
		name   string
		f      form
		status int
		msg    string
	}{
		{"dotdot filename", form{filename: "../x.gcode", content: []byte("x")}, 400, "'..' is not allowed"},
		{"dotdot path", form{fields: [][2]string{{"path", "a/../../b"}}, filename: "x.gcode", content: []byte("x")}, 400, "'..' is not allowed"},
		{"absolute filename", form{filename: "/etc/passwd", content: []byte("x")}, 400, "without a leading /"},
		{"NUL in file name", form{filename: "a\x00b.gcode", content: []byte("x")}, 400, "nothing was saved"},
		{"NUL in path", form{fields: [][2]string{{"path", "a\x00b"}}, filename: "x.gcode", content: []byte("x")}, 400, "NUL"},
		{"symlink out", form{fields: [][2]string{{"path", "escape"}}, filename: "x.gcode", content: []byte("x")}, 403, "leads outside the gcodes folder"},
		{"dangling symlink", form{filename: "dangling.gcode", content: []byte("x")}, 403, "link"},
		{"bad root", form{fields: [][2]string{{"root", "system"}}, filename: "x.gcode", content: []byte("x")}, 400, "Invalid root"},
		{"checksum mismatch", form{fields: [][2]string{{"checksum", strings.Repeat("0", 64)}}, filename: "sum.gcode", content: []byte("x")}, 422, "checksum mismatch"},
		{"no file", form{noFile: true, fields: [][2]string{{"root", "gcodes"}}}, 400, "'file' field"},
		{"too large", form{filename: "big.gcode", content: bytes.Repeat([]byte("x"), 3<<20)}, 413, "max_upload_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := upload(t, srv.URL, tt.f)
			e, _ := body["error"].(map[string]any)
			if status != tt.status || e == nil || !strings.Contains(fmt.Sprint(e["message"]), tt.msg) {
				t.Errorf("got %d %v, want %d containing %q", status, body, tt.status, tt.msg)
			}
		})
	}
	// Nothing was written outside, nothing kept, no temp file left.
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("files written outside the root: %v", entries)
	}
	for _, f := range []string{"x.gcode", "sum.gcode", "big.gcode", "b/x.gcode"} {
		if _, err := os.Stat(filepath.Join(data, "gcodes", f)); err == nil {
			t.Errorf("%s was kept", f)
		}
	}
	assertNoStaging(t, data)
	// Traversal through the download path.
	for _, p := range []string{"/server/files/gcodes/..%2F..%2Fdatabase%2Fapi_key", "/server/files/gcodes/escape/x", "/server/files/config/%2Fetc%2Fpasswd"} {
		code, b := get(t, srv.URL+p)
		if code != 400 && code != 403 && code != 404 {
			t.Errorf("GET %s: %d %s", p, code, b)
		}
		if strings.Contains(string(b), "root:") {
			t.Errorf("GET %s leaked a file", p)
		}
	}
}

func assertNoStaging(t *testing.T, data string) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(data, "cache", "uploads"))
	if len(entries) != 0 {
		t.Errorf("temporary uploads left behind: %v", entries)
	}
}

func TestUploadAbortedMidBody(t *testing.T) {
	srv := servertest.Start(t, "")
	data := filepath.Join(srv.Dir, "data")
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	boundary := "xYzZY"
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.gcode\"\r\n\r\n"
	fmt.Fprintf(conn, "POST /server/files/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n%s", boundary, 10<<20, head)
	conn.Write(bytes.Repeat([]byte("G1 X1\n"), 400<<10/6)) // 400 KiB of 10 MiB
	time.Sleep(100 * time.Millisecond)
	conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		entries, _ := os.ReadDir(filepath.Join(data, "cache", "uploads"))
		_, err := os.Stat(filepath.Join(data, "gcodes", "cut.gcode"))
		if len(entries) == 0 && err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("aborted upload left files: staging %v, target err %v", entries, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUploadExpectContinue(t *testing.T) {
	srv := servertest.Start(t, "")
	ct, body := form{filename: "cont.gcode", content: []byte("G28\n")}.encode(t)
	req, _ := http.NewRequest("POST", srv.URL+"/server/files/upload", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 10 * time.Second}}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || time.Since(t0) > 5*time.Second {
		t.Errorf("status %d after %v", resp.StatusCode, time.Since(t0))
	}
}

// fakePrinter stands in for the printer link in file-manager tests; the
// real link is exercised by the integration tests.
type fakePrinter struct {
	active  string
	started []string
}

func (f *fakePrinter) ActiveFile() string { return f.active }
func (f *fakePrinter) StartPrint(_ context.Context, name string) error {
	f.started = append(f.started, name)
	return nil
}

func TestUploadAndPrintFile(t *testing.T) {
	srv := servertest.Start(t, "")
	p := &fakePrinter{}
	srv.App.Files.SetPrinter(p)
	status, body, _ := upload(t, srv.URL, form{fields: [][2]string{{"print", "true"}}, filename: "go.gcode", content: []byte("G28\n")})
	if status != 201 || body["print_started"] != true || len(p.started) != 1 || p.started[0] != "go.gcode" {
		t.Fatalf("upload+print: %d %v started %v", status, body, p.started)
	}
	p.active = "go.gcode"
	status, body, _ = upload(t, srv.URL, form{filename: "go.gcode", content: []byte("G1\n")})
	if status != 403 {
		t.Errorf("overwrite of the printing file: %d %v", status, body)
	}
	got, _ := os.ReadFile(filepath.Join(srv.Dir, "data", "gcodes", "go.gcode"))
	if string(got) != "G28\n" {
		t.Errorf("printing file changed to %q", got)
	}
	req, _ := http.NewRequest("DELETE", srv.URL+"/server/files/gcodes/go.gcode", nil)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("delete of the printing file: %d", resp.StatusCode)
	}
}

func TestThumbnailExtraction(t *testing.T) {
	srv := servertest.Start(t, "")
	data, err := os.ReadFile("../../../shared/gcode/superslicer-2.3.56_klipper-crlf.gcode")
	if err != nil {
		t.Fatalf("%v (the G-code corpus lives in ../shared beside the repository)", err)
	}
	dst := filepath.Join(srv.Dir, "data", "gcodes", "sub", "voron.gcode")
	os.MkdirAll(filepath.Dir(dst), 0o755)
	os.WriteFile(dst, data, 0o644)
	p := srv.App.Files.Thumbnail("sub/voron.gcode")
	if filepath.Base(p) != "voron-400x300.png" || filepath.Dir(p) != filepath.Join(filepath.Dir(dst), ".thumbs") {
		t.Fatalf("thumbnail %q", p)
	}
	img, err := os.ReadFile(p)
	if err != nil || !bytes.HasPrefix(img, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("thumbnail is not a PNG: %v", err)
	}
	if again := srv.App.Files.Thumbnail("sub/voron.gcode"); again != p {
		t.Errorf("second call %q", again)
	}
	if got, err := srv.App.Files.LocalFile(p); err != nil || got != p {
		t.Errorf("LocalFile(thumbnail) = %q, %v", got, err)
	}
	if _, err := srv.App.Files.LocalFile("/etc/passwd"); err == nil {
		t.Errorf("LocalFile accepted /etc/passwd")
	}
	os.WriteFile(filepath.Join(srv.Dir, "data", "gcodes", "plain.gcode"), []byte("G28\n"), 0o644)
	if p := srv.App.Files.Thumbnail("plain.gcode"); p != "" {
		t.Errorf("thumbnail of a file without one: %q", p)
	}
}
