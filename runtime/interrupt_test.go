package runtime

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// TestInstrumentLoops: every guest this repository builds is instrumented
// (so none runs with wazero's slow checks), and the rewrite is exact on a
// hand-made body whose immediates contain the loop opcode's byte.
func TestInstrumentLoops(t *testing.T) {
	files := []string{guestWasm(t, echoDir), guestWasm(t, hostileDir)}
	if d := os.Getenv("MOONRELAY_GUESTS"); d != "" {
		more, _ := filepath.Glob(filepath.Join(d, "*.wasm"))
		files = append(files, more...)
	}
	for _, f := range files {
		bin, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := instrumentLoops(bin)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if len(out) <= len(bin) {
			t.Errorf("%s: nothing inserted", filepath.Base(f))
		}
	}

	check := []byte{0x23, 0x05, 0x04, 0x40, 0x00, 0x0B}
	for _, tc := range []struct {
		name     string
		body     []byte // locals + instructions, ending in 0x0B
		want     []byte
		wantFail bool
	}{
		{"no loop", []byte{0x00, 0x41, 0x03, 0x1A, 0x0B}, []byte{0x00, 0x41, 0x03, 0x1A, 0x0B}, false},
		{"loop with i32 immediates of 0x03",
			[]byte{0x01, 0x02, 0x7F, 0x03, 0x40, 0x41, 0x03, 0x0D, 0x00, 0x0B, 0x0B},
			append(append([]byte{0x01, 0x02, 0x7F, 0x03, 0x40}, check...), 0x41, 0x03, 0x0D, 0x00, 0x0B, 0x0B), false},
		{"memarg and f64 bytes", []byte{0x00, 0x28, 0x03, 0x03, 0x44, 3, 3, 3, 3, 3, 3, 3, 3, 0x1A, 0x1A, 0x0B},
			[]byte{0x00, 0x28, 0x03, 0x03, 0x44, 3, 3, 3, 3, 3, 3, 3, 3, 0x1A, 0x1A, 0x0B}, false},
		{"nested loops", []byte{0x00, 0x03, 0x40, 0x03, 0x7F, 0x41, 0x00, 0x0B, 0x1A, 0x0B, 0x0B},
			append(append(append(append([]byte{0x00, 0x03, 0x40}, check...), 0x03, 0x7F), check...), 0x41, 0x00, 0x0B, 0x1A, 0x0B, 0x0B), false},
		{"SIMD is refused", []byte{0x00, 0xFD, 0x0C, 0x0B}, nil, true},
		{"truncated", []byte{0x00, 0x41}, nil, true},
	} {
		got, err := instrumentBody(tc.body, check)
		if tc.wantFail {
			if !errors.Is(err, errNotInstrumentable) {
				t.Errorf("%s: err = %v, want errNotInstrumentable", tc.name, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got % x, %v; want % x", tc.name, got, err, tc.want)
		}
	}
}

// TestLoopStoppedQuickly: an instrumented guest spinning in a loop is
// stopped right at its deadline, and the same engine serves the next call.
func TestLoopStoppedQuickly(t *testing.T) {
	e := newEngine(t, Options{}, map[string]string{"hostile": guestWasm(t, hostileDir)})
	ctx := context.Background()
	// Compile and warm the guest first: only the stop is timed.
	if _, err := e.Send(ctx, "hostile", sdk.SendRequest{URL: "hostile://leak", Body: "x"}, Call{Scope: "s"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		t0 := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := e.Send(cctx, "hostile", sdk.SendRequest{URL: "hostile://loop"}, Call{Scope: "s"})
		cancel()
		took := time.Since(t0)
		var ge *Error
		if !errors.As(err, &ge) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("loop: err = %v, want a deadline *Error", err)
		}
		if took > 2*time.Second {
			t.Fatalf("loop stopped after %v, deadline 200ms", took)
		}
		res, err := e.Send(ctx, "hostile", sdk.SendRequest{URL: "hostile://leak", Body: "x"}, Call{Scope: "s"})
		if err != nil || !res.OK {
			t.Fatalf("next call: %v %+v", err, res)
		}
	}
}
