package runtime

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// TestStripData: a Go guest's data segments are moved out, and writing
// them into the stripped module's memory gives exactly the memory wazero
// builds from the original module.
func TestStripData(t *testing.T) {
	bin, err := os.ReadFile(guestWasm(t, echoDir))
	if err != nil {
		t.Fatal(err)
	}
	stripped, segs, ok := stripData(bin)
	if !ok || len(segs) == 0 || len(stripped) >= len(bin) {
		t.Fatalf("echo not stripped: ok=%v, %d segments", ok, len(segs))
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	if err := instantiateHostModule(ctx, r, newEngine(t, Options{}, nil)); err != nil {
		t.Fatal(err)
	}
	memoryOf := func(b []byte, segs []dataSegment) []byte {
		t.Helper()
		m, err := r.InstantiateWithConfig(ctx, b, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(ctx)
		for _, s := range segs {
			if !m.Memory().Write(s.off, s.data) {
				t.Fatalf("segment at %#x does not fit", s.off)
			}
		}
		out, _ := m.Memory().Read(0, m.Memory().Size())
		return bytes.Clone(out)
	}
	want := memoryOf(bin, nil)
	if got := memoryOf(stripped, segs); !bytes.Equal(got, want) {
		t.Fatal("memory from the stripped module and its segments differs from the original's")
	}
	// Modules it must leave alone.
	for name, b := range map[string][]byte{
		"not wasm":   []byte("nope"),
		"data count": append(append([]byte(nil), bin[:8]...), 12, 1, 0),
	} {
		if _, _, ok := stripData(b); ok {
			t.Errorf("%s: stripped", name)
		}
	}
	if _, err := parseDataSection([]byte{1, 1, 0x41, 0, 0x0B, 0}); err == nil {
		t.Error("passive segment accepted")
	}
}
