package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

func TestEchoSend(t *testing.T) {
	var got struct {
		sync.Mutex
		body string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Lock()
		got.body = r.Method + " " + r.URL.Path + " " + string(b) + " " + r.Header.Get("User-Agent")
		got.Unlock()
		fmt.Fprint(w, "queued")
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	e := newEngine(t, Options{}, map[string]string{"echo": guestWasm(t, echoDir)})
	ctx := context.Background()

	tests := []struct {
		name string
		url  string
		call Call
		want string
	}{
		{"plain", "echo://x/", Call{Scope: "a"}, `{"title":"T","body":"B","notifier":"phone","event":"complete"}`},
		{"attachments", "echo://x/", Call{Scope: "a", Attachments: []Attachment{
			{Name: "a.txt", Data: []byte("alpha")},
			{Name: "b.txt", Reader: strings.NewReader("beta"), Size: 4},
		}}, `{"title":"T","body":"B","notifier":"phone","event":"complete","attachments":{"a.txt":"alpha","b.txt":"beta"}}`},
		{"kv first", "echo://x/?kv=k", Call{Scope: "a"}, `{"title":"T","body":"B","notifier":"phone","event":"complete"}`},
		{"kv second", "echo://x/?kv=k", Call{Scope: "a"}, `{"title":"T","body":"B","notifier":"phone","event":"complete","kv_previous":"B"}`},
		{"kv other scope", "echo://x/?kv=k", Call{Scope: "b"}, `{"title":"T","body":"B","notifier":"phone","event":"complete"}`},
		{"http to own loopback host", "echo://" + host + "/hook?http=yes", Call{Scope: "a"},
			`{"title":"T","body":"B","notifier":"phone","event":"complete","http_status":200,"http_body":"queued"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.Send(ctx, "echo", sdk.SendRequest{URL: tc.url, Title: "T", Body: "B", Notifier: "phone", Event: "complete"}, tc.call)
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || res.Status != sdk.StatusSent || res.Info != tc.want {
				t.Errorf("result = %+v, want sent with info %s", res, tc.want)
			}
		})
	}
	got.Lock()
	defer got.Unlock()
	if got.body != "POST /hook B moonrelay" {
		t.Errorf("server saw %q, want %q", got.body, "POST /hook B moonrelay")
	}
}

func TestValidateAndList(t *testing.T) {
	e := newEngine(t, Options{}, map[string]string{"echo": guestWasm(t, echoDir)})
	res, err := e.Validate(context.Background(), "echo", "echo://user:secret@example.com:8080/a/b?x=1")
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.RedactedURL != "echo://user:****@example.com:8080/a/b" || strings.Join(res.Hosts, ",") != "example.com" {
		t.Errorf("validate = %+v", res)
	}
	gs := e.Guests()
	if len(gs) != 1 || gs[0].Name != "echo" || gs[0].Kind != sdk.KindTransport || gs[0].Schemes[0] != "echo" || gs[0].Size == 0 {
		t.Errorf("guests = %+v", gs)
	}
	if g, ok := e.ForURL("echo://x"); !ok || g.Name != "echo" {
		t.Errorf("ForURL(echo://x) = %v, %v", g.Name, ok)
	}
	if _, ok := e.ForURL("ntfy://x"); ok {
		t.Errorf("ForURL(ntfy://x) found a guest")
	}
	_, err = e.Send(context.Background(), "nope", sdk.SendRequest{URL: "x://"}, Call{})
	if !errors.Is(err, ErrUnknownGuest) {
		t.Errorf("unknown guest: err = %v", err)
	}
}

// TestHostileGuests runs each misbehaving guest, expects its exact error,
// then shows the same engine serving normal calls, from the same guest too.
func TestHostileGuests(t *testing.T) {
	files := map[string]string{
		"echo":    guestWasm(t, echoDir),
		"hostile": guestWasm(t, hostileDir),
		"garbage": guestWasm(t, garbageDir),
	}
	var logs syncBuffer
	e := newEngine(t, Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		GuestLimits: map[string]Limits{
			"hostile": {CallTimeout: 5 * time.Second, Memory: 16 << 20},
		},
	}, files)
	dir := filepath.Dir(e.Guests()[0].File)
	hostileFile, garbageFile := filepath.Join(dir, "hostile.wasm"), filepath.Join(dir, "garbage.wasm")
	ctx := context.Background()

	tests := []struct {
		name, guest, url string
		wantErr          string // exact error, "" when a result is expected
		wantResult       string // the result's error
		deadline         bool
	}{
		{name: "infinite loop", guest: "hostile", url: "hostile://loop",
			wantErr: hostileFile + ": mr_send: did not finish within 5s; module closed", deadline: true},
		{name: "sleep past deadline", guest: "hostile", url: "hostile://sleep",
			wantErr: hostileFile + ": mr_send: did not finish within 5s; module closed", deadline: true},
		{name: "memory bomb", guest: "hostile", url: "hostile://membomb",
			wantErr: hostileFile + ": mr_send: ran out of memory (limit 16 MiB)"},
		{name: "host not allowed", guest: "hostile", url: "hostile://forbidden",
			wantErr: hostileFile + ": mr_send: policy violation: GET http://evil.example/steal: host evil.example is not allowed (allowed: none)"},
		{name: "open a file", guest: "hostile", url: "hostile://openfile",
			wantResult: "open /etc/passwd: Bad file number"},
		{name: "panic", guest: "hostile", url: "hostile://panic",
			wantErr: hostileFile + ": mr_send: panicked: panic: boom"},
		{name: "oversized result", guest: "hostile", url: "hostile://bigresult",
			wantErr: hostileFile + ": mr_send: result of 2097189 bytes is over the 1048576-byte limit"},
		{name: "garbage output", guest: "garbage", url: "garbage://x",
			wantErr: garbageFile + `: mr_send: result is not valid JSON: "\x00\xffthis is {not json"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.Send(ctx, tc.guest, sdk.SendRequest{URL: tc.url, Body: "b"}, Call{Scope: "s"})
			if tc.wantErr != "" {
				var ge *Error
				if !errors.As(err, &ge) || ge.Error() != tc.wantErr {
					t.Fatalf("err = %v\nwant %s", err, tc.wantErr)
				}
				if errors.Is(err, context.DeadlineExceeded) != tc.deadline {
					t.Errorf("errors.Is(err, DeadlineExceeded) = %v, want %v", !tc.deadline, tc.deadline)
				}
			} else if err != nil || res.OK || res.Error != tc.wantResult {
				t.Fatalf("result = %+v, %v; want failed with %q", res, err, tc.wantResult)
			}
			// The same engine, and the same guest, still serve normal calls.
			res, err = e.Send(ctx, "echo", sdk.SendRequest{URL: "echo://x", Body: "after"}, Call{Scope: "s"})
			if err != nil || !res.OK || !strings.Contains(res.Info, `"body":"after"`) {
				t.Fatalf("echo after %s: %+v, %v", tc.name, res, err)
			}
			res, err = e.Send(ctx, "hostile", sdk.SendRequest{URL: "hostile://leak", Body: "after"}, Call{Scope: tc.name})
			if err != nil || !res.OK {
				t.Fatalf("hostile after %s: %+v, %v", tc.name, res, err)
			}
		})
	}
	if !strings.Contains(logs.String(), "panic: boom") {
		t.Errorf("the panic was not logged:\n%s", logs.String())
	}
}

