package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// gcodeStream produces n bytes of G-code-like text without holding them.
type gcodeStream struct {
	left int64
	line []byte
	pos  int
	sum  hash.Hash
}

func (g *gcodeStream) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && g.left > 0 {
		c := copy(p[n:], g.line[g.pos:])
		if int64(c) > g.left {
			c = int(g.left)
		}
		g.pos = (g.pos + c) % len(g.line)
		n += c
		g.left -= int64(c)
	}
	g.sum.Write(p[:n])
	return n, nil
}

// vmHWM reads a process's peak resident set size in KiB.
func vmHWM(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("requires Linux /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestUpload500MBStreamed uploads 500 MB through the real binary and checks
// that its peak memory stays under 64 MB and the file arrives intact.
func TestUpload500MBStreamed(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: -short skips the 500 MB upload")
	}
	cmd, base, dataDir, logs := startBinary(t, "")
	const size = 500 << 20
	src := &gcodeStream{left: size, line: []byte("G1 X120.512 Y87.03 E0.04219 F1800\n"), sum: sha256.New()}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", "big.gcode")
		if err == nil {
			_, err = io.Copy(part, src)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	resp, err := http.Post(base+"/server/files/upload", mw.FormDataContentType(), pr)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Item struct{ Size int64 }
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 201 || body.Item.Size != size {
		t.Fatalf("upload: %d %+v; logs:\n%s", resp.StatusCode, body, logs)
	}
	peak := vmHWM(t, cmd.Process.Pid)
	t.Logf("peak RSS during a 500 MB upload: %.1f MiB", float64(peak)/1024)
	if peak > 64*1024 {
		t.Errorf("peak RSS %.1f MiB, want <= 64 MiB", float64(peak)/1024)
	}
	f, err := os.Open(filepath.Join(dataDir, "gcodes", "big.gcode"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	if hex.EncodeToString(h.Sum(nil)) != hex.EncodeToString(src.sum.Sum(nil)) {
		t.Errorf("stored file differs from what was sent")
	}
}
