package runtime

import (
	"context"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/tetratelabs/wazero"
)

// addWasm is a module exporting add(a, b i32) i32, which goes through a
// local, and boom(), which traps: a body with locals, and a trap whose
// stack trace wazero builds from the compiled module.
var addWasm = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	// types: (i32 i32) -> i32, () -> ()
	0x01, 0x0a, 0x02, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00,
	// functions: add, boom
	0x03, 0x03, 0x02, 0x00, 0x01,
	// exports: "add" func 0, "boom" func 1
	0x07, 0x0e, 0x02, 0x03, 'a', 'd', 'd', 0x00, 0x00, 0x04, 'b', 'o', 'o', 'm', 0x00, 0x01,
	// code
	0x0a, 0x13, 0x02,
	// add: 1 local i32; local.get 0; local.get 1; i32.add; local.set 2; local.get 2; end
	0x0d, 0x01, 0x01, 0x7f, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x21, 0x02, 0x20, 0x02, 0x0b,
	// boom: unreachable; end
	0x03, 0x00, 0x00, 0x0b,
}

// TestReleaseBodies: releasing a compiled module's wasm bodies frees what
// it reports (nothing the second time), and the module still instantiates,
// computes and traps with a stack trace, in fresh runtimes and in one
// sharing the compiled code. The echo guest releases over 1 MiB.
func TestReleaseBodies(t *testing.T) {
	ctx := context.Background()
	cache := wazero.NewCompilationCache()
	defer cache.Close(ctx)
	newRuntime := func() wazero.Runtime {
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(cache))
		t.Cleanup(func() { _ = r.Close(ctx) })
		return r
	}
	r := newRuntime()
	cm, err := r.CompileModule(ctx, addWasm)
	if err != nil {
		t.Fatal(err)
	}
	// add's body is 10 bytes after its local declarations, boom's 2.
	if n := releaseBodies(cm); n != 10+2 {
		t.Fatalf("released %d body bytes, want 12", n)
	}
	if n := releaseBodies(cm); n != 0 {
		t.Fatalf("second release freed %d bytes, want 0", n)
	}
	check := func(r wazero.Runtime, cm wazero.CompiledModule, name string) {
		t.Helper()
		mod, err := r.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName(name))
		if err != nil {
			t.Fatal(err)
		}
		res, err := mod.ExportedFunction("add").Call(ctx, 40, 2)
		if err != nil || len(res) != 1 || res[0] != 42 {
			t.Fatalf("add(40, 2) = %v, %v; want 42", res, err)
		}
		_, err = mod.ExportedFunction("boom").Call(ctx)
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("boom: %v; want an unreachable trap", err)
		}
	}
	check(r, cm, "a")
	check(r, cm, "b")
	// A second runtime on the same engine finds the compiled module.
	r2 := newRuntime()
	cm2, err := r2.CompileModule(ctx, addWasm)
	if err != nil {
		t.Fatal(err)
	}
	releaseBodies(cm2)
	check(r2, cm2, "c")

	t.Run("echo", func(t *testing.T) {
		file := guestWasm(t, echoDir)
		bin, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(ctx, Options{CacheDir: testCacheDir(t), Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close(ctx)
		_, cm, _, err := e.compileKeepBodies(ctx, file, bin, e.opts.Limits.Memory)
		if err != nil {
			t.Fatal(err)
		}
		defer cm.Close(ctx)
		if n := releaseBodies(cm); n < 1<<20 {
			t.Fatalf("echo released %d body bytes; want over 1 MiB (a changed wazero layout gives -1)", n)
		}
	})
}

// TestModuleCode: the machine code of a used guest's module is found
// through wazero's internals wherever wazero compiles (not only where code
// files are used), page-aligned and the size of a Go guest's code.
func TestModuleCode(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Options{IdleUnload: -1, KeepCodeAnonymous: true}, map[string]string{"echo": guestWasm(t, echoDir)})
	if _, err := e.Send(ctx, "echo", benchReq, Call{Scope: "s"}); err != nil {
		t.Fatal(err)
	}
	p := e.guests["echo"].pool
	p.mu.Lock()
	var inst *instance
	if len(p.idle) > 0 {
		inst = p.idle[0]
	} else {
		inst = p.fresh
	}
	p.mu.Unlock()
	if inst == nil {
		t.Fatal("no idle instance after a call")
	}
	if a := goruntime.GOARCH; a != "amd64" && a != "arm64" {
		t.Skip("wazero runs its interpreter on " + a + ": no machine code")
	}
	code := moduleCode(inst.mod)
	if len(code) < 1<<20 {
		t.Fatalf("moduleCode found %d bytes; want the MiBs of a Go guest (a changed wazero layout gives none)", len(code))
	}
	if addr := uintptr(unsafe.Pointer(&code[0])); addr%uintptr(os.Getpagesize()) != 0 {
		t.Fatalf("code at %#x is not page-aligned", addr)
	}
}