// TestLoadErrors expects the exact start-up error of each bad guest, and
// that good guests in the same directory still load.
func TestLoadErrors(t *testing.T) {
	garbage := guestWasm(t, garbageDir)
	renamed := patchedCopy(t, garbage, `"name":"garbage"`, `"name":"garbagf"`)
	tests := []struct {
		name  string
		files map[string]string
		want  []string // error lines, file names relative to the directory
	}{
		{"wrong ABI version", map[string]string{"badabi": guestWasm(t, "runtime/testdata/badabi")},
			[]string{"badabi.wasm: guest ABI version 2, this host speaks 1; rebuild it with this release's guests/sdk"}},
		{"wrong export signature", map[string]string{"badsig": guestWasm(t, "runtime/testdata/badsig")},
			[]string{"badsig.wasm: export mr_send is (i32) -> i64, want (i32, i32) -> i64"}},
		{"trap in _initialize", map[string]string{"initpanic": guestWasm(t, "runtime/testdata/initpanic")},
			[]string{"initpanic.wasm: _initialize: panicked: panic: sdk: nil handler"}},
		{"duplicate name", map[string]string{"a": garbage, "b": garbage},
			[]string{`b.wasm: guest name "garbage" is already used by a.wasm`}},
		{"scheme claimed twice", map[string]string{"a": garbage, "b": renamed},
			[]string{`b.wasm: URL scheme "garbage" is already claimed by a.wasm (guest "garbage")`}},
		{"not wasm", map[string]string{"junk": writeTemp(t, "junk")},
			[]string{"junk.wasm: compile: invalid magic number"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e, err := New(ctx, Options{CacheDir: testCacheDir(t), Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close(ctx)
			tc.files["echo"] = guestWasm(t, echoDir)
			dir := guestDir(t, tc.files)
			err = e.LoadDir(ctx, dir)
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			}
			if want := strings.Join(tc.want, "\n"); got != want {
				t.Errorf("LoadDir error:\n%s\nwant:\n%s", got, want)
			}
			if _, ok := e.Guest("echo"); !ok {
				t.Errorf("echo was not loaded beside the bad guest")
			}
		})
	}
}

// TestLeakBetweenScopes: a guest that keeps every request in a global never
// shows one notifier's data to another, also under concurrency.
func TestLeakBetweenScopes(t *testing.T) {
	e := newEngine(t, Options{}, map[string]string{"hostile": guestWasm(t, hostileDir)})
	ctx := context.Background()
	// The hostile guest keeps every request in a global and reports what
	// it kept from earlier calls: after the reset, nothing, ever.
	send := func(scope, secret string) string {
		res, err := e.Send(ctx, "hostile", sdk.SendRequest{URL: "hostile://leak?token=" + secret, Body: secret}, Call{Scope: scope})
		if err != nil {
			t.Error(err)
			return ""
		}
		return res.Info
	}
	for i, c := range []struct{ scope, secret string }{
		{"notifier.a", "secretA"}, {"notifier.b", "secretB"}, {"notifier.a", "secretA"}, {"notifier.a", "secretC"},
	} {
		if got := send(c.scope, c.secret); got != "" {
			t.Fatalf("call %d (%s) saw earlier data: %q", i, c.scope, got)
		}
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			scope, secret := "notifier.a", "secretA"
			if i%2 == 1 {
				scope, secret = "notifier.b", "secretB"
			}
			if got := send(scope, secret); got != "" {
				t.Errorf("%s saw %q", scope, got)
			}
		})
	}
	wg.Wait()
}

// TestGrownMemoryCleared: memory a call grows stays with the instance
// (wasm memories cannot shrink), so the restore must clear it: a secret
// written there by one notifier's call reads as zero in the next call.
func TestGrownMemoryCleared(t *testing.T) {
	e := newEngine(t, Options{GuestLimits: map[string]Limits{"hostile": {MaxInstances: 1}}},
		map[string]string{"hostile": guestWasm(t, hostileDir)})
	ctx := context.Background()
	for round := range 3 {
		res, err := e.Send(ctx, "hostile", sdk.SendRequest{URL: "hostile://grow"}, Call{Scope: "notifier.a"})
		if err != nil {
			t.Fatal(err)
		}
		addr := res.Info
		for range 2 {
			res, err = e.Send(ctx, "hostile", sdk.SendRequest{URL: "hostile://peek?addr=" + addr}, Call{Scope: "notifier.b"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Info != "\x00\x00\x00\x00\x00\x00\x00\x00" {
				t.Fatalf("round %d: memory at %s grown by another call reads %q, want zeros", round, addr, res.Info)
			}
		}
	}
}

// TestCompilationCache: a second engine on the same cache dir compiles
// nothing (no new cache file) and starts several times faster.
func TestCompilationCache(t *testing.T) {
	files := map[string]string{"garbage": guestWasm(t, garbageDir)}
	dir := guestDir(t, files)
	cacheDir := t.TempDir()
	start := func() (time.Duration, []string) {
		ctx := context.Background()
		t0 := time.Now()
		e, err := New(ctx, Options{CacheDir: cacheDir, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.LoadDir(ctx, dir); err != nil {
			t.Fatal(err)
		}
		if err := e.Warm(ctx); err != nil {
			t.Fatal(err)
		}
		d := time.Since(t0)
		if err := e.Close(ctx); err != nil {
			t.Fatal(err)
		}
		return d, listFiles(t, cacheDir)
	}
	cold, coldFiles := start()
	warm, warmFiles := start()
	t.Logf("cold start %v, warm start %v (%.1fx)", cold, warm, float64(cold)/float64(warm))
	if strings.Join(coldFiles, "\n") != strings.Join(warmFiles, "\n") {
		t.Errorf("second start changed the cache:\n%v\nthen\n%v", coldFiles, warmFiles)
	}
	if warm*3 > cold {
		t.Errorf("warm start %v is not 3x faster than cold start %v", warm, cold)
	}
}

func listFiles(t *testing.T, dir string) []string {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func patchedCopy(t *testing.T, src, old, new string) string {
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), old) != 1 || len(old) != len(new) {
		t.Fatalf("cannot patch %q in %s", old, src)
	}
	return writeTemp(t, strings.Replace(string(b), old, new, 1))
}

func writeTemp(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "guest.wasm")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// syncBuffer is a bytes.Buffer safe for a logger and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestIdleUnload: a guest unused for IdleUnload loses its compiled module
// and instances and serves the next call as before; a guest in a call is
// never unloaded.
func TestIdleUnload(t *testing.T) {
	e := newEngine(t, Options{IdleUnload: 30 * time.Millisecond},
		map[string]string{"echo": guestWasm(t, echoDir), "hostile": guestWasm(t, hostileDir)})
	ctx := context.Background()
	loaded := func(name string) bool {
		p := e.guests[name].pool
		p.compileMu.Lock()
		defer p.compileMu.Unlock()
		return p.cm != nil
	}
	waitUnloaded := func(name string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for loaded(name) {
			if time.Now().After(deadline) {
				t.Fatalf("%s still loaded after 5 s idle", name)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for round := range 3 {
		res, err := e.Send(ctx, "echo", benchReq, Call{Scope: "s"})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !strings.Contains(res.Info, benchReq.Body) {
			t.Fatalf("round %d: echo answered %q", round, res.Info)
		}
		if !loaded("echo") {
			t.Fatal("echo not loaded right after a call")
		}
		waitUnloaded("echo")
	}
	// A call running for 10× IdleUnload keeps its guest loaded.
	done := make(chan struct{})
	go func() {
		defer close(done)
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, _ = e.Send(cctx, "hostile", sdk.SendRequest{URL: "hostile://sleep"}, Call{Scope: "s"})
	}()
	for deadline := time.Now().Add(2 * time.Second); !loaded("hostile"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("hostile never loaded")
		}
	}
	for i := 0; i < 20; i++ {
		if !loaded("hostile") {
			t.Fatal("hostile unloaded while a call was running")
		}
		time.Sleep(10 * time.Millisecond)
	}
	<-done
	waitUnloaded("hostile")
}
